"""Choosing the face to search in a probe image, and marking one the detector missed, on real
photos: the faces not chosen leave no template, face row, crop or box anywhere."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from retroface.errors import InvalidInputError
from retroface.faces import FaceEngine
from retroface.faces.face_choice import FaceChoice
from retroface.faces.manual_alignment import ManualMark
from retroface.faces.types import Box
from retroface.media import load_image
from retroface.services import App
from retroface.services.cases.manage import authorise_case, open_case
from retroface.services.cases.report import case_report
from retroface.services.cases.review import show_candidate
from retroface.services.search.gate import searches_under
from retroface.services.search.photos import search
from retroface.services.search.probe_faces import FaceChoiceNeededError, list_probe_faces
from retroface.store.models import AuditEvent, Base, Face, MediaItem, Search, Template
from tests.conftest import EXAMPLES, SUPERVISOR
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data

GROUP = EXAMPLES / "knn_examples" / "test" / "obama_and_biden.jpg"
LFW_PEOPLE = ("Tony_Blair", "Colin_Powell", "Gerhard_Schroeder")


def politicians(app: App, data: Path) -> str:
    lfw = data / "lfw"
    people = {"obama": [EXAMPLES / "obama.jpg"], "biden": [EXAMPLES / "biden.jpg"]}
    people |= {name: [lfw / name / f"{name}_0001.jpg"] for name in LFW_PEOPLE}
    return gallery_with(app, "politicians", people)


def case_with_one_search(app: App, supervisor: App) -> str:
    open_case(
        app,
        "CASE-1",
        purpose="test investigation",
        lawful_basis="law-enforcement",
        offence="robbery",
        seriousness="indictable-only",
    )
    authorise_case(supervisor, "CASE-1", until=app.now() + timedelta(days=1), max_searches=1)
    return "CASE-1"


def box_pattern(box: list[int]) -> re.Pattern[str]:
    """The four numbers of a box in a row, however they were written (columns, JSON list)."""
    x, y, w, h = box
    return re.compile(rf"\b{x}\D{{1,6}}{y}\D{{1,6}}{w}\D{{1,6}}{h}\b")


def everything_stored(app: App) -> str:
    """Every row of every table (faces, templates, sightings, live alerts, searches'
    parameters, audit events…) as text."""
    with app.unit_of_work() as uow:
        return "\n".join(
            str(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in uow.session.execute(select(table))
        )


def data_directory_files(app: App) -> dict[Path, bytes]:
    """Every file in the data directory but the SQLite database (read through SQL above)."""
    home = app.settings.home
    return {
        p: p.read_bytes()
        for p in home.rglob("*")
        if p.is_file() and not p.name.startswith("retroface.db")
    }


def test_several_faces_and_no_choice_are_listed_without_using_a_search(
    app: App, supervisor: App, data: Path
) -> None:
    gallery = politicians(app, data)
    case = case_with_one_search(app, supervisor)
    with pytest.raises(FaceChoiceNeededError, match="holds 3 faces and none was chosen") as raised:
        search(app, case, gallery, [GROUP])
    listing = raised.value.listing
    assert [f.face for f in listing.faces] == [1, 2, 3]
    assert listing.sha256 and all(f.quality > 0 for f in listing.faces)
    boxes = [f.box for f in listing.faces]
    areas = [w * h for _, _, w, h in boxes]
    assert areas == sorted(areas, reverse=True)  # numbered largest first

    with app.unit_of_work() as uow:
        # No search row, nothing counted against the authorisation, no evidence recorded.
        assert uow.session.scalars(select(Search)).all() == []
        assert searches_under(uow, uow.cases.require(case).authorisations[0].id) == 0
        assert uow.session.scalars(select(MediaItem)).all() == []
        assert (
            uow.session.scalar(select(func.count(Face.id)).where(Face.media_item_id.is_not(None)))
            == 0
        )
        (listed,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.faces_listed")
        ).all()
        assert listed.details["faces"] == 3 and listed.details["sha256"] == listing.sha256
    stored = everything_stored(app)
    assert not any(box_pattern(b).search(stored) for b in boxes)  # the listing kept no box

    # The one authorised search is still there for the face chosen from the listing.
    report = search(app, case, gallery, [GROUP], face_choice=FaceChoice(face=1))
    assert len(report.probes) == 1 and report.probes[0].box == boxes[0]


def test_only_the_chosen_face_is_searched_and_nothing_of_the_others_is_kept(
    app: App, data: Path
) -> None:
    gallery = politicians(app, data)
    case = authorised_case(app)
    listing = list_probe_faces(app, case, GROUP)
    by_x = sorted(listing.faces, key=lambda f: f.box[0])
    biden, others = by_x[0], [f for f in listing.faces if f is not by_x[0]]  # Biden on the left
    before = set(data_directory_files(app))

    report = search(app, case, gallery, [GROUP], face_choice=FaceChoice(face=biden.face))

    (probe,) = report.probes
    assert probe.box == biden.box and probe.candidates[0].subject == "biden"
    with app.unit_of_work() as uow:
        (row,) = uow.session.scalars(select(Face).where(Face.media_item_id.is_not(None))).all()
        assert row.box == biden.box and row.detector != "manual" and row.marked_by is None
        probe_templates = uow.session.scalars(select(Template).where(Template.subject_id.is_(None)))
        assert [t.face_id for t in probe_templates] == [row.id]
        (search_row,) = uow.session.scalars(select(Search)).all()
        assert search_row.parameters["face_choice"] == {"by": "number", "face": biden.face}
        (processed,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.media_processed")
        ).all()
        assert processed.details["faces"] == 1 and processed.details["faces_detected"] == 3
    # No box of the faces not chosen in any table, nor in any file of the data directory,
    # and no new file in it holds a face (the search cut no crop).
    stored = everything_stored(app)
    assert box_pattern(biden.box).search(stored)
    files = data_directory_files(app)
    for other in others:
        assert not box_pattern(other.box).search(stored)
        pattern = box_pattern(other.box)
        assert not [p for p, body in files.items() if pattern.search(body.decode("latin-1"))]
    assert not [p for p in set(files) - before if p.suffix.lower() in {".png", ".jpg", ".jpeg"}]


def test_a_box_chooses_the_face_it_overlaps_most(app: App, data: Path) -> None:
    gallery = politicians(app, data)
    case = authorised_case(app)
    faces = list_probe_faces(app, case, GROUP).faces
    obama = max((f for f in faces if f.box[1] < 600), key=lambda f: f.box[0])  # the child: y 1050
    x, y, w, h = obama.box
    loose = Box(x - 40, y - 60, w + 90, h + 100)  # drawn roughly around Obama's head
    report = search(app, case, gallery, [GROUP], face_choice=FaceChoice(box=loose))
    (probe,) = report.probes
    assert probe.box == obama.box and probe.candidates[0].subject == "obama"

    with pytest.raises(InvalidInputError, match="no detected face overlaps the box 5,5,60,60"):
        search(app, case, gallery, [GROUP], face_choice=FaceChoice(box=Box(5, 5, 60, 60)))
    with app.unit_of_work() as uow:
        assert len(uow.session.scalars(select(Search)).all()) == 1  # the refusal is no search
        refused = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.refused")
        ).all()
        assert any("overlaps" in e.details["reason"] for e in refused)


def test_every_face_is_searched_only_with_a_recorded_reason(app: App, data: Path) -> None:
    gallery = politicians(app, data)
    case = authorised_case(app)
    reason = "crowd photo; the suspect's position in it is not known"
    report = search(app, case, gallery, [GROUP], face_choice=FaceChoice(all_faces_reason=reason))
    assert len(report.probes) == 3
    leads = sorted((p for p in report.probes if p.candidates), key=lambda p: p.box[0])
    assert [p.candidates[0].subject for p in leads] == ["biden", "obama"]
    with app.unit_of_work() as uow:
        (row,) = uow.session.scalars(select(Search)).all()
        expected = {"by": "all faces", "all_faces_reason": reason}
        assert row.parameters["face_choice"] == expected
        (started,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.started")
        ).all()
        assert started.details["face_choice"] == expected
    with pytest.raises(InvalidInputError, match="one way only"):
        FaceChoice(face=1, all_faces_reason=reason)


def test_several_files_take_no_face_choice_and_skip_images_of_several_faces(
    app: App, data: Path
) -> None:
    gallery = politicians(app, data)
    case = authorised_case(app)
    single = EXAMPLES / "obama2.jpg"
    with pytest.raises(InvalidInputError, match="name exactly one image file"):
        search(app, case, gallery, [GROUP, single], face_choice=FaceChoice(face=1))
    with app.unit_of_work() as uow:
        assert uow.session.scalars(select(Search)).all() == []

    report = search(app, case, gallery, [GROUP, single])
    assert [p.source for p in report.probes] == [str(single)]
    assert report.probes[0].candidates[0].subject == "obama"
    (error,) = report.errors
    assert error.source == str(GROUP) and "3 faces found and none chosen" in error.error
    with app.unit_of_work() as uow:  # the group photo left no media row and no face
        assert uow.session.scalar(select(func.count(MediaItem.id))) == 1


def occluded_copy(engine: FaceEngine, source: Path, folder: Path) -> tuple[Path, ManualMark]:
    """A copy of a real photo with a black band across the brows and another over the mouth
    and chin, which the detector no longer finds; the mark a person would make on it: the
    face's box and its eye centres (the engine's landmarks on the unmodified photo)."""
    pixels = load_image(source).pixels
    (face,) = engine.analyse(pixels)
    (ax, ay), (bx, by) = face.landmarks.eye_centres
    eye, b = abs(bx - ax), face.detection.box
    top, nose_y = min(ay, by), face.landmarks.nose[1]
    occluded = pixels.copy()
    occluded[int(top - 0.5 * eye) : int(top - 0.1 * eye), :] = 0
    occluded[int(nose_y + 0.1 * eye) :, b.x : b.x + b.w] = 0
    path = folder / "occluded.png"
    Image.fromarray(occluded).save(path)
    return path, ManualMark(b, face.landmarks.eye_centres)


def test_a_face_the_detector_misses_marked_by_hand_is_found_at_rank_1(
    app: App, data: Path, engine: FaceEngine, tmp_path: Path
) -> None:
    gallery = politicians(app, data)
    case = authorised_case(app)
    probe_path, mark = occluded_copy(engine, EXAMPLES / "obama2.jpg", tmp_path)
    assert engine.detect(load_image(probe_path).pixels) == []  # the detector really misses it
    assert (
        search(app, case, gallery, [probe_path])
        .errors[0]
        .error.endswith("(a face the detector missed can be marked by hand)")
    )

    report = search(
        app,
        case,
        gallery,
        [probe_path],
        face_choice=FaceChoice(mark=mark),
        # A face no detector found scores 0 for detection, which the quality model counts
        # heavily: it is searched on the operator's recorded reason, and says so.
        low_quality_justification="the only image of the suspect; face partly covered",
    )
    (probe,) = report.probes
    assert probe.candidates[0].subject == "obama" and probe.candidates[0].rank == 1
    assert probe.marked_by == app.actor and probe.box == mark.box.as_list()
    with app.unit_of_work() as uow:
        (row,) = uow.session.scalars(
            select(Face).where(Face.media_item_id.is_not(None), Face.detector == "manual")
        ).all()
        assert row.marked_by == app.actor and row.detector_score == 0.0
        eyes = [tuple(p) for p in row.landmarks[1:3]]
        assert eyes == [tuple(round(v, 2) for v in p) for p in mark.eyes]
        (last,) = uow.session.scalars(select(Search).order_by(Search.started_at.desc()).limit(1))
        assert last.parameters["face_choice"]["by"] == "marked by hand"

    shown = show_candidate(app.acting_as(SUPERVISOR), probe.candidates[0].candidate_id)
    assert shown.marked_by == app.actor
    html = Path(case_report(app.acting_as(SUPERVISOR), case).html).read_text()
    assert f"manually marked by {app.actor}" in html


def test_a_face_the_detector_found_is_chosen_not_marked(app: App, data: Path) -> None:
    gallery = politicians(app, data)
    case = authorised_case(app)
    (face,) = list_probe_faces(app, case, EXAMPLES / "obama2.jpg").faces
    x, y, w, h = face.box
    mark = ManualMark(Box(x, y, w, h), ((x + 0.35 * w, y + 0.4 * h), (x + 0.65 * w, y + 0.4 * h)))
    with pytest.raises(InvalidInputError, match=r"the detector found the marked face \(face 1"):
        search(app, case, gallery, [EXAMPLES / "obama2.jpg"], face_choice=FaceChoice(mark=mark))
    with app.unit_of_work() as uow:
        assert uow.session.scalars(select(Search)).all() == []


def test_a_mark_outside_its_image_is_refused(app: App, data: Path, tmp_path: Path) -> None:
    gallery = politicians(app, data)
    case = authorised_case(app)
    blank = tmp_path / "sky.png"
    Image.fromarray(np.full((200, 300, 3), 120, np.uint8)).save(blank)
    mark = ManualMark(Box(250, 10, 100, 100), ((270.0, 40.0), (290.0, 40.0)))
    with pytest.raises(InvalidInputError, match=r"reaches outside the image \(300x200"):
        search(app, case, gallery, [blank], face_choice=FaceChoice(mark=mark))
