"""A gallery's index on disk is a base plus delta segments: an enrolment or a removal writes one
small delta and never rewrites the base; a process behind the database catches up by one delta
instead of rebuilding; a final removal merges so the templates leave the disk; every search
records which segments it read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from retroface.index import segment_files
from retroface.services import App
from retroface.services.biometrics import gallery_index
from retroface.services.biometrics.gallery_index import forget_held_indexes
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import remove_subject
from retroface.services.search.photos import search
from retroface.store.models import Search, Template
from tests.helpers import authorised_case, gallery_with, provenance

pytestmark = pytest.mark.needs_data


def _no_rebuilds(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the index was rebuilt from the database")

    monkeypatch.setattr(gallery_index, "build_index", refuse)


def _top(app: App, case: str, probe: Path) -> str | None:
    candidates = search(app, case, "g", [probe]).probes[0].candidates
    return candidates[0].subject if candidates else None


def test_enrolments_and_removals_write_deltas_and_never_rewrite_the_base(
    app: App, supervisor: App, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"]})
    case = authorised_case(app)
    (base,) = app.settings.index_dir.glob("gallery-*.faiss")
    before = (base.stat().st_ino, base.read_bytes())
    _no_rebuilds(monkeypatch)

    enroll(supervisor, "g", [examples / "biden.jpg"], subject="biden",
           provenance=provenance("REC-biden"))  # fmt: skip
    assert len(segment_files(base)) == 1
    forget_held_indexes()  # another process: reads the base and the delta, rebuilds nothing
    assert _top(app, case, examples / "biden.jpg") == "biden"

    def no_full_pass(*_: object) -> None:
        raise AssertionError("a removal read every template id of the gallery")

    monkeypatch.setattr(gallery_index, "active_template_ids", no_full_pass)
    remove_subject(supervisor, "g", "biden")  # a tombstone, visible to the next search at once
    assert len(segment_files(base)) == 2
    assert _top(app, case, examples / "biden.jpg") is None
    forget_held_indexes()
    assert _top(app, case, examples / "biden.jpg") is None
    assert _top(app, case, examples / "obama2.jpg") == "obama"
    assert (base.stat().st_ino, base.read_bytes()) == before

    with app.unit_of_work() as uow:
        recorded = uow.session.scalars(select(Search.parameters).order_by(Search.started_at))
        segments = recorded.all()[-1]["index_segments"]
    assert segments["deltas"] == [1, 2] and segments["tombstones"] == 0
    assert segments["state"].endswith(f"model={app.engine.model.tag}")


def test_a_process_behind_the_database_catches_up_by_one_delta_without_a_rebuild(
    app: App, supervisor: App, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"]})
    case = authorised_case(app)
    (base,) = app.settings.index_dir.glob("gallery-*.faiss")
    enroll(supervisor, "g", [examples / "biden.jpg"], subject="biden",
           provenance=provenance("REC-biden"))  # fmt: skip
    # A crash after the commit, before the delta reached the manifest:
    manifest = base.with_suffix(".json")
    meta = json.loads(manifest.read_text())
    meta["segments"]["deltas"] = []
    manifest.write_text(json.dumps(meta))
    forget_held_indexes()
    _no_rebuilds(monkeypatch)
    assert _top(app, case, examples / "biden.jpg") == "biden"  # caught up from the database
    caught = json.loads(manifest.read_text())["segments"]["deltas"]
    assert len(caught) == 1 and caught[0]["added"] == 1 and caught[0]["removed"] == 0


def test_a_final_removal_merges_so_the_templates_leave_the_index_files(
    app: App, supervisor: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"]})
    case = authorised_case(app)
    enroll(supervisor, "g", [examples / "biden.jpg"], subject="biden",
           provenance=provenance("REC-biden"))  # fmt: skip
    (base,) = app.settings.index_dir.glob("gallery-*.faiss")
    with app.unit_of_work() as uow:
        biden = uow.session.scalars(select(Template).order_by(Template.id)).all()[-1]
        vector = np.asarray(uow.templates.vector_of(biden.face_id, biden.vector), np.float32)
    remove_subject(supervisor, "g", "biden", final=True)
    assert segment_files(base) == []  # merged: the delta holding biden's template is gone
    assert vector.tobytes()[:32] not in base.read_bytes()
    assert _top(app, case, examples / "biden.jpg") is None
