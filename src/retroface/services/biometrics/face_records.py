"""Map engine output to database rows (one place, so every face is stored the same way)."""

from __future__ import annotations

from retroface.faces import AnalysedFace
from retroface.store.data_protection import DataCipher, seal_template
from retroface.store.models import Face, Template


def face_row(
    face: AnalysedFace,
    *,
    media_item_id: int | None = None,
    reference_image_id: int | None = None,
    frame_index: int | None = None,
    timestamp_s: float | None = None,
    marked_by: str | None = None,
) -> Face:
    """``marked_by``: who marked the face by hand (detector ``manual``)."""
    box = face.detection.box
    return Face(
        media_item_id=media_item_id,
        reference_image_id=reference_image_id,
        frame_index=frame_index,
        timestamp_s=timestamp_s,
        box_x=box.x,
        box_y=box.y,
        box_w=box.w,
        box_h=box.h,
        landmarks=face.landmarks.as_list(),
        detector=face.detection.detector,
        detector_score=round(face.detection.score, 4),
        quality=face.quality.overall,
        quality_parts=face.quality.parts,
        marked_by=marked_by,
    )


def template_row(
    face: AnalysedFace,
    face_id: int,
    subject_id: int | None,
    gallery_id: int | None,
    cipher: DataCipher,
    *,
    engine: str,
) -> Template:
    """The template row; its vector is sealed to its face when the directory is encrypted.

    ``engine`` is the description string of the engine that made it (faces/
    engine_description.py): model name and version say which space a vector is
    in, the engine says how it was made (alignments, jitters), which the
    threshold was measured for.
    """
    return Template(
        face_id=face_id,
        subject_id=subject_id,
        gallery_id=gallery_id,
        model_name=face.model.name,
        model_version=face.model.version,
        dimension=face.model.dimension,
        vector=seal_template(cipher, face_id, face.embedding),
        quality=face.quality.overall,
        engine=engine,
    )
