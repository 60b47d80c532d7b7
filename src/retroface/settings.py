"""One settings object for every number that matters.

Values come from defaults, overridden by ``RETROFACE_*`` environment
variables. Whatever a search used (threshold, caps, model) is recorded with
the search, so a result can be reproduced after the settings change.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from retroface.errors import InvalidInputError

#: Cosine similarity a candidate must reach. Measured on LFW with the default
#: engine (bench/lfw_verify.py: 5- and 68-point chips, 10 jitters each): the
#: accuracy-optimal 10-fold thresholds are 0.916, and 0.925 lets through 0.1% of
#: the 3,000 different-person pairs (97.6% of same-person pairs pass). 1:N search
#: meets more impostors than 1:1, so the default sits above the 0.1% point.
DEFAULT_THRESHOLD = 0.93


def _env_alignments(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """``5``, ``68``, ``5,68`` or ``5+68``: the first gives each face's landmarks."""
    raw = os.environ.get(name)
    if not raw:
        return default
    parts = [p.strip() for p in raw.replace("+", ",").split(",") if p.strip()]
    if not parts or any(p not in ("5", "68") for p in parts) or len(set(parts)) != len(parts):
        raise InvalidInputError(f"{name} must be 5, 68 or 5,68 (got {raw!r})")
    return tuple(int(p) for p in parts)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be a number, got {raw!r}") from exc


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


