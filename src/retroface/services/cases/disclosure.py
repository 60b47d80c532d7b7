"""The disclosure pack: one zip with what the defence, a court or an oversight body is given.

Inside (names fixed, so a reader's tools find them):

* ``case-report.pdf`` and ``case-report.html``: the case report, written afresh
  (``services/cases/report.py``; audited as ``report.case_written``);
* ``evidence-hashes.csv``: every evidence file searched under the case, as
  recorded when it was searched: ``file,sha256,size,source_type,supplied_by`` (where it
  came from and who supplied it: governance/probe_sources.py; ``not recorded`` before
  source types were);
* ``audit-extract.jsonl``: the case's audit events, signed as the auditor's
  export is (``governance/audit_export.py``: JSON lines and an HMAC-SHA256
  signature line; ``retroface audit check-export`` checks it);
* ``evidence/*.png``: each evidence image (each video frame) that holds a
  candidate's probe face, with every other face in it blurred beyond
  recognition: the faces the search stored and the faces found there again now,
  by the search's detector and by a stronger one for small faces (a search of
  one chosen face stores no other). The probe faces are left exactly as they
  are, lossless;
* ``manifest.csv``: ``file,sha256,size,source`` of every other file in the zip
  (``source``: the evidence file a redacted image was cut from), and
  ``README.txt``.

Why the other faces are blurred: the people who happened to be in the
evidence are not part of the lead, and disclosing their faces would be
processing their biometric data for nothing (UK GDPR / DPA 2018 s.35-40,
data minimisation). Why the images are in the pack at all: the reader sees
the probe in its setting, which a crop cannot show.

The pack holds faces, so it is written like the report: inside the data
directory (``exports/case-reports/``, sealed where the directory is
encrypted), named by time and a random id, audited with its SHA-256. A
plaintext copy goes elsewhere only to a path the person names (``out``),
and that too is in the audit event.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import re
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter
from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import InvalidInputError, MediaError
from retroface.faces.detector import Detector
from retroface.faces.face_choice import overlap
from retroface.faces.types import Box
from retroface.governance.audit_export import MIN_KEY_BYTES, write_signed_export
from retroface.governance.output_files import check_output_file
from retroface.governance.roles import Action
from retroface.media import load_image
from retroface.media.csv_sheets import SafeCsvWriter
from retroface.media.enhancement import replay
from retroface.media.evidence_hash import sha256_file
from retroface.media.video_reader import SamplingPolicy, iter_frames
from retroface.services.app import App
from retroface.services.biometrics.sealed_files import read_protected_file, write_protected_file
from retroface.services.biometrics.uploaded_files import readable_upload
from retroface.services.cases.report import case_report
from retroface.services.results import LEAD_NOTICE
from retroface.store.models import AuditEvent, Candidate, Face, MediaItem, Search
from retroface.store.unit_of_work import UnitOfWork

#: Where packs are written: beside the case reports, so they are sealed, decrypted
#: (``retroface keys decrypt``), re-encrypted on key rotation and backed up as reports are.
PACK_FOLDER = "exports/case-reports"
#: Each blurred face's box is widened by this share of its side on every side (ears, chin),
#: and upwards by :data:`BLUR_MARGIN_TOP` (a detector's box stops at the brows: hair, forehead).
BLUR_MARGIN = 0.25
BLUR_MARGIN_TOP = 0.5
#: A blurred face is shrunk to this many cells across before it is smoothed back up:
#: nothing of the face survives, whatever is done to the image afterwards.
BLUR_CELLS = 6
#: The bystander detector (besides the search's own): dlib's CNN on the image enlarged this
#: much (faces down to about 25 pixels), at this score (dlib's own threshold is 0).
BYSTANDER_SCALE = 2.4
BYSTANDER_THRESHOLD = -0.3
#: A detection overlapping a probe face this much (intersection over union) is that face.
SAME_FACE_IOU = 0.3
#: Video faces within this many seconds of a frame's time belong to that frame.
_SAME_FRAME_S = 0.02
_TEXT_SUFFIXES = (".csv", ".jsonl", ".txt", ".html")


class DisclosurePack(BaseModel):
    """Where the pack is, what it holds, and the SHA-256 its audit event records."""

    path: str
    #: The plaintext copy the person asked for, outside the data directory (else None).
    out: str | None = None
    sha256: str
    size: int
    candidates: int
    evidence_files: int
    redacted_images: int
    faces_blurred: int
    audit_events: int
    audit_head: str
    #: Evidence images or frames that could not be read (gone, changed since the search).
    missing: list[str] = []


@dataclass(frozen=True)
class _Still:
    """One evidence image (or video frame) that holds at least one probe face."""

    media_id: int
    name: str
    source: Path
    sha256: str
    time_s: float | None
    probes: tuple[Box, ...]
    others: tuple[Box, ...]
    #: An image searched after enhancement: the recorded steps (boxes are in the enhanced
    #: image, so the pack shows it as searched, re-created from the original).
    enhancement: dict[str, Any] | None = None


def disclosure_pack(
    app: App, reference: str, key: bytes, *, out: Path | None = None, force: bool = False
) -> DisclosurePack:
    """Write the case's disclosure pack inside the data directory (and, with ``out``, a
    plaintext copy there: outside the data directory, an existing file only with ``force``).

    ``key``: the installation's audit signing key (``load_signing_key``), which signs the
    audit extract. Role and need to know as for the case report (``report.case``).
    """
    app.require(Action.REPORT_CASE, case_reference=reference)
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInputError(f"the signing key must be at least {MIN_KEY_BYTES} bytes")
    if out is not None:
        check_output_file(out, app.settings, "disclosure pack", force=force)
    home = app.settings.home
    report = case_report(app, reference)
    with app.unit_of_work() as uow:
        case_id = uow.cases.require(reference).id
        html = read_protected_file(uow.cipher, home, Path(report.html))
        pdf = read_protected_file(uow.cipher, home, Path(report.pdf))
        evidence = _evidence_rows(uow, case_id)
        stills = _stills(uow, case_id)
        events = list(
            uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.case_reference == reference)
                .order_by(AuditEvent.id)
            )
        )
        extract, audit_events, head = _signed_extract(home, events, key)
        redacted: list[tuple[str, bytes, str]] = []
        missing: list[str] = []
        verified: set[int] = set()  # videos whose SHA-256 was checked (one read per file)
        blurred = 0
        for number, still in enumerate(stills, start=1):
            try:
                pixels = _pixels(uow, still, verified)
            except MediaError as exc:
                where = "" if still.time_s is None else f" at {still.time_s:.2f} s"
                reason = str(exc) if "/" not in str(exc) else "it cannot be read any more"
                missing.append(f"{still.name}{where}: {reason}")  # never a server path
                continue
            hide = list(still.others)
            for found in _faces_in(app, pixels):
                if not any(_same_face(found, known) for known in (*still.probes, *hide)):
                    hide.append(found)  # a face the search did not store (or not this way)
            when = "" if still.time_s is None else f"-{still.time_s:.2f}s"
            name = f"evidence/{number:03d}-{_safe(Path(still.name).stem)}{when}.png"
            redacted.append((name, _png(blur_faces(pixels, hide, list(still.probes))), still.name))
            blurred += len(hide)
    written_at = app.now()
    files: list[tuple[str, bytes, str]] = [
        ("case-report.pdf", pdf, ""),
        ("case-report.html", html, ""),
        ("evidence-hashes.csv", _csv(EVIDENCE_COLUMNS, evidence), ""),
        ("audit-extract.jsonl", extract, ""),
        *redacted,
        ("README.txt", _readme(reference, written_at, missing).encode("utf-8"), ""),
    ]
    manifest = [[n, hashlib.sha256(d).hexdigest(), len(d), s] for n, d, s in files]
    files.append(("manifest.csv", _csv(["file", "sha256", "size", "source"], manifest), ""))
    pack = _zip(files, written_at)
    digest = hashlib.sha256(pack).hexdigest()
    stem = f"disclosure-pack-{written_at:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}"
    path = home / PACK_FOLDER / f"{stem}.zip"
    with app.unit_of_work() as uow:
        write_protected_file(uow.cipher, home, path, pack)
        if out is not None:
            _write_private(out, pack)
        app.audit(
            uow,
            action="report.disclosure_pack_written",
            object_type="case",
            object_id=case_id,
            case_reference=reference,
            file=str(path),
            out=str(out) if out is not None else None,
            sha256=digest,
            bytes=len(pack),
            report=[report.html, report.pdf],
            evidence_files=len(evidence),
            redacted_images=len(redacted),
            faces_blurred=blurred,
            audit_events=audit_events,
            audit_head=head,
        )
        uow.commit()
    return DisclosurePack(
        path=str(path),
        out=str(out) if out is not None else None,
        sha256=digest,
        size=len(pack),
        candidates=report.candidates,
        evidence_files=len(evidence),
        redacted_images=len(redacted),
        faces_blurred=blurred,
        audit_events=audit_events,
        audit_head=head,
        missing=missing,
    )


def blur_faces(pixels: NDArray[np.uint8], hide: list[Box], keep: list[Box]) -> NDArray[np.uint8]:
    """``pixels`` with each face in ``hide`` (its box widened, :data:`BLUR_MARGIN`) shrunk
    to :data:`BLUR_CELLS` cells across and smoothed back (no detail survives); the faces in
    ``keep`` are then put back exactly as they were, where a widened box reached them."""
    original = Image.fromarray(pixels)
    image = original.copy()
    width, height = image.size
    for box in hide:
        margin = round(max(box.w, box.h) * BLUR_MARGIN)
        above = round(max(box.w, box.h) * BLUR_MARGIN_TOP)
        left, top = max(0, box.x - margin), max(0, box.y - above)
        right, bottom = min(width, box.x + box.w + margin), min(height, box.y + box.h + margin)
        if right - left < 2 or bottom - top < 2:
            continue
        region = original.crop((left, top, right, bottom))
        across = max(1, min(BLUR_CELLS, region.width))
        down = max(1, min(region.height, round(BLUR_CELLS * region.height / region.width)))
        cells = region.resize((across, down), Image.Resampling.BOX)
        smooth = cells.resize(region.size, Image.Resampling.BICUBIC)
        smooth = smooth.filter(ImageFilter.GaussianBlur(max(2.0, region.width / 6)))
        image.paste(smooth, (left, top))
    for box in keep:
        edges = (box.x, box.y, box.x + box.w, box.y + box.h)
        image.paste(original.crop(edges), (box.x, box.y))
    return np.asarray(image)


def _same_face(a: Box, b: Box) -> bool:
    """Whether two boxes frame one face: they overlap enough, or one's centre is in the other."""
    if overlap(a, b) >= SAME_FACE_IOU:
        return True
    cx, cy = a.x + a.w / 2, a.y + a.h / 2
    return b.x <= cx <= b.x + b.w and b.y <= cy <= b.y + b.h


