"""A probe image enhanced before it is searched: the original kept, every step audited.

An analyst may brighten a night still, sharpen a blurred one or enlarge a tiny
face (media/enhancement.py). What a court needs afterwards is the original
evidence, untouched and hashed as any other, and exactly what was done to it. So:

* the evidence file is stored and hashed as it was given (``media_items.sha256``);
  the enhanced image is *not* a second evidence file: the media item records the
  ordered steps (``media_items.enhancement``, with the size and a hash of the pixels a
  replay must give), and every view of the probe re-creates it from the original and
  the list (services/biometrics/face_views.py); only an explicit ``keep_copy`` stores
  the enhanced image too, as a second media item of the case (sealed where encrypted);
* every step is audited (``probe.enhancement_step``: step n of N, the operation and
  every parameter, the original's hash), in the same transaction as the media item;
* the candidates of an enhanced probe say so wherever they appear (search output,
  review queue, case report), since an enhanced face is a weaker basis for a lead
  than an original one, and enhancement must not be assumed to help
  (docs/probe_preparation.md).

Enhancement prepares one probe image: with several files, or footage, it is refused.
Face numbers, boxes and marks then refer to the enhanced image (the one listed).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.errors import InvalidInputError
from retroface.media import LoadedImage, load_image
from retroface.media.enhancement import (
    ENHANCEMENT_VERSION,
    Step,
    apply_steps,
    enhancement_record,
    parse_steps,
    steps_from_text,
    steps_of,
    steps_to_json,
)
from retroface.services.app import App
from retroface.services.biometrics.uploaded_files import case_upload_folder, seal_upload
from retroface.store.models import MediaItem
from retroface.store.unit_of_work import UnitOfWork

#: The compression level of the PNG a preview or a kept copy is written with (fixed, so
#: the same pixels always give the same bytes).
PNG_COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class ProbeEnhancement:
    """The steps to apply to the probe image before it is searched; ``keep_copy``: also
    store the enhanced image in the data directory (by default it is only re-created)."""

    steps: tuple[Step, ...]
    keep_copy: bool = False

    def __post_init__(self) -> None:
        if not self.steps:
            raise InvalidInputError("an enhancement needs at least one step")


@dataclass(frozen=True)
class EnhancedImage:
    """The probe's pixels after the steps, and the record kept with its media item."""

    pixels: NDArray[np.uint8]
    record: dict[str, Any]
    keep_copy: bool
    steps: tuple[Step, ...] = ()


def check_enhancement_fits(enhancement: ProbeEnhancement | None, images: int, videos: int) -> None:
    """Enhancement prepares one probe image: refused with several files or any video."""
    if enhancement is not None and (images != 1 or videos):
        raise InvalidInputError(
            "enhancement prepares one probe image: name exactly one image file "
            f"(got {images} image(s) and {videos} video(s))"
        )


def enhance(app: App, image: LoadedImage, enhancement: ProbeEnhancement) -> EnhancedImage:
    """Apply the steps to a loaded probe (the original pixels are not changed)."""
    pixels = apply_steps(image.pixels, enhancement.steps, max_pixels=app.settings.max_image_pixels)
    return EnhancedImage(
        pixels,
        enhancement_record(enhancement.steps, pixels),
        enhancement.keep_copy,
        enhancement.steps,
    )


def record_enhancement(
    app: App,
    uow: UnitOfWork,
    media: MediaItem,
    enhanced: EnhancedImage,
    case_reference: str,
    search_id: str,
) -> None:
    """Inside the media item's transaction: its steps, one audit event per step, and the
    enhanced copy when one was asked for."""
    media.enhancement = dict(enhanced.record)
    steps = enhanced.record["steps"]
    for number, step in enumerate(steps, start=1):
        app.audit(
            uow,
            action="probe.enhancement_step",
            object_type="media_item",
            object_id=media.id,
            case_reference=case_reference,
            search_id=search_id,
            sha256=media.sha256,
            step=number,
            of=len(steps),
            version=enhanced.record["version"],
            op=step["op"],
            params={k: v for k, v in step.items() if k != "op"},
        )
    if enhanced.keep_copy:
        _keep_copy(app, uow, media, enhanced, case_reference, search_id)


