"""Keep each gallery's vector index in step with the database, in memory and on disk.

The database is the source of truth. Every change to a gallery bumps its
version in the same transaction; an index is held with the version (and
model) it reflects, in this process's memory and in a file in the data
directory (so a new process starts warm). On use, a matching token means the
index can be trusted; anything else (another server changed the gallery, a
crash between commit and save, a copied database, a deleted file) triggers a
rebuild from the database. Changes are applied to a copy that replaces the
held index, so a search running meanwhile never sees a half-changed index.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from retroface.faces.types import ModelInfo
from retroface.index import EXACT_MAX, AnyIndex, FlatIndex, build_index, load_index
from retroface.store.models import Gallery
from retroface.store.unit_of_work import UnitOfWork

_held: dict[Path, tuple[str, AnyIndex]] = {}
_held_lock = threading.Lock()


def _hold(path: Path, token: str, index: AnyIndex) -> AnyIndex:
    with _held_lock:
        _held[path] = (token, index)
    return index


def _held_index(path: Path, token: str) -> AnyIndex | None:
    with _held_lock:
        found = _held.get(path)
    return found[1] if found is not None and found[0] == token else None


def forget_held_indexes() -> None:
    """Drop every index held in memory (as a fresh process starts): the next use reloads."""
    with _held_lock:
        _held.clear()


def _current(path: Path, token: str, dimension: int, uow: UnitOfWork) -> AnyIndex | None:
    """The index at ``path`` if it reflects ``token``: held in memory, else from its file
    (sealed where the data directory is encrypted)."""
    held = _held_index(path, token)
    if held is not None:
        return held
    loaded = load_index(path, dimension, uow.cipher)
    return _hold(path, token, loaded[0]) if loaded is not None and loaded[1] == token else None


def _keep(path: Path, token: str, index: AnyIndex, uow: UnitOfWork) -> AnyIndex:
    """Save the index with its token (sealed where the directory is encrypted); hold it."""
    index.save(path, token, uow.cipher)
    return _hold(path, token, index)


def state_token(gallery_id: int, version: int, model: ModelInfo) -> str:
    return f"gallery={gallery_id};version={version};model={model.tag}"


def index_path(index_dir: Path, gallery: Gallery, model: ModelInfo) -> Path:
    safe_model = "".join(c if c.isalnum() or c in "-_" else "_" for c in model.tag)
    return index_dir / f"gallery-{gallery.id}-{safe_model}.faiss"


def load_gallery_index(
    uow: UnitOfWork,
    index_dir: Path,
    gallery: Gallery,
    model: ModelInfo,
    exact_max: int = EXACT_MAX,
) -> AnyIndex:
    """The gallery's index for this model, rebuilt and re-saved if it disagrees with the DB."""
    path = index_path(index_dir, gallery, model)
    wanted = state_token(gallery.id, gallery.version, model)
    current = _current(path, wanted, model.dimension, uow)
    if current is not None:
        return current
    return rebuild_gallery_index(uow, index_dir, gallery, model, exact_max)


def rebuild_gallery_index(
    uow: UnitOfWork,
    index_dir: Path,
    gallery: Gallery,
    model: ModelInfo,
    exact_max: int = EXACT_MAX,
) -> AnyIndex:
    """Build from the database: exact up to ``exact_max`` templates, IVF beyond."""
    ids, vectors = uow.templates.gallery_vectors(
        gallery.id, model.name, model.version, model.dimension
    )
    index = build_index(ids, vectors, model.dimension, exact_max=exact_max)
    token = state_token(gallery.id, gallery.version, model)
    return _keep(index_path(index_dir, gallery, model), token, index, uow)


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
) -> AnyIndex:
    """Apply a known change to an index that was current at ``from_version``, else rebuild."""
    path = index_path(index_dir, gallery, model)
    current = _current(path, state_token(gallery.id, from_version, model), model.dimension, uow)
    if current is None:
        return rebuild_gallery_index(uow, index_dir, gallery, model, exact_max)
    if isinstance(current, FlatIndex) and len(current) + len(added_ids) > exact_max:
        return rebuild_gallery_index(uow, index_dir, gallery, model, exact_max)  # now IVF
    index = current.copy()  # never change an index others may be searching (or a mapped file)
    if removed_ids:
        index.remove(np.asarray(removed_ids, dtype=np.int64))
    if added_ids:
        index.add(np.asarray(added_ids, dtype=np.int64), np.vstack(added_vectors))
    return _keep(path, state_token(gallery.id, gallery.version, model), index, uow)


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
    for path in index_dir.glob(f"gallery-{gallery_id}-*"):
        path.unlink(missing_ok=True)
