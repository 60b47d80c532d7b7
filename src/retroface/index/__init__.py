"""Vector search behind one protocol (add, search, remove), FAISS-style.

Knows nothing of the SQL schema: callers give integer ids and vectors, and
a *state token* that lets them tell whether a persisted index still matches
their source of truth.
"""

from retroface.index.flat_index import FlatIndex
from retroface.index.index_choice import EXACT_MAX, AnyIndex, build_index, load_index
from retroface.index.ivf_index import IvfIndex
from retroface.index.vector_index import BlobCipher, SearchHits, VectorIndex

__all__ = [
    "EXACT_MAX",
    "AnyIndex",
    "BlobCipher",
    "FlatIndex",
    "IvfIndex",
    "SearchHits",
    "VectorIndex",
    "build_index",
    "load_index",
]
