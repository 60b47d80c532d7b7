"""Keep each gallery's vector index in step with the database, in memory and on disk.

The database is the source of truth. Every change to a gallery bumps its
version in the same transaction; an index is held with the version (and
model) it reflects (its *state token*), in this process's memory and in files
in the data directory (so a new process starts warm).

On disk an index is segmented (``index/segments.py``): a base, written whole
only by a rebuild or a merge, and small delta segments, each recording the
version range it covers (from one state token to the next) and the templates
it adds and deletes. A change (an enrolment, a removal, an erasure) appends
one delta: its cost is the change's size, not the gallery's. Searches hold
an index whose token matches the gallery's version:

- held in memory at that version: used as it is;
- else the files are read, only the deltas not yet applied when the base is
  the one held (another server's enrolment costs this process one small file);
- if the files stop short of the database's version (a removal or restore, a
  crash between commit and delta, another server with its own data directory),
  the index *catches up* by one delta: from the change log of the versions it
  lacks where those only added, removed or restored subjects (their templates
  are read by subject), else by comparing every template id the database holds
  for the gallery with the index's. No rebuild (no retraining of a
  million-template IVF) is needed;
- anything else (no files, unreadable, another model, a large difference)
  rebuilds from the database.

A held index is never changed: a change makes a new one sharing the base, so
a search running meanwhile never sees a half-changed index. When the deltas
grow past a share of the base they are merged into a new base in a
background thread (``merge_segments``); a deletion that must leave the disk
now (an erasure, a final purge) merges at once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from retroface.faces.types import ModelInfo
from retroface.index import (
    EXACT_MAX,
    SegmentedIndex,
    append_delta,
    build_index,
    index_label,
    merge_segments,
    open_segments,
    remove_index_files,
    save_base,
)
from retroface.store.models import Gallery, GalleryChange, Subject, Template
from retroface.store.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from retroface.services.app import App

#: Catch up by a delta when the database differs from the index by at most this many
#: templates or a quarter of the gallery (whichever is more); rebuild beyond.
CATCH_UP_MIN = 50_000

_held: dict[Path, SegmentedIndex] = {}
_held_lock = threading.Lock()
_merging: set[Path] = set()
#: (index folder, gallery id) → (gallery version, active subjects at that version)
_counted: dict[tuple[Path, int], tuple[int, int]] = {}


def _hold(path: Path, index: SegmentedIndex) -> SegmentedIndex:
    with _held_lock:
        _held[path] = index
    return index


def _held_index(path: Path) -> SegmentedIndex | None:
    with _held_lock:
        return _held.get(path)


def forget_held_indexes() -> None:
    """Drop every index held in memory (as a fresh process starts): the next use reloads."""
    with _held_lock:
        _held.clear()
        _counted.clear()


#: Above this many subjects changed since the version counted, count again instead.
_MOST_CHANGED_TO_REPLAY = 10_000


def active_subjects(uow: UnitOfWork, index_dir: Path, gallery: Gallery) -> int:
    """The gallery's active subjects (recorded in ``search.started``), known per gallery
    version in this process: every change bumps the version, so a version's count never
    changes. The first search of a process counts them (on the subjects' (gallery,
    removed) index: ~0.2 s at a million subjects on PostgreSQL, bench/gallery_scale.py);
    after a change, the count known for an earlier version is moved on by the change
    log of the subjects changed since (a few indexed rows), so it no longer grows with
    the gallery."""
    key = (index_dir, gallery.id)
    with _held_lock:
        found = _counted.get(key)
    if found is not None and found[0] == gallery.version:
        return found[1]
    change = None
    if found is not None and found[0] < gallery.version:
        change = uow.galleries.membership_change(
            gallery.id, found[0], gallery.version, _MOST_CHANGED_TO_REPLAY
        )
    if found is not None and change is not None:
        count = found[1] + change
    else:
        count = uow.galleries.active_subjects(gallery.id)
    with _held_lock:
        _counted[key] = (gallery.version, count)
    return count


def state_token(gallery_id: int, version: int, model: ModelInfo) -> str:
    return f"gallery={gallery_id};version={version};model={model.tag}"


def _version_of(token: str, gallery_id: int, model: ModelInfo) -> int | None:
    """The gallery version a token of this gallery and model names (None: another's)."""
    prefix, sep, rest = token.partition(";version=")
    version, sep2, tail = rest.partition(";model=")
    if not sep or not sep2 or prefix != f"gallery={gallery_id}" or tail != model.tag:
        return None
    return int(version) if version.isdigit() else None


def index_path(index_dir: Path, gallery: Gallery, model: ModelInfo) -> Path:
    safe_model = "".join(c if c.isalnum() or c in "-_" else "_" for c in model.tag)
    return index_dir / f"gallery-{gallery.id}-{safe_model}.faiss"


def active_template_ids(uow: UnitOfWork, gallery_id: int, model: ModelInfo) -> NDArray[np.int64]:
    """The ids the gallery's index must hold for ``model`` (active subjects only), sorted."""
    ids = uow.session.scalars(
        select(Template.id)
        .join(Subject, Template.subject_id == Subject.id)
        .where(
            Subject.gallery_id == gallery_id,
            Subject.removed_at.is_(None),
            Template.model_name == model.name,
            Template.model_version == model.version,
        )
        .order_by(Template.id)
    ).all()
    return np.asarray(ids, dtype=np.int64)


def _template_vectors(
    uow: UnitOfWork, ids: NDArray[np.int64], dimension: int
) -> NDArray[np.float32]:
    """The vectors of templates ``ids``, in that order (decrypted where encrypted)."""
    found: dict[int, NDArray[np.float32]] = {}
    for start in range(0, len(ids), 1000):
        chunk = [int(i) for i in ids[start : start + 1000]]
        for template_id, face_id, blob in uow.session.execute(
            select(Template.id, Template.face_id, Template.vector).where(Template.id.in_(chunk))
        ):
            found[template_id] = uow.templates.vector_of(face_id, blob)
    rows = [found[int(i)] for i in ids]
    return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dimension), np.float32)


