"""The bench-only bulk import writes the rows an enrolment writes, audited as bench-only, and
goes through the real index: its templates are searchable at once."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from retroface.errors import AuthorisationError
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.services import App
from retroface.services.biometrics.gallery_index import load_gallery_index
from retroface.services.galleries import bench_import
from retroface.services.galleries.manage import create_gallery
from retroface.store.models import AuditEvent, Face, GalleryChange, ReferenceImage, Template

PROVENANCE = SubjectProvenance("suspect", "bench", "BENCH", "custody-image")


def test_bench_import_writes_audited_rows_and_indexes_them(
    app: App, supervisor: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_import, "BATCH", 40)
    create_gallery(supervisor, "g")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(100, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"synthetic-{i}" for i in range(100)]
    with pytest.raises(AuthorisationError):
        bench_import.bench_import_templates(app, "g", names, vectors, PROVENANCE)
    report = bench_import.bench_import_templates(supervisor, "g", names, vectors, PROVENANCE)
    assert report.subjects_created == 100 and len(report.versions) == 3  # batches of 40
    with app.unit_of_work() as uow:
        count = uow.session.scalar
        assert count(select(func.count(Template.id))) == 100
        assert count(select(func.count(Face.id)).where(Face.detector == "bench-import")) == 100
        assert count(select(func.count(ReferenceImage.id))) == 100
        added = GalleryChange.change == "subject-added"
        assert count(select(func.count(GalleryChange.id)).where(added)) == 100
        events = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "gallery.bench_imported")
        ).all()
        assert len(events) == 3 and all(e.details["bench_only"] for e in events)
        gallery = uow.galleries.require("g")
        assert gallery.version == report.versions[-1]
        index = load_gallery_index(uow, app.settings.index_dir, gallery, app.engine.model)
        hits = index.search(vectors[[5, 77]], 1).ids[:, 0]
        owners = uow.templates.subjects_of(hits.tolist())
        subjects = {s.id: s.name for s in uow.subjects.in_gallery(gallery.id)}
    assert [subjects[owners[int(h)]] for h in hits] == ["synthetic-5", "synthetic-77"]
