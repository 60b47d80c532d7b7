"""The protocol every vector index implements, and its result type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class SearchHits:
    """Top-k results per query; ids of -1 mark empty slots (fewer than k entries)."""

    scores: NDArray[np.float32]  # (Q, k) float32, inner product = cosine for unit vectors
    ids: NDArray[np.int64]  # (Q, k) int64


class BlobCipher(Protocol):
    """What an index needs to keep its file encrypted at rest (``store.data_protection.DataCipher``
    implements it; the index layer knows nothing of keys). ``decrypt`` raises a
    ``RetrofaceError`` when a blob cannot be opened."""

    @property
    def enabled(self) -> bool: ...

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes: ...

    def decrypt(self, blob: bytes, associated: bytes) -> bytes: ...


class VectorIndex(Protocol):
    """One interface over exact and (later) approximate indexes."""

    #: A factory-style description recorded with every search, e.g. ``"Flat,IP"``.
    config: str
    dimension: int

    def __len__(self) -> int: ...

    def add(self, ids: NDArray[np.integer], vectors: NDArray[np.floating]) -> None: ...

    def remove(self, ids: NDArray[np.integer]) -> int: ...

    def search(self, queries: NDArray[np.floating], k: int) -> SearchHits: ...

    def save(self, path: Path, state: str, cipher: BlobCipher | None = None) -> None: ...