def _faces_in(app: App, pixels: NDArray[np.uint8]) -> list[Box]:
    """Every face found in ``pixels`` by the installation's detector (as searched) and by
    the bystander detector (small, dim, turned faces: the crowd, the pianist)."""
    found = [d.box for d in app.engine.detector.detect(pixels)]
    return found + [
        d.box for d in _bystander_detector(app.engine_spec.max_detect_pixels).detect(pixels)
    ]


@functools.cache
def _bystander_detector(max_detect_pixels: int) -> Detector:
    """dlib's MMOD CNN (ONNX Runtime) on the image enlarged :data:`BYSTANDER_SCALE` times, at
    a threshold below dlib's: it finds faces of 25-40 pixels the search's detector misses,
    and a false find only blurs a patch of background. Loaded once, on first use."""
    from retroface.faces.mmod_detector import OnnxMmodDetector  # noqa: PLC0415 - ONNX Runtime loads only when a pack is written

    return OnnxMmodDetector(
        scale=BYSTANDER_SCALE,
        level_step=2,
        max_detect_pixels=max_detect_pixels,
        threshold=BYSTANDER_THRESHOLD,
    )


def _same_frame(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= _SAME_FRAME_S


def _box(face: Face) -> Box:
    return Box(face.box_x, face.box_y, face.box_w, face.box_h)


#: The columns of ``evidence-hashes.csv``: what each evidence file was, and where from.
EVIDENCE_COLUMNS = ["file", "sha256", "size", "source_type", "supplied_by"]


def _evidence_rows(uow: UnitOfWork, case_id: int) -> list[list[object]]:
    """Each evidence file of the case once (by name and hash), in the order first searched."""
    rows: list[list[object]] = []
    seen: set[tuple[str, str]] = set()
    for item in uow.session.scalars(
        select(MediaItem).where(MediaItem.case_id == case_id).order_by(MediaItem.id)
    ):
        name = Path(item.source_path).name
        if (name, item.sha256) not in seen:
            seen.add((name, item.sha256))
            rows.append(
                [
                    name,
                    item.sha256,
                    item.byte_size,
                    item.source_type or "not recorded",
                    item.supplied_by or "",
                ]
            )
    return rows


def _stills(uow: UnitOfWork, case_id: int) -> list[_Still]:
    """The images and video frames holding a candidate's probe face, with their other faces."""
    probes = list(
        uow.session.scalars(
            # Face ids in a subquery, not DISTINCT over the rows: PostgreSQL has no
            # equality for the JSON columns a face row holds.
            select(Face)
            .where(
                Face.id.in_(
                    select(Candidate.face_id)
                    .join(Search, Search.id == Candidate.search_id)
                    .where(Search.case_id == case_id)
                ),
                Face.media_item_id.is_not(None),
            )
            .order_by(Face.media_item_id, Face.timestamp_s, Face.id)
        )
    )
    frames: dict[tuple[int, float | None], list[Face]] = {}
    for face in probes:
        assert face.media_item_id is not None
        time_s = None if face.timestamp_s is None else round(face.timestamp_s, 3)
        frames.setdefault((face.media_item_id, time_s), []).append(face)
    stills: list[_Still] = []
    for (media_id, time_s), kept in frames.items():
        media = uow.session.get(MediaItem, media_id)
        if media is None:
            continue
        kept_ids = {f.id for f in kept}
        stored = uow.session.scalars(select(Face).where(Face.media_item_id == media_id))
        others = [
            _box(f) for f in stored if f.id not in kept_ids and _same_frame(f.timestamp_s, time_s)
        ]
        stills.append(
            _Still(
                media_id=media_id,
                name=Path(media.source_path).name,
                source=Path(media.source_path),
                sha256=media.sha256,
                time_s=time_s,
                probes=tuple(_box(f) for f in kept),
                others=tuple(others),
                enhancement=media.enhancement,
            )
        )
    return stills


def _pixels(uow: UnitOfWork, still: _Still, verified: set[int]) -> NDArray[np.uint8]:
    """The evidence image, or the video frame at the still's time, as searched: a file whose
    bytes no longer match the recorded SHA-256 is refused."""
    if not still.source.is_file():
        raise MediaError("the file is no longer there")
    with readable_upload(uow.cipher, still.source) as source:
        if still.time_s is None:
            loaded = load_image(source)
            if loaded.sha256 != still.sha256:
                raise MediaError("the file changed since it was searched (SHA-256 differs)")
            if still.enhancement:
                return replay(loaded.pixels, still.enhancement)
            return loaded.pixels
        if still.media_id not in verified:
            if sha256_file(source) != still.sha256:
                raise MediaError("the file changed since it was searched (SHA-256 differs)")
            verified.add(still.media_id)
        frames = iter_frames(
            source,
            SamplingPolicy("all", 0),
            start_s=max(still.time_s - 0.001, 0.0),
            end_s=still.time_s + 1.0,
        )
        frame = next(iter(frames), None)
    if frame is None:
        raise MediaError(f"no frame at {still.time_s:.2f} s")
    return frame.pixels


def _signed_extract(home: Path, events: list[AuditEvent], key: bytes) -> tuple[bytes, int, str]:
    """The case's events as the signed export writes them (written through a private temp
    folder of the data directory, removed at once)."""
    folder = home / "tmp" / f"disclosure-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, mode=0o700)
    try:
        path = folder / "audit-extract.jsonl"
        count, head = write_signed_export(events, path, key)
        return path.read_bytes(), count, head
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _png(pixels: NDArray[np.uint8]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    text = io.StringIO()
    writer = SafeCsvWriter(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _zip(files: list[tuple[str, bytes, str]], written_at: datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = written_at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, _ in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o600 << 16
            text = name.endswith(_TEXT_SUFFIXES)
            info.compress_type = zipfile.ZIP_DEFLATED if text else zipfile.ZIP_STORED
            archive.writestr(info, data)
    return buffer.getvalue()


def _write_private(out: Path, data: bytes) -> None:
    """``data`` at ``out``, readable by its owner only, written whole or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(tmp, out)


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80] or "evidence"


def _readme(reference: str, written_at: datetime, missing: list[str]) -> str:
    lines = [
        f"Disclosure pack of case {reference}, written {written_at:%Y-%m-%d %H:%M} UTC.",
        "",
        f"{LEAD_NOTICE}.",
        "",
        "case-report.pdf, case-report.html  the case report: searches, authorisation,",
        "    candidates with their probe and reference faces, decisions, models.",
        "evidence-hashes.csv  every evidence file searched under the case, with the",
        "    SHA-256 and size recorded when it was searched, its source type and who",
        "    supplied it.",
        "audit-extract.jsonl  the case's audit events, one JSON line each, then an",
        "    HMAC-SHA256 signature line over all of them (the installation's audit key);",
        "    check it with: retroface audit check-export audit-extract.jsonl --key-file KEY",
        "evidence/  each image (or video frame) holding a candidate's probe face, as",
        "    lossless PNG. Every other face in it is blurred beyond recognition: each face",
        f"    box, widened by {BLUR_MARGIN:.0%} of its side (by {BLUR_MARGIN_TOP:.0%} upwards),"
        " is reduced",
        f"    to {BLUR_CELLS} cells across and smoothed. The probe faces are unchanged. A face",
        "    neither detector found (very small, turned away, hidden) is not blurred.",
        "manifest.csv  the SHA-256 and size of every other file here; the SHA-256 of",
        "    the whole zip is in the installation's audit log",
        "    (report.disclosure_pack_written).",
    ]
    if missing:
        lines += ["", "Evidence not included (cannot be read as it was searched):"]
        lines += [f"  {m}" for m in missing]
    return "\n".join(lines) + "\n"
