"""Keep each gallery's persisted vector index in step with the database.

The database is the source of truth. Every change to a gallery bumps its
version in the same transaction; the index file is saved with the version
(and model) it reflects. On use, a matching token means the file can be
trusted; anything else (a crash between commit and save, a copied database,
a deleted file) triggers a rebuild from the database.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retroface.faces.types import ModelInfo
from retroface.index import FlatIndex
from retroface.store.models import Gallery
from retroface.store.unit_of_work import UnitOfWork


def state_token(gallery_id: int, version: int, model: ModelInfo) -> str:
    return f"gallery={gallery_id};version={version};model={model.tag}"


def index_path(index_dir: Path, gallery: Gallery, model: ModelInfo) -> Path:
    safe_model = "".join(c if c.isalnum() or c in "-_" else "_" for c in model.tag)
    return index_dir / f"gallery-{gallery.id}-{safe_model}.faiss"


def load_gallery_index(
    uow: UnitOfWork, index_dir: Path, gallery: Gallery, model: ModelInfo
) -> FlatIndex:
    """The gallery's index for this model, rebuilt and re-saved if it disagrees with the DB."""
    path = index_path(index_dir, gallery, model)
    wanted = state_token(gallery.id, gallery.version, model)
    loaded = FlatIndex.load(path, model.dimension)
    if loaded is not None and loaded[1] == wanted:
        return loaded[0]
    return rebuild_gallery_index(uow, index_dir, gallery, model)


def rebuild_gallery_index(
    uow: UnitOfWork, index_dir: Path, gallery: Gallery, model: ModelInfo
) -> FlatIndex:
    ids, vectors = uow.templates.gallery_vectors(
        gallery.id, model.name, model.version, model.dimension
    )
    index = FlatIndex(model.dimension)
    index.add(ids, vectors)
    index.save(
        index_path(index_dir, gallery, model), state_token(gallery.id, gallery.version, model)
    )
    return index


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
) -> FlatIndex:
    """Apply a known change to an index that was current at ``from_version``, else rebuild."""
    path = index_path(index_dir, gallery, model)
    loaded = FlatIndex.load(path, model.dimension)
    before = state_token(gallery.id, from_version, model)
    if loaded is None or loaded[1] != before:
        return rebuild_gallery_index(uow, index_dir, gallery, model)
    index = loaded[0]
    if removed_ids:
        index.remove(np.asarray(removed_ids, dtype=np.int64))
    if added_ids:
        index.add(np.asarray(added_ids, dtype=np.int64), np.vstack(added_vectors))
    index.save(path, state_token(gallery.id, gallery.version, model))
    return index


def discard_gallery_indexes(index_dir: Path, gallery_id: int) -> None:
    """Delete every persisted index of a gallery (all models); they rebuild on next use."""
    if not index_dir.is_dir():
        return
    for path in index_dir.glob(f"gallery-{gallery_id}-*"):
        path.unlink(missing_ok=True)
