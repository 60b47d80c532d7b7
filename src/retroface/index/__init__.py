"""Vector search behind one protocol (add, search, remove), FAISS-style.

Knows nothing of the SQL schema: callers give integer ids and vectors, and
a *state token* that lets them tell whether a persisted index still matches
their source of truth.

The names below are imported from their modules on first use (PEP 562), so importing one
module of the package does not load the others; FAISS itself loads when an index is built or read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retroface.lazy_names import lazy_names

if TYPE_CHECKING:
    from retroface.index.flat_index import FlatIndex
    from retroface.index.index_choice import EXACT_MAX, SingleIndex, build_index, load_index
    from retroface.index.ivf_index import IvfIndex
    from retroface.index.segments import (
        AnyIndex,
        SegmentedIndex,
        append_delta,
        drop_deltas,
        index_label,
        merge_segments,
        open_segments,
        remove_index_files,
        save_base,
        segment_files,
    )
    from retroface.index.self_search import SelfNeighbours, self_neighbours
    from retroface.index.vector_index import BlobCipher, SearchHits, VectorIndex

#: Where each name below lives; it is imported from there on first use.
_SOURCES = {
    "FlatIndex": "retroface.index.flat_index",
    "EXACT_MAX": "retroface.index.index_choice",
    "SingleIndex": "retroface.index.index_choice",
    "AnyIndex": "retroface.index.segments",
    "SegmentedIndex": "retroface.index.segments",
    "append_delta": "retroface.index.segments",
    "drop_deltas": "retroface.index.segments",
    "index_label": "retroface.index.segments",
    "merge_segments": "retroface.index.segments",
    "open_segments": "retroface.index.segments",
    "remove_index_files": "retroface.index.segments",
    "save_base": "retroface.index.segments",
    "segment_files": "retroface.index.segments",
    "build_index": "retroface.index.index_choice",
    "load_index": "retroface.index.index_choice",
    "IvfIndex": "retroface.index.ivf_index",
    "SelfNeighbours": "retroface.index.self_search",
    "self_neighbours": "retroface.index.self_search",
    "BlobCipher": "retroface.index.vector_index",
    "SearchHits": "retroface.index.vector_index",
    "VectorIndex": "retroface.index.vector_index",
}

__all__ = [
    "EXACT_MAX",
    "AnyIndex",
    "BlobCipher",
    "FlatIndex",
    "IvfIndex",
    "SearchHits",
    "SegmentedIndex",
    "SelfNeighbours",
    "SingleIndex",
    "VectorIndex",
    "append_delta",
    "build_index",
    "drop_deltas",
    "index_label",
    "load_index",
    "merge_segments",
    "open_segments",
    "remove_index_files",
    "save_base",
    "segment_files",
    "self_neighbours",
]


if not TYPE_CHECKING:  # type checkers read the imports above (a __getattr__ would admit any name)
    __getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)
