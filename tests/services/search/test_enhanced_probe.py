"""A probe enhanced before it is searched, on a real photo darkened as a night still: the
original evidence kept and hashed, every step recorded and audited, the candidates flagged
wherever they appear, and no enhanced image written unless asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.media import load_image, sha256_file
from retroface.media.enhancement import apply_steps, parse_steps, pixels_sha256
from retroface.services import App
from retroface.services.biometrics.face_views import candidate_faces
from retroface.services.cases.disclosure import disclosure_pack
from retroface.services.cases.report import case_report
from retroface.services.cases.review import review_queue
from retroface.services.search.enhanced_probe import ProbeEnhancement, probe_enhancement_from
from retroface.services.search.photos import search
from retroface.services.search.probe_faces import list_probe_faces
from retroface.store.models import AuditEvent, Face, MediaItem, Search
from tests.conftest import SUPERVISOR
from tests.helpers import TEST_SIGNING_KEY, authorised_case, gallery_with

pytestmark = pytest.mark.needs_data

PEOPLE = ("Tony_Blair", "George_W_Bush", "Colin_Powell", "Gerhard_Schroeder")
STEPS = ["gamma:0.5", "clahe:clip=2.0,tile=8"]
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff")


def leaders(app: App, data: Path) -> str:
    lfw = data / "lfw"
    return gallery_with(app, "leaders", {n: [lfw / n / f"{n}_0001.jpg"] for n in PEOPLE})


def night_still(data: Path, folder: Path) -> Path:
    """Tony Blair's second LFW photo with 12% of its light: too dark to search as it is."""
    pixels = load_image(data / "lfw" / "Tony_Blair" / "Tony_Blair_0002.jpg").pixels
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "night_still.png"
    Image.fromarray((pixels.astype(np.float64) * 0.12).astype(np.uint8)).save(path)
    return path


def images_in(home: Path) -> list[Path]:
    """Files of the data directory that hold an image (by content, whatever their name)."""
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                if handle.read(4).startswith(IMAGE_MAGIC):
                    found.append(path)
    return found


def test_an_enhanced_search_records_and_audits_each_step_and_flags_its_candidates(
    app: App, data: Path, tmp_path: Path
) -> None:
    gallery = leaders(app, data)
    case = authorised_case(app)
    still = night_still(data, tmp_path / "evidence")
    original_hash = sha256_file(still)

    plain = search(app, case, gallery, [still])
    (too_dark,) = plain.probes
    assert not too_dark.searched and too_dark.enhancement is None

    enhancement = probe_enhancement_from(STEPS)
    assert enhancement is not None
    # Brightening does not make the evidence better: the floor still judges the original.
    brightened = search(app, case, gallery, [still], enhancement=enhancement)
    (refused,) = brightened.probes
    assert not refused.searched and refused.candidates == []
    assert refused.warning and "before enhancement" in refused.warning
    report = search(
        app, case, gallery, [still], enhancement=enhancement,
        low_quality_justification="the only image of the suspect",
    )  # fmt: skip

    (probe,) = report.probes
    assert probe.searched and probe.candidates[0].subject == "Tony_Blair"
    assert probe.warning and "justification" in probe.warning
    assert probe.enhancement == ["gamma:gamma=0.5", "clahe:clip=2,tile=8"]
    assert sha256_file(still) == original_hash  # the evidence itself is untouched
    assert images_in(app.settings.home) == []  # no enhanced image was written anywhere
    expected = apply_steps(load_image(still).pixels, parse_steps(STEPS))
    with app.unit_of_work() as uow:
        media = uow.session.scalars(
            select(MediaItem).where(MediaItem.search_id == report.search_id)
        ).one()
        assert media.sha256 == original_hash and media.source_path == str(still.resolve())
        assert media.enhancement == {
            "version": 1,
            "steps": [
                {"op": "gamma", "gamma": 0.5},
                {"op": "clahe", "clip": 2.0, "tile": 8},
            ],
            "width": 250,
            "height": 250,
            "pixels_sha256": pixels_sha256(expected),
        }
        steps = [
            e
            for e in uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "probe.enhancement_step")
                .order_by(AuditEvent.id)
            ).all()
            if e.details["search_id"] == report.search_id
        ]
        assert [(e.details["step"], e.details["of"], e.details["op"]) for e in steps] == [
            (1, 2, "gamma"),
            (2, 2, "clahe"),
        ]
        assert steps[1].details["params"] == {"clip": 2.0, "tile": 8}
        assert {e.details["search_id"] for e in steps} == {report.search_id}
        assert {e.details["sha256"] for e in steps} == {original_hash}
        assert {e.object_id for e in steps} == {str(media.id)}
        processed = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "search.media_processed")
        ).all()
        assert [d["enhanced"] for d in processed] == [False, True, True]
        search_row = uow.session.get(Search, report.search_id)
        assert search_row is not None
        asked = search_row.parameters["enhancement"]
        assert asked["steps"] == media.enhancement["steps"] and asked["keep_copy"] is False
        started = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "search.started")
        ).all()
        assert [d.get("enhancement") for d in started] == [None, asked, asked]

    # Flagged where the candidate appears: the review queue, the faces view, the report.
    supervisor = app.acting_as(SUPERVISOR)
    (queued,) = [c for c in review_queue(supervisor, case_reference=case) if c.enhancement]
    assert queued.subject == "Tony_Blair" and queued.sha256 == original_hash
    assert queued.enhancement == probe.enhancement
    pair = candidate_faces(supervisor, queued.candidate_id)  # boxes in the enhanced image
    assert pair.probe_png.startswith(b"\x89PNG")
    files = case_report(app, case)
    assert "Enhanced probe" in Path(files.html).read_text(encoding="utf-8")
    pack = disclosure_pack(app, case, TEST_SIGNING_KEY)  # the still as searched, re-created
    assert pack.redacted_images == 1 and pack.candidates >= 1


