"""Face images for people to look at: re-read from the evidence or reference file on demand
(a sealed upload through a plaintext copy that lives only while it is read).

Why never stored: a crop is a biometric image; the files it comes from are
already held under their own retention, so a view is cut from them when a
person asks and is gone when the response is sent. Every view of a
candidate's faces is an audited read of biometric data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import MediaError, NotFoundError
from retroface.governance.roles import Action
from retroface.media import load_image
from retroface.media.enhancement import replay
from retroface.media.video_reader import (
    MAX_STATED_FPS,
    SamplingPolicy,
    is_video_path,
    iter_frames,
)
from retroface.services.app import App
from retroface.services.biometrics.uploaded_files import readable_upload
from retroface.store.models import (
    Candidate,
    Case,
    Face,
    MediaItem,
    ReferenceImage,
    Search,
    Template,
)
from retroface.store.unit_of_work import UnitOfWork

VIEW_PX = 240


class FacePair(BaseModel):
    """PNG bytes of a candidate's probe face and the reference face it matched."""

    candidate_id: int
    probe_png: bytes
    reference_png: bytes | None


#: The rate assumed for frame 0 of a raw stream (any rate puts frame 0 at 0 s).
DEFAULT_STATED_FPS = 25.0


def stated_rate(frame_index: int | None, time_s: float | None) -> float:
    """The frame rate a raw stream's frames were timed at (frame i at i / rate seconds),
    recovered from one face's frame and time; any rate for frame 0. Files with timestamps
    ignore it."""
    when = time_s or 0.0
    stated = frame_index / when if frame_index and when > 0 else DEFAULT_STATED_FPS
    return min(stated, MAX_STATED_FPS)


def face_image(
    source: Path,
    box: tuple[int, int, int, int],
    time_s: float | None,
    frame_index: int | None = None,
    size: int = VIEW_PX,
    enhancement: Mapping[str, Any] | None = None,
) -> Image.Image:
    """The face at ``box`` (with a margin) in an image, or in a video frame at ``time_s``,
    ``size`` pixels square. ``enhancement``: the media item's recorded steps (an image
    searched after enhancement: its boxes are in the enhanced image, re-created here)."""
    pixels = frame_pixels(source, time_s, frame_index, enhancement)
    x, y, w, h = box
    margin = max(w, h) // 3
    crop = Image.fromarray(pixels).crop((x - margin, y - margin, x + w + margin, y + h + margin))
    return crop.resize((size, size))


def frame_pixels(
    source: Path,
    time_s: float | None,
    frame_index: int | None = None,
    enhancement: Mapping[str, Any] | None = None,
) -> NDArray[np.uint8]:
    """The whole image, or the video frame at ``time_s``, as RGB pixels; an image searched
    after enhancement as it was searched (``enhancement``: the media item's record, replayed
    on the original and checked against the recorded hash: media/enhancement.py).

    A raw H.264/H.265 stream has no timestamps: its frames were timed at index / the rate
    the operator stated, so that rate is recovered from the face's own frame and time
    (files with timestamps ignore it)."""
    if is_video_path(source) or time_s is not None:
        when = time_s or 0.0
        frames = iter_frames(
            source,
            SamplingPolicy("all", 0, stream_fps=stated_rate(frame_index, time_s)),
            start_s=max(when - 0.001, 0.0),
            end_s=when + 1.0,
        )
        frame = next(iter(frames), None)
        if frame is None:
            raise MediaError(f"{source.name}: no frame at {when:.2f} s")
        return frame.pixels
    pixels = load_image(source).pixels
    return replay(pixels, enhancement) if enhancement else pixels


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _box(face: Face) -> tuple[int, int, int, int]:
    return face.box_x, face.box_y, face.box_w, face.box_h


def candidate_views(uow: UnitOfWork, candidate_id: int) -> FacePair:
    """The two faces of a candidate as PNG (no permission check or audit: callers do both)."""
    candidate = uow.session.get(Candidate, candidate_id)
    if candidate is None:
        raise NotFoundError(f"no candidate {candidate_id}")
    probe = uow.session.get(Face, candidate.face_id)
    media = (
        uow.session.get(MediaItem, probe.media_item_id) if probe and probe.media_item_id else None
    )
    if probe is None or media is None:
        raise NotFoundError(f"candidate {candidate_id}'s probe face is deleted (retention)")
    with readable_upload(uow.cipher, Path(media.source_path)) as source:
        probe_view = face_image(
            source,
            _box(probe),
            probe.timestamp_s,
            probe.frame_index,
            enhancement=media.enhancement,
        )
    reference_view = None
    template = uow.session.get(Template, candidate.template_id) if candidate.template_id else None
    ref_face = uow.session.get(Face, template.face_id) if template else None
    image = (
        uow.session.get(ReferenceImage, ref_face.reference_image_id)
        if ref_face and ref_face.reference_image_id
        else None
    )
    if ref_face is not None and image is not None and Path(image.source_path).is_file():
        with readable_upload(uow.cipher, Path(image.source_path)) as source:
            reference_view = face_image(source, _box(ref_face), None)
    return FacePair(
        candidate_id=candidate_id,
        probe_png=_png(probe_view),
        reference_png=_png(reference_view) if reference_view is not None else None,
    )


def subject_reference_png(uow: UnitOfWork, subject_id: int) -> bytes | None:
    """The subject's first enrolled reference face (None when its file is gone)."""
    row = uow.session.execute(
        select(Face, ReferenceImage.source_path)
        .join(ReferenceImage, ReferenceImage.id == Face.reference_image_id)
        .where(ReferenceImage.subject_id == subject_id)
        .order_by(Face.id)
        .limit(1)
    ).first()
    if row is None or not Path(row[1]).is_file():
        return None
    with readable_upload(uow.cipher, Path(row[1])) as source:
        return _png(face_image(source, _box(row[0]), None))


def candidate_faces(app: App, candidate_id: int) -> FacePair:
    """The probe face and the matched reference face of a candidate, for a reviewer to compare."""
    with app.unit_of_work() as uow:
        candidate = uow.session.get(Candidate, candidate_id)
        search = uow.session.get(Search, candidate.search_id) if candidate else None
        case = uow.session.get(Case, search.case_id) if search else None
        reference = case.reference if case else None
    app.require(Action.REVIEW_READ, case_reference=reference)  # need to know, before any face
    with app.unit_of_work() as uow:
        pair = candidate_views(uow, candidate_id)
        app.audit(
            uow,
            action="candidate.faces_viewed",
            object_type="candidate",
            object_id=candidate_id,
            case_reference=reference,
        )
        uow.commit()
    return pair
