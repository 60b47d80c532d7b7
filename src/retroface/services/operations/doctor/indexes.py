"""Doctor: gallery index files — each (base, manifest and delta segments) agrees with the
database's active templates; files no gallery owns."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

from retroface.faces.types import ModelInfo
from retroface.index import open_segments, segment_files
from retroface.index.segments import DELTA_FILE, remove_unlisted_delta
from retroface.services.app import App
from retroface.services.biometrics.gallery_index import (
    active_template_ids,
    index_path,
    rebuild_gallery_index,
    state_token,
)
from retroface.services.operations.data_directory import is_leftover
from retroface.services.operations.doctor.findings import (
    INDEX_FILE,
    Finding,
    Repair,
    make_finding,
    record_repair,
)
from retroface.store.models import (
    Gallery,
    Subject,
    Template,
)
from retroface.store.unit_of_work import UnitOfWork


def _gallery_models(uow: UnitOfWork) -> list[tuple[Gallery, ModelInfo]]:
    """Every (gallery, model) that has templates: each needs an index that agrees."""
    rows = uow.session.execute(
        select(Subject.gallery_id, Template.model_name, Template.model_version, Template.dimension)
        .join(Subject, Template.subject_id == Subject.id)
        .distinct()
    ).all()
    galleries = {g.id: g for g in uow.session.scalars(select(Gallery))}
    return sorted(
        ((galleries[g], ModelInfo(name, version, dim)) for g, name, version, dim in rows),
        key=lambda pair: (pair[0].id, pair[1].tag),
    )


def _index_disagreement(
    uow: UnitOfWork, index_dir: Path, gallery: Gallery, model: ModelInfo
) -> str | None:
    """Why the persisted index of ``gallery`` for ``model`` disagrees with the database."""
    wanted = active_template_ids(uow, gallery.id, model)
    path = index_path(index_dir, gallery, model)
    if not path.exists():
        return None if len(wanted) == 0 else f"{path.name}: missing"
    index = open_segments(path, model.dimension, uow.cipher)  # sealed where encrypted
    if index is None:
        return f"{path.name}: unreadable or incomplete (base, manifest or a delta segment)"
    token = index.state
    if token != state_token(gallery.id, gallery.version, model):
        return f"{path.name}: saved for another gallery version ({token})"
    held = np.sort(index.ids())
    if len(held) != len(wanted):
        return f"{path.name}: {len(held)} templates, the database has {len(wanted)}"
    if not np.array_equal(held, wanted):
        return f"{path.name}: template ids differ from the database's"
    return None


def _index_problems(app: App) -> tuple[int, list[tuple[int, ModelInfo, str]]]:
    """(indexes expected, [(gallery id, model, why it disagrees)])."""
    with app.unit_of_work() as uow:
        pairs = _gallery_models(uow)
        problems = [
            (gallery.id, model, why)
            for gallery, model in pairs
            if (why := _index_disagreement(uow, app.settings.index_dir, gallery, model)) is not None
        ]
    return len(pairs), problems


def gallery_indexes(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    expected, problems = _index_problems(app)

    def fix() -> int:
        _, current = _index_problems(app)  # earlier repairs may have changed galleries
        with app.unit_of_work() as uow:
            for gallery_id, model, _why in current:
                gallery = uow.session.get(Gallery, gallery_id)
                assert gallery is not None
                rebuild_gallery_index(
                    uow, app.settings.index_dir, gallery, model, app.settings.index_exact_max
                )
            record_repair(
                uow,
                app,
                "gallery-indexes",
                len(current),
                rebuilt=[f"gallery {g} model {m.tag}" for g, m, _ in current],
            )
            uow.commit()
        return len(current)

    finding = make_finding(
        "gallery-indexes",
        [why for _, _, why in problems],
        ok=f"{expected} gallery index(es) agree with the database (version, count, ids)",
        found="{n} gallery index(es) missing or disagreeing with the database",
        repair="rebuild each from the database's templates (searches rebuild them anyway)",
    )
    return finding, fix if problems else None


def orphan_index_files(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Index files no gallery's templates explain: a deleted gallery, a stale foreign model,
    a delta segment no manifest names (a crash between the delta and its manifest)."""
    index_dir = app.settings.index_dir
    orphans: list[Path] = []
    with app.unit_of_work() as uow:
        expected = {index_path(index_dir, g, m) for g, m in _gallery_models(uow)}
        galleries = {g.id: g for g in uow.session.scalars(select(Gallery))}
    if index_dir.is_dir():
        for path in sorted(index_dir.iterdir()):
            delta = DELTA_FILE.match(path.name)
            if delta is not None:
                base = path.with_name(f"{delta['stem']}.faiss")
                if base not in expected or path in segment_files(base, unlisted=True):
                    orphans.append(path)  # the delta of an index that is gone, or unlisted
                continue
            if not path.is_file() or is_leftover(path, app.settings.home):
                continue
            faiss_file = path if path.suffix == ".faiss" else path.with_suffix(".faiss")
            if path.suffix not in {".faiss", ".json"} or faiss_file in expected:
                continue
            match = INDEX_FILE.match(faiss_file.name)
            gallery = galleries.get(int(match.group(1))) if match else None
            if gallery is None or not _empty_and_current(faiss_file, gallery):
                orphans.append(path)

    def fix() -> int:
        with app.unit_of_work() as uow:
            record_repair(
                uow, app, "orphan-index-files", len(orphans), files=[p.name for p in orphans]
            )
            uow.commit()
        for path in sorted(orphans, key=lambda p: DELTA_FILE.match(p.name) is not None):
            if DELTA_FILE.match(path.name) is None:
                path.unlink(missing_ok=True)
            else:
                remove_unlisted_delta(path)  # after its base; unless an append listed it since
        return len(orphans)

    finding = make_finding(
        "orphan-index-files",
        [p.name for p in orphans],
        ok="every index file belongs to a gallery and model in the database",
        found="{n} index file(s) belong to no gallery, or to a model it has no templates of",
        repair="delete them (an index is rebuilt from the database when next used)",
    )
    return finding, fix if orphans else None


def _empty_and_current(faiss_file: Path, gallery: Gallery) -> bool:
    """An index for a model the gallery has no templates of is fine if empty and current
    (a search with another embedder saves one)."""
    try:
        meta = json.loads(faiss_file.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return False
    prefix = f"gallery={gallery.id};version={gallery.version};model="
    deltas = (meta.get("segments") or {}).get("deltas") or []
    return str(meta.get("state", "")).startswith(prefix) and meta.get("n") == 0 and not deltas