@dataclass(frozen=True)
class Settings:
    """Deployment settings; units are in the names."""

    home: Path = field(default_factory=lambda: Path("retroface-data"))
    database_url: str | None = None
    actor: str = field(default_factory=_default_actor)
    # media limits
    max_file_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 100_000_000
    # the engine's backends (registries in faces/engine.py; `retroface models` lists them)
    #: hog, cnn, cnn-onnx or cascade.
    detector: str = "cascade"
    #: dlib, onnx (dlib's weights in ONNX Runtime) or onnx:PATH (an ArcFace-style model file).
    embedder: str = "onnx"
    # detection
    min_face_px: int = 40
    max_detect_pixels: int = 9_000_000
    #: Jittered copies averaged per face template (1 = off); see faces/jitter.py.
    jitters: int = 10
    #: Landmark alignments (5 and/or 68 points) whose chips are averaged per template;
    #: "5" halves the template work for about 0.14 points of LFW accuracy.
    alignments: tuple[int, ...] = (5, 68)
    # search
    threshold: float = DEFAULT_THRESHOLD
    max_candidates: int = 10
    # governance
    #: Active subjects a gallery may hold unless a supervisor sets its own cap.
    gallery_max_subjects: int = 100_000
    #: Galleries up to this many templates are searched exactly; larger ones by a tuned IVF
    #: index (recall@10 >= 0.99 against exact; see index/index_choice.py).
    index_exact_max: int = 200_000
    #: Days a reversibly removed watchlist entry waits before retention deletes it.
    removal_grace_days: int = 30
    #: Failed log-ins under one name within ``login_lockout_s`` that lock the name for
    #: ``login_lockout_s`` after the last of them (guessing a password then takes years).
    login_max_failures: int = 5
    login_lockout_s: float = 900.0
    #: Failed log-ins from one client address within ``login_lockout_s`` after which the
    #: server refuses that address for the rest of the window (many officers may share one).
    login_max_failures_per_address: int = 50
    # video
    #: Which frames of footage are analysed: all, keyframes, every:N or fps:N.
    video_sampling: str = "fps:5"
    #: Detector for footage full-frame scans (once a second and after cuts; regions around
    #: live tracks in between): HOG, then the ONNX MMOD CNN where HOG finds nobody, so
    #: turned and small faces are not lost.
    video_detector: str = "cascade"
    #: Smallest face (px) a footage full-frame scan looks for. Full scans are most of the
    #: cost of footage, and it grows with (80 / this)^2: 40 px costs 2.5x what 64 px does.
    video_min_face_px: int = 56
    #: Seconds of footage per unit of parallel, resumable work.
    video_segment_s: float = 60.0
    # live recognition
    #: Most active subjects a live watchlist may hold (a live camera meets everyone who
    #: passes: the list is kept short and specific, unlike an investigative gallery).
    live_watchlist_max_subjects: int = 10_000
    #: Days an alert (its face crop and adjudication) is kept; non-alert faces are never kept.
    live_alert_retention_days: int = 31
    #: Seconds during which further frames of the same person join an alert, not a new one.
    live_alert_cooldown_s: float = 10.0
    # parallelism
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # encryption at rest (store/data_protection.py): the key-encryption key, from outside the
    # data directory. Never logged: the master key is left out of the repr.
    #: A file holding 32 random bytes (raw or base64), e.g. from 'retroface keys generate'.
    key_file: Path | None = None
    #: The same key as base64 text, for deployments that inject secrets as variables.
    master_key: str | None = field(default=None, repr=False)

    @property
    def sqlite_path(self) -> Path:
        return self.home / "retroface.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls) -> Settings:
        """Read overrides from the environment; unset values keep the defaults."""
        base = cls()
        home = Path(os.environ.get("RETROFACE_HOME") or base.home)
        return cls(
            home=home,
            database_url=os.environ.get("RETROFACE_DATABASE_URL") or None,
            actor=os.environ.get("RETROFACE_ACTOR") or base.actor,
            max_file_bytes=_env_int("RETROFACE_MAX_FILE_BYTES", base.max_file_bytes),
            max_image_pixels=_env_int("RETROFACE_MAX_IMAGE_PIXELS", base.max_image_pixels),
            detector=os.environ.get("RETROFACE_DETECTOR") or base.detector,
            embedder=os.environ.get("RETROFACE_EMBEDDER") or base.embedder,
            min_face_px=_env_int("RETROFACE_MIN_FACE_PX", base.min_face_px),
            max_detect_pixels=_env_int("RETROFACE_MAX_DETECT_PIXELS", base.max_detect_pixels),
            jitters=_env_int("RETROFACE_JITTERS", base.jitters),
            alignments=_env_alignments("RETROFACE_ALIGNMENTS", base.alignments),
            threshold=_env_float("RETROFACE_THRESHOLD", base.threshold),
            max_candidates=_env_int("RETROFACE_MAX_CANDIDATES", base.max_candidates),
            index_exact_max=_env_int("RETROFACE_INDEX_EXACT_MAX", base.index_exact_max),
            gallery_max_subjects=_env_int(
                "RETROFACE_GALLERY_MAX_SUBJECTS", base.gallery_max_subjects
            ),
            removal_grace_days=_env_int("RETROFACE_REMOVAL_GRACE_DAYS", base.removal_grace_days),
            login_max_failures=_env_int("RETROFACE_LOGIN_MAX_FAILURES", base.login_max_failures),
            login_lockout_s=_env_float("RETROFACE_LOGIN_LOCKOUT_S", base.login_lockout_s),
            login_max_failures_per_address=_env_int(
                "RETROFACE_LOGIN_MAX_FAILURES_PER_ADDRESS", base.login_max_failures_per_address
            ),
            video_sampling=os.environ.get("RETROFACE_VIDEO_SAMPLING") or base.video_sampling,
            video_detector=os.environ.get("RETROFACE_VIDEO_DETECTOR") or base.video_detector,
            video_min_face_px=_env_int("RETROFACE_VIDEO_MIN_FACE_PX", base.video_min_face_px),
            video_segment_s=_env_float("RETROFACE_VIDEO_SEGMENT_S", base.video_segment_s),
            live_watchlist_max_subjects=_env_int(
                "RETROFACE_LIVE_WATCHLIST_MAX_SUBJECTS", base.live_watchlist_max_subjects
            ),
            live_alert_retention_days=_env_int(
                "RETROFACE_LIVE_ALERT_RETENTION_DAYS", base.live_alert_retention_days
            ),
            live_alert_cooldown_s=_env_float(
                "RETROFACE_LIVE_ALERT_COOLDOWN_S", base.live_alert_cooldown_s
            ),
            workers=_env_int("RETROFACE_WORKERS", base.workers),
            key_file=Path(os.environ["RETROFACE_KEY_FILE"])
            if os.environ.get("RETROFACE_KEY_FILE")
            else None,
            master_key=os.environ.get("RETROFACE_MASTER_KEY") or None,
        )
