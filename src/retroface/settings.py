"""One settings object for every number that matters.

Values come from defaults, overridden by ``RETROFACE_*`` environment
variables. Whatever a search used (threshold, caps, model) is recorded with
the search, so a result can be reproduced after the settings change.

``Settings()`` never reads the environment, only :meth:`Settings.from_env`
does: tests and library callers build settings that a stray variable on the
machine must not change.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from retroface.errors import InvalidInputError

# DEFAULT_THRESHOLD lives beside the engine it was measured with, so the library functions
# (faces/public.py) and a deployment share one value; services still import it from here.
from retroface.faces.engine_spec import DEFAULT_THRESHOLD, EngineSpec

ENV_PREFIX = "RETROFACE_"

#: The engine DEFAULT_THRESHOLD was measured with: EngineSpec holds its defaults, so a library
#: caller building an EngineSpec() and a deployment get the same templates.
_ENGINE = EngineSpec()

#: What an environment value failing each pydantic check must be, in the words of a person.
_EXPECTED = {
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "int_type": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
}


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _default_workers() -> int:
    return os.cpu_count() or 1


class Settings(BaseSettings):
    """Deployment settings; units are in the names."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        # An empty variable means unset (as `VAR= retroface ...` in a shell script intends).
        env_ignore_empty=True,
        frozen=True,
        extra="forbid",
    )

    home: Path = Path("retroface-data")
    database_url: str | None = None
    actor: str = Field(default_factory=_default_actor)
    # media limits
    max_file_bytes: int = 200 * 1024 * 1024
    max_image_pixels: int = 100_000_000
    # the engine's backends (registries in faces/engine_spec.py; `retroface models` lists them)
    #: The whole engine as one description string (faces/engine_description.py), e.g.
    #: "cascade|onnx|min40|maxpx9000000|align5+68|jit2m"; when set it replaces the seven
    #: fields below, so a recorded search's engine can be rerun exactly.
    engine: str | None = None
    #: hog, cnn, cnn-onnx, cascade, coarse-cascade (the default: cascade, looking without
    #: upsampling first on pictures up to VGA) or blazeface.
    detector: str = _ENGINE.detector
    #: dlib, onnx (dlib's weights in ONNX Runtime), onnx8 (the same in int8, the default) or
    #: onnx:PATH (an ArcFace-style model file).
    embedder: str = _ENGINE.embedder
    # detection
    min_face_px: int = _ENGINE.min_face_px
    max_detect_pixels: int = _ENGINE.max_detect_pixels
    #: Jittered copies averaged per face template (1 = off); see faces/jitter.py.
    jitters: int = _ENGINE.jitters
    #: Also embed each chip's mirror image (faces/engine_spec.py: the measured default).
    mirror: bool = _ENGINE.mirror
    #: Landmark alignments (5 and/or 68 points) whose chips are averaged per template;
    #: "5" halves the template work for about 0.14 points of LFW accuracy. NoDecode: the
    #: variable is "5", "68", "5,68" or "5+68", not the JSON list pydantic-settings expects.
    alignments: Annotated[tuple[int, ...], NoDecode] = _ENGINE.alignments
    # search
    #: The lowest raw cosine score any candidate may have (the admin's floor, covered by a
    #: calibration). Each search's own bar is usually higher: see target_fpir.
    threshold: float = DEFAULT_THRESHOLD
    max_candidates: int = 10
    #: Share of searches for people who are not enrolled that may return any candidate
    #: (FPIR). Each search's bar is derived from it, the probe and the gallery's current size
    #: (faces/open_set.py), so the rate holds whether the gallery holds 100 or 1,000,000.
    target_fpir: float = Field(default=0.01, gt=0.0, lt=1.0)
    #: A probe face whose calibrated matchability (the chance that a mated search of it
    #: succeeds; faces/matchability.py) is below this is "too poor to search reliably": it
    #: is not searched unless the operator records a justification.
    probe_quality_floor: float = Field(default=0.2, ge=0.0, le=1.0)
    #: A reference image below this matchability is refused at enrolment (the College of
    #: Policing APP's "of appropriate quality") unless a supervisor records an override.
    reference_quality_floor: float = Field(default=0.2, ge=0.0, le=1.0)
    # governance
    #: Longest authorisation a supervisor may give; a case needing more is authorised again.
    authorisation_max_days: int = 90
    #: How far in the past an authorisation's start may lie (clocks disagree a little).
    clock_skew_s: float = 300.0
    #: A reviewer's face-comparison training counts for this many days (refresher period).
    reviewer_training_valid_days: int = 3 * 365
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
    #: Days a password lasts before log-in is refused until an admin resets it (None: never
    #: expires; NIST SP 800-63B advises against routine expiry, a force's policy may not).
    password_max_age_days: int | None = None
    # video
    #: Which frames of footage are analysed: all, keyframes, every:N or fps:N.
    video_sampling: str = "fps:5"
    #: Detector for footage full-frame scans (once a second and after cuts; regions around
    #: live tracks in between) and live recognition: MediaPipe's BlazeFace on a pyramid of
    #: windows, then dlib's HOG where it finds nobody (faces/blazeface.py). On the 1080p
    #: crowd loop (bench/video.py, quiet 2 cores) 5.55x real time against 2.22x for
    #: "cascade" (HOG, then the ONNX MMOD CNN where HOG finds nobody) in the same run, at the
    #: same track recall (1.000).
    video_detector: str = "blazeface"
    #: Embedder for footage faces (the tracker's same-person tests and sighting templates).
    #: None: the stills' embedder, in float where the stills use the int8 ResNet ("onnx8"
    #: -> "onnx", the same model space): the tracker's similarity thresholds were set with
    #: the float model, and the int8 one split a crowd-clip track the float one keeps whole.
    video_embedder: str | None = None
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
    # HTTP server (retroface serve)
    #: Serve the interactive API documentation page (Swagger UI, loaded from a CDN) at
    #: /api/v1/docs, to logged-in users only. Off: the page does not exist.
    api_docs: bool = False
    #: Client addresses (or networks, comma-separated; "*" for any) of reverse proxies
    #: whose X-Forwarded-For / X-Forwarded-Proto headers are believed. Empty: none are, and
    #: the client address is the TCP peer's (what the log-in throttle counts).
    forwarded_allow_ips: str = ""
    # parallelism
    workers: int = Field(default_factory=_default_workers)
    # encryption at rest (store/data_protection.py): the key-encryption key, from outside the
    # data directory. Never logged: the master key is left out of the repr.
    #: A file holding 32 random bytes (raw or base64), e.g. from 'retroface keys generate'.
    key_file: Path | None = None
    #: The same key as base64 text, for deployments that inject secrets as variables.
    master_key: str | None = Field(default=None, repr=False)
    # audit checkpoints (governance/audit_checkpoint.py): the chain head signed from outside
    # the data directory, so deleting or re-chaining the log is detected.
    #: The Ed25519 signing key (PEM, 'retroface audit checkpoint-key generate'); outside the
    #: data directory. Unset: no checkpoint is written and the chain is reported unanchored.
    checkpoint_key_file: Path | None = None
    #: The append-only JSON-lines checkpoint file; outside the data directory. Default:
    #: beside the key file, named after it (KEY.checkpoints.jsonl).
    checkpoint_file: Path | None = None
    #: The public key (base64, as 'checkpoint-key generate' prints it) that checks
    #: checkpoints where the private key is not held (an auditor's machine).
    checkpoint_public_key: str | None = None
    #: Seconds between the checkpoints a running server writes (0: only at shutdown).
    checkpoint_interval_s: float = 300.0
    #: An http(s) URL each checkpoint is also POSTed to as JSON (another system's copy).
    checkpoint_webhook: str | None = None

    @field_validator("alignments", mode="before")
    @classmethod
    def _alignments_text(cls, value: Any) -> Any:
        """``5``, ``68``, ``5,68`` or ``5+68`` (the last as engine descriptions write it)."""
        if not isinstance(value, str):
            return value
        parts = [p.strip() for p in value.replace("+", ",").split(",") if p.strip()]
        if not parts or any(p not in ("5", "68") for p in parts) or len(set(parts)) != len(parts):
            raise ValueError("must be 5, 68, 5,68 or 5+68")
        return tuple(int(p) for p in parts)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: the environment is read by :meth:`from_env` alone."""
        return (init_settings,)

    @property
    def sqlite_path(self) -> Path:
        return self.home / "retroface.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def checkpoint_path(self) -> Path | None:
        """The checkpoint file: as set, or beside the key file (None when neither is set)."""
        if self.checkpoint_file is not None:
            return self.checkpoint_file
        if self.checkpoint_key_file is not None:
            key = self.checkpoint_key_file
            return key.with_name(f"{key.stem}.checkpoints.jsonl")
        return None

    def with_(self, **changes: object) -> Settings:
        """A copy with ``changes``, validated as the constructor validates (model_copy is not)."""
        return type(self)(**{**self._values(), **changes})

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}

    @classmethod
    def from_env(cls) -> Settings:
        """Read overrides from the environment; unset or empty variables keep the defaults.

        A bad value is the user's to fix: one line naming the variable, never a
        pydantic traceback.
        """
        try:
            return cls(**EnvSettingsSource(cls)())
        except ValidationError as exc:
            raise InvalidInputError(
                "; ".join(_explained(error) for error in exc.errors())
            ) from None
        except SettingsError as exc:
            raise InvalidInputError(str(exc)) from None


def _explained(error: ErrorDetails) -> str:
    """``RETROFACE_WORKERS must be an integer, got 'x'``, from one validation error."""
    field = str(error["loc"][0]) if error["loc"] else ""
    name = f"{ENV_PREFIX}{field.upper()}"
    got = error.get("input")
    if error["type"] in _EXPECTED:
        return f"{name} must be {_EXPECTED[error['type']]}, got {got!r}"
    if error["type"] == "value_error":
        return f"{name} {error.get('ctx', {}).get('error')}, got {got!r}"
    return f"{name}: {error['msg']}, got {got!r}"