def _keep_copy(
    app: App,
    uow: UnitOfWork,
    media: MediaItem,
    enhanced: EnhancedImage,
    case_reference: str,
    search_id: str,
) -> None:
    """The enhanced image as a second evidence file of the case (asked for explicitly):
    in the case's upload folder, sealed where encrypted, deleted with the case's uploads."""
    from retroface.media import sha256_bytes  # noqa: PLC0415 - only a kept copy hashes bytes

    data = png_bytes(enhanced.pixels)
    digest = sha256_bytes(data)
    path = case_upload_folder(app.settings.home, case_reference) / f"enhanced-{digest[:16]}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(seal_upload(uow.cipher, path, data))
    height, width = enhanced.pixels.shape[:2]
    copy = MediaItem(
        case_id=media.case_id,
        search_id=search_id,
        source_path=str(path.resolve()),
        sha256=digest,
        media_type="image",
        byte_size=len(data),
        width=int(width),
        height=int(height),
        format="PNG",
    )
    uow.session.add(copy)
    uow.flush()
    media.enhancement = {**dict(enhanced.record), "kept_copy": copy.id}
    app.audit(
        uow,
        action="probe.enhanced_copy_kept",
        object_type="media_item",
        object_id=copy.id,
        case_reference=case_reference,
        search_id=search_id,
        original_media_item=media.id,
        original_sha256=media.sha256,
        sha256=digest,
    )


def enhancement_parameters(enhancement: ProbeEnhancement | None) -> dict[str, Any]:
    """What the search row and ``search.started`` record of the enhancement asked for."""
    if enhancement is None:
        return {}
    return {
        "enhancement": {
            "version": ENHANCEMENT_VERSION,
            "steps": steps_to_json(enhancement.steps),
            "keep_copy": enhancement.keep_copy,
        }
    }


def enhancement_shown(record: dict[str, Any] | None) -> list[str] | None:
    """The steps of an enhanced probe as people read them; None: not enhanced."""
    return steps_of(record) if record else None


def png_bytes(pixels: NDArray[np.uint8]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def preview_enhancement(
    app: App, case_reference: str, path: Path, steps: list[Step], *, shown_as: str | None = None
) -> bytes:
    """The probe image after ``steps``, as PNG, for a person to judge before searching:
    under the case's current authorisation (as a face listing: a refusal is audited),
    audited (``probe.enhancement_previewed``: the file's hash and the steps, no pixels);
    nothing is stored and no search is used."""
    from retroface.services.search.probe_faces import check_listing_allowed  # noqa: PLC0415 - probe_faces imports this module

    check_listing_allowed(app, case_reference)
    image = load_image(path, app.limits)
    pixels = apply_steps(image.pixels, steps, max_pixels=app.settings.max_image_pixels)
    with app.unit_of_work() as uow:
        app.audit(
            uow,
            action="probe.enhancement_previewed",
            object_type="case",
            object_id=case_reference,
            case_reference=case_reference,
            source=shown_as or str(path),
            sha256=image.sha256,
            steps=steps_to_json(steps),
        )
        uow.commit()
    return png_bytes(pixels)


def probe_enhancement_from(
    texts: list[str] | None = None,
    steps_json: str | None = None,
    *,
    steps_file: Path | None = None,
    keep_copy: bool = False,
) -> ProbeEnhancement | None:
    """The enhancement a person asked for: steps in the text form (``texts``, in order), or a
    JSON list (``steps_json``, or a file of it); None when no step was given."""
    given = [bool(texts), steps_json is not None, steps_file is not None]
    if sum(given) > 1:
        raise InvalidInputError(
            "give the enhancement steps one way: as steps (--enhance) or as a JSON list "
            "(--enhance-file), not both"
        )
    if steps_file is not None:
        try:
            steps_json = steps_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                f"{steps_file}: cannot read the enhancement steps ({exc})"
            ) from None
    if texts:
        steps = parse_steps(texts)
    elif steps_json is not None:
        steps = steps_from_text(steps_json)
    else:
        if keep_copy:
            raise InvalidInputError("keeping an enhanced copy needs enhancement steps")
        return None
    return ProbeEnhancement(tuple(steps), keep_copy=keep_copy)
