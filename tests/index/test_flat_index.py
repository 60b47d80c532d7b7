"""The exact index: search agrees with brute force, removal is immediate, persistence is checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retroface.index import FlatIndex


def _unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_matches_brute_force() -> None:
    vectors = _unit(500)
    ids = np.arange(1000, 1500)
    index = FlatIndex(16)
    index.add(ids, vectors)
    queries = _unit(5, seed=1)
    hits = index.search(queries, 10)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :10] + 1000
    assert np.array_equal(hits.ids, expected)


def test_removed_ids_are_never_returned() -> None:
    vectors = _unit(50)
    index = FlatIndex(16)
    index.add(np.arange(50), vectors)
    assert index.remove(np.array([7])) == 1
    hits = index.search(vectors[7:8], 50)
    assert 7 not in hits.ids[0] and len(index) == 49


def test_persisted_index_round_trips_with_its_state(tmp_path: Path) -> None:
    index = FlatIndex(16)
    index.add(np.arange(10), _unit(10))
    path = tmp_path / "g.faiss"
    index.save(path, "version=3")
    loaded = FlatIndex.load(path, 16)
    assert loaded is not None
    again, state = loaded
    assert state == "version=3" and np.array_equal(again.ids(), np.arange(10))


def test_corrupt_or_mismatched_index_is_not_trusted(tmp_path: Path) -> None:
    index = FlatIndex(16)
    index.add(np.arange(10), _unit(10))
    path = tmp_path / "g.faiss"
    index.save(path, "v1")
    assert FlatIndex.load(path, 32) is None  # other dimension
    path.write_bytes(path.read_bytes()[:100])
    assert FlatIndex.load(path, 16) is None  # truncated
    assert FlatIndex.load(tmp_path / "absent.faiss", 16) is None


def test_empty_index_search_returns_no_hits() -> None:
    hits = FlatIndex(16).search(_unit(2), 5)
    assert (hits.ids == -1).all()