def load_gallery_index(
    uow: UnitOfWork,
    index_dir: Path,
    gallery: Gallery,
    model: ModelInfo,
    exact_max: int = EXACT_MAX,
) -> SegmentedIndex:
    """The gallery's index for this model at the database's version: held, read (only new
    deltas where the base is held), caught up by one delta, or rebuilt."""
    path = index_path(index_dir, gallery, model)
    wanted = state_token(gallery.id, gallery.version, model)
    held = _held_index(path)
    if held is not None and held.state == wanted:
        return held
    found = open_segments(path, model.dimension, uow.cipher, held)
    if found is not None:
        _hold(path, found)
        caught = _caught_up(uow, path, gallery, model, found)
        if caught is not None:
            _merge_when_due(path, caught, uow, exact_max)
            return caught
    return rebuild_gallery_index(uow, index_dir, gallery, model, exact_max)


def _caught_up(
    uow: UnitOfWork, path: Path, gallery: Gallery, model: ModelInfo, found: SegmentedIndex
) -> SegmentedIndex | None:
    """``found`` brought to the gallery's version by one delta made from the database's
    template ids, or None where a rebuild is due (another gallery or model, too far)."""
    wanted = state_token(gallery.id, gallery.version, model)
    for _ in range(3):  # another process may append meanwhile: read again and retry
        version = _version_of(found.state, gallery.id, model)
        if version is None:
            return None
        if found.state == wanted or version > gallery.version:
            return found  # newer than this transaction's view of the gallery: never older
        change = _logged_change(uow, gallery, model, found, version)
        if change is None:  # not only joins and leaves: compare every template id
            in_db = active_template_ids(uow, gallery.id, model)
            held = np.sort(found.ids())
            change = (
                np.setdiff1d(in_db, held, assume_unique=True),
                np.setdiff1d(held, in_db, assume_unique=True),
            )
            if len(change[0]) + len(change[1]) > max(CATCH_UP_MIN, len(in_db) // 4):
                return None
        added, removed = change
        delta = append_delta(
            path,
            from_state=found.state,
            state=wanted,
            ids=added,
            vectors=_template_vectors(uow, added, model.dimension),
            removed=removed,
            dimension=model.dimension,
            cipher=uow.cipher,
        )
        if delta is not None:
            return _hold(path, found.applied(delta))
        again = open_segments(path, model.dimension, uow.cipher, found)
        if again is None:
            return None
        found = _hold(path, again)
    return None


#: Changes whose templates are still in the database, found by their subject: an index
#: behind by these catches up from the change log alone (no pass over the gallery).
_LOGGED = frozenset({"subject-added", "image-added", "subject-removed", "subject-restored"})
#: Most change-log rows read that way (a bulk enrolment's: compare every id instead).
_LOGGED_MAX = 5_000


def _logged_change(
    uow: UnitOfWork, gallery: Gallery, model: ModelInfo, found: SegmentedIndex, version: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """(template ids to add, to delete) taking ``found`` (at ``version``) to the gallery's
    version, from the change log's subjects: None when a change in the range is of another
    kind (a purge or erasure deletes templates the log cannot name) or the range is large."""
    rows = uow.session.execute(
        select(GalleryChange.subject_id, GalleryChange.change)
        .where(
            GalleryChange.gallery_id == gallery.id,
            GalleryChange.version > version,
            GalleryChange.version <= gallery.version,
        )
        .limit(_LOGGED_MAX + 1)
    ).all()
    if len(rows) > _LOGGED_MAX or any(c not in _LOGGED or s is None for s, c in rows):
        return None
    templates = uow.session.execute(
        select(Template.id, Subject.removed_at)
        .join(Subject, Template.subject_id == Subject.id)
        .where(
            Subject.id.in_({int(s) for s, _ in rows}),
            Subject.gallery_id == gallery.id,
            Template.model_name == model.name,
            Template.model_version == model.version,
        )
    ).all()
    ids = np.asarray([t for t, _ in templates], dtype=np.int64)
    active = np.asarray([r is None for _, r in templates], dtype=bool)
    held = found.contains(ids)
    return ids[active & ~held], ids[~active & held]


def rebuild_gallery_index(
    uow: UnitOfWork,
    index_dir: Path,
    gallery: Gallery,
    model: ModelInfo,
    exact_max: int = EXACT_MAX,
) -> SegmentedIndex:
    """Build from the database: exact up to ``exact_max`` templates, IVF beyond; saved as a
    new base with no deltas."""
    ids, vectors = uow.templates.gallery_vectors(
        gallery.id, model.name, model.version, model.dimension
    )
    index = build_index(ids, vectors, model.dimension, exact_max=exact_max)
    token = state_token(gallery.id, gallery.version, model)
    path = index_path(index_dir, gallery, model)
    label = {"model": model.name, "model_version": model.version, "dimension": model.dimension}
    return _hold(path, save_base(path, index, token, uow.cipher, label))


def update_gallery_index(
    uow: UnitOfWork,
    index_dir: Path,
    gallery: Gallery,
    model: ModelInfo,
    *,
    from_version: int,
    added_ids: list[int],
    added_vectors: list[np.ndarray],
    removed_ids: list[int] | None = None,
    exact_max: int = EXACT_MAX,
) -> SegmentedIndex:
    """Append a known change (one version per added template, as enrolment makes them) to an
    index that was current at ``from_version``: one delta segment. Where someone else
    changed the gallery meanwhile, or the index is behind, it catches up from the database."""
    path = index_path(index_dir, gallery, model)
    from_state = state_token(gallery.id, from_version, model)
    current = _held_index(path)
    if current is None or current.state != from_state:
        current = open_segments(path, model.dimension, uow.cipher, current)
    own_change = gallery.version - from_version == len(added_ids) and not removed_ids
    if current is None or current.state != from_state or not own_change:
        return load_gallery_index(uow, index_dir, gallery, model, exact_max)
    delta = append_delta(
        path,
        from_state=from_state,
        state=state_token(gallery.id, gallery.version, model),
        ids=np.asarray(added_ids, dtype=np.int64),
        vectors=np.vstack(added_vectors) if added_vectors else np.zeros((0, model.dimension)),
        removed=np.asarray(removed_ids or [], dtype=np.int64),
        dimension=model.dimension,
        cipher=uow.cipher,
    )
    if delta is None:
        return load_gallery_index(uow, index_dir, gallery, model, exact_max)
    index = _hold(path, current.applied(delta))
    _merge_when_due(path, index, uow, exact_max)
    return index


def _gallery_models(uow: UnitOfWork, gallery_id: int) -> list[ModelInfo]:
    rows = uow.session.execute(
        select(Template.model_name, Template.model_version, Template.dimension)
        .join(Subject, Template.subject_id == Subject.id)
        .where(Subject.gallery_id == gallery_id)
        .distinct()
    ).all()
    return [ModelInfo(name, version, dim) for name, version, dim in rows]


def refresh_gallery_indexes(app: App, gallery_id: int, *, purge: bool = False) -> None:
    """After a committed change to a gallery (a removal, a restore, an erasure): bring each of
    its index files on disk to the new version by one delta (tombstones for the templates
    gone), so the next search anywhere sees the change without a rebuild. ``purge``: the
    templates must also leave the disk (erasure, final deletion): merge at once."""
    index_dir = app.settings.index_dir
    with app.unit_of_work() as uow:
        gallery = uow.session.get(Gallery, gallery_id)
        if gallery is None:
            discard_gallery_indexes(index_dir, gallery_id)
            return
        models = _indexed_models(index_dir, gallery_id)
        if models is None or purge:  # unlabelled files, or stale models to find: ask the DB
            models = _gallery_models(uow, gallery_id)
        expected = {index_path(index_dir, gallery, m) for m in models}
        for model in models:
            path = index_path(index_dir, gallery, model)
            if path.exists() or _held_index(path) is not None:
                load_gallery_index(uow, index_dir, gallery, model, app.settings.index_exact_max)
                if purge:
                    merge_gallery_index(
                        uow, index_dir, gallery, model, app.settings.index_exact_max, wait=True
                    )
    for stale in _index_files(index_dir, gallery_id) if purge else []:
        if stale not in expected:  # a model with no templates left: nothing to keep
            _forget(stale)
            remove_index_files(stale)


def _index_files(index_dir: Path, gallery_id: int) -> list[Path]:
    return sorted(index_dir.glob(f"gallery-{gallery_id}-*.faiss")) if index_dir.is_dir() else []


def _indexed_models(index_dir: Path, gallery_id: int) -> list[ModelInfo] | None:
    """The models of the gallery's index files, from their labels (None: one has none)."""
    models = []
    for path in _index_files(index_dir, gallery_id):
        label = index_label(path)
        if label is None:
            return None
        models.append(ModelInfo(label["model"], label["model_version"], int(label["dimension"])))
    return models


def merge_gallery_index(
    uow: UnitOfWork,
    index_dir: Path,
    gallery: Gallery,
    model: ModelInfo,
    exact_max: int = EXACT_MAX,
    *,
    wait: bool = False,
) -> bool:
    """Merge the index's deltas into a new base now (True if one was swapped in). ``wait``:
    behind a merge already running (for a deletion that must leave the disk now)."""
    path = index_path(index_dir, gallery, model)
    merged = merge_segments(path, model.dimension, uow.cipher, exact_max=exact_max, wait=wait)
    if merged:
        _forget(path)  # the next use here reads the new base (searches running keep theirs)
    return merged


def _merge_when_due(path: Path, index: SegmentedIndex, uow: UnitOfWork, exact_max: int) -> None:
    """Start a background merge when the deltas have grown past their share of the base."""
    if not index.needs_merge():
        return
    with _held_lock:
        if path in _merging:
            return
        _merging.add(path)
    cipher = uow.cipher

    def run() -> None:
        try:
            if merge_segments(path, index.dimension, cipher, exact_max=exact_max):
                _forget(path)
        except (OSError, RuntimeError, ValueError):  # a merge is an optimisation: next time
            pass
        finally:
            with _held_lock:
                _merging.discard(path)

    threading.Thread(target=run, name=f"merge {path.name}", daemon=True).start()


def _forget(path: Path) -> None:
    with _held_lock:
        _held.pop(path, None)


def discard_gallery_indexes(index_dir: Path, gallery_id: int) -> None:
    """Forget every index of a gallery (all models, memory and disk); they rebuild on next use."""
    with _held_lock:
        for path in [
            p
            for p in _held
            if p.parent == index_dir and p.name.startswith(f"gallery-{gallery_id}-")
        ]:
            del _held[path]
    if not index_dir.is_dir():
        return
    for path in index_dir.glob(f"gallery-{gallery_id}-*.faiss"):
        remove_index_files(path)
    for path in index_dir.glob(f"gallery-{gallery_id}-*"):  # leftovers of older layouts
        if path.is_file():
            path.unlink(missing_ok=True)


def describe_segments(index: Any) -> dict[str, Any] | None:
    """What a search of ``index`` reads (base, deltas, tombstones), for the search's record."""
    return index.segments_read() if isinstance(index, SegmentedIndex) else None
