"""The exact index: search agrees with brute force, removal is immediate, persistence is checked."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from retroface.index import FlatIndex, load_index


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


def _save_repeatedly(path: Path, rows: int, times: int) -> None:
    index = FlatIndex(16)
    index.add(np.arange(rows), _unit(rows, seed=rows))
    for _ in range(times):
        index.save(path, f"rows={rows}")


def test_processes_saving_one_index_at_once_never_leave_a_mismatched_pair(
    tmp_path: Path,
) -> None:
    """Two enrolments into one gallery save its index at the same moment: every save lands
    whole, and a reader meanwhile always finds data and token that belong together."""
    path = tmp_path / "index" / "gallery-1-m.faiss"
    _save_repeatedly(path, 1, 1)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        writers = [pool.submit(_save_repeatedly, path, rows, 150) for rows in (3, 7)]
        seen: set[str] = set()
        while not all(w.done() for w in writers):
            loaded = load_index(path, 16)
            assert loaded is not None, "a reader found no trustworthy index mid-save"
            index, state = loaded
            assert state == f"rows={len(index)}"
            seen.add(state)
        for writer in writers:
            writer.result()  # a writer's error (a lost temp file) fails the test here
    assert {p.name for p in path.parent.iterdir()} == {
        "gallery-1-m.faiss",
        "gallery-1-m.json",
        ".index.lock",
    }