def test_an_enhanced_copy_is_kept_only_when_asked(app: App, data: Path, tmp_path: Path) -> None:
    gallery = leaders(app, data)
    case = authorised_case(app)
    still = night_still(data, tmp_path / "evidence")
    enhancement = probe_enhancement_from(STEPS, keep_copy=True)
    report = search(
        app, case, gallery, [still], enhancement=enhancement, low_quality_justification="only one"
    )
    assert report.probes[0].candidates[0].subject == "Tony_Blair"
    with app.unit_of_work() as uow:
        original, copy = uow.session.scalars(select(MediaItem).order_by(MediaItem.id)).all()
        assert original.enhancement is not None and original.enhancement["kept_copy"] == copy.id
        assert copy.enhancement is None and copy.format == "PNG"
        kept = Path(copy.source_path)
        assert kept.is_relative_to(app.settings.home.resolve()) and sha256_file(kept) == copy.sha256
        assert (
            load_image(kept).pixels.tobytes()
            == apply_steps(load_image(still).pixels, parse_steps(STEPS)).tobytes()
        )
        (event,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "probe.enhanced_copy_kept")
        ).all()
        assert event.details["original_sha256"] == original.sha256
    assert images_in(app.settings.home) == [kept]


def test_enhancement_prepares_one_image_and_steps_that_cannot_apply_are_refused(
    app: App, data: Path, tmp_path: Path
) -> None:
    gallery = leaders(app, data)
    case = authorised_case(app)
    still = night_still(data, tmp_path / "evidence")
    other = data / "lfw" / "Colin_Powell" / "Colin_Powell_0002.jpg"
    gamma = ProbeEnhancement(tuple(parse_steps(["gamma:0.5"])))
    with pytest.raises(InvalidInputError, match="enhancement prepares one probe image"):
        search(app, case, gallery, [still, other], enhancement=gamma)
    crop = ProbeEnhancement(tuple(parse_steps(["crop:200,200,100,100"])))
    with pytest.raises(InvalidInputError, match="goes past the image"):
        search(app, case, gallery, [still], enhancement=crop)
    with pytest.raises(InvalidInputError, match="not both"):
        probe_enhancement_from(["gamma:0.5"], '[{"op": "gamma", "gamma": 0.5}]')
    with pytest.raises(InvalidInputError, match="needs enhancement steps"):
        probe_enhancement_from(None, keep_copy=True)
    steps_file = tmp_path / "steps.json"
    steps_file.write_text('[{"op": "gamma", "gamma": 0.5}]', encoding="utf-8")
    assert probe_enhancement_from(steps_file=steps_file) == gamma
    with app.unit_of_work() as uow:
        assert uow.session.scalars(select(Search)).all() == []  # refusals use no search
        reasons = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "search.refused")
        ).all()
        assert [
            ("one probe image" in r["reason"], "goes past" in r["reason"]) for r in reasons
        ] == [
            (True, False),
            (False, True),
        ]


def test_the_faces_listed_are_those_of_the_enhanced_image(
    app: App, data: Path, tmp_path: Path
) -> None:
    case = authorised_case(app)
    still = night_still(data, tmp_path / "evidence")
    upscaled = ProbeEnhancement(tuple(parse_steps(["gamma:0.5", "upscale:2"])))
    (plain,) = list_probe_faces(app, case, still).faces
    (listed,) = list_probe_faces(app, case, still, enhancement=upscaled).faces
    assert listed.box[2] > 1.5 * plain.box[2]  # boxes are in the enhanced (doubled) image


def test_the_quality_floor_judges_the_face_in_the_original_not_its_enhancement(
    app: App, data: Path, tmp_path: Path
) -> None:
    """Sharpening a blurred still lifts its sharpness, not its evidential value: it stays
    too poor to search. A clean photo cropped and enlarged is searched as it is, its
    face found again in the original through the steps."""
    gallery = leaders(app, data)
    case = authorised_case(app)
    pixels = load_image(data / "lfw" / "Tony_Blair" / "Tony_Blair_0002.jpg").pixels
    blurred = tmp_path / "blurred.png"
    Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(4)).save(blurred)
    sharpen = ProbeEnhancement(tuple(parse_steps(["sharpen:radius=4,percent=300,threshold=0"])))

    (plain,) = search(app, case, gallery, [blurred]).probes
    assert not plain.searched
    (sharpened,) = search(app, case, gallery, [blurred], enhancement=sharpen).probes
    assert not sharpened.searched and sharpened.candidates == []
    assert sharpened.warning and "before enhancement" in sharpened.warning

    clean = data / "lfw" / "Tony_Blair" / "Tony_Blair_0003.jpg"
    enlarge = ProbeEnhancement(tuple(parse_steps(["crop:50,40,150,170", "upscale:2"])))
    (enlarged,) = search(app, case, gallery, [clean], enhancement=enlarge).probes
    assert enlarged.searched and enlarged.warning is None
    assert enlarged.candidates[0].subject == "Tony_Blair"
    with app.unit_of_work() as uow:
        faces = uow.session.scalars(select(Face).order_by(Face.id)).all()
        last = faces[-1]
        # Measured in both images, the lower kept; the other's score is kept beside it.
        assert "original_overall" in last.quality_parts or "enhanced_overall" in last.quality_parts
        assert last.quality >= app.settings.probe_quality_floor
