"""Index segments: a base, append-only deltas with tombstones, and merges. Search agrees with
exact search on real templates through adds, deletes and merges; a deletion is never found
once its delta is written, even while a merge runs; a kill -9 during a merge loses nothing;
another process picks up a new delta without reading the base again; sealed files stay sealed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from retroface.errors import DataIntegrityError
from retroface.index import (
    FlatIndex,
    SegmentedIndex,
    append_delta,
    build_index,
    drop_deltas,
    merge_segments,
    open_segments,
    save_base,
    segment_files,
)

pytestmark = pytest.mark.needs_data


class _Truth:
    """What the index must hold: id → vector, changed as the deltas say."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.rows = {int(i): v for i, v in zip(ids, vectors, strict=True)}

    def top(self, queries: np.ndarray, k: int) -> np.ndarray:
        ids = np.array(sorted(self.rows), dtype=np.int64)
        scores = queries @ np.stack([self.rows[i] for i in ids]).T
        return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def _append(path: Path, index: SegmentedIndex, step: int, added: np.ndarray, vectors: np.ndarray,
            removed: np.ndarray, dim: int) -> SegmentedIndex:  # fmt: skip
    delta = append_delta(
        path, from_state=index.state, state=f"v{step}", ids=added, vectors=vectors,
        removed=removed, dimension=dim,
    )  # fmt: skip
    assert delta is not None
    return index.applied(delta)


def test_segments_agree_with_exact_search_after_random_adds_deletes_and_merges(
    lfw_templates: np.ndarray, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    vectors = lfw_templates
    dim = vectors.shape[1]
    path = tmp_path / "gallery-1-m.faiss"
    ids = np.arange(len(vectors), dtype=np.int64) * 3 + 1  # ids need not be dense
    first = rng.permutation(len(vectors))[:90]
    truth = _Truth(ids[first], vectors[first])
    held = save_base(path, build_index(ids[first], vectors[first], dim), "v0")
    queries = vectors[rng.choice(len(vectors), 40, replace=False)]
    for step in range(1, 19):
        absent = [i for i in range(len(vectors)) if int(ids[i]) not in truth.rows]
        add = rng.choice(absent, min(len(absent), int(rng.integers(0, 12))), replace=False)
        present = np.array(sorted(truth.rows), dtype=np.int64)
        gone = rng.choice(present, int(rng.integers(0, 8)), replace=False)
        if step % 5 == 0 and len(gone):  # a subject restored: deleted and re-added at once
            add = np.union1d(add, [int(np.flatnonzero(ids == gone[0])[0])]).astype(int)
        for g in gone:
            truth.rows.pop(int(g))
        for a in add:
            truth.rows[int(ids[a])] = vectors[a]
        held = _append(path, held, step, ids[add], vectors[add], gone, dim)
        if rng.random() < 0.25:
            assert merge_segments(path, dim)
        fresh = open_segments(path, dim)  # what a new process reads
        assert fresh is not None and fresh.state == held.state == f"v{step}"
        refreshed = open_segments(path, dim, None, held)  # what a holder reads
        assert refreshed is not None
        for index in (held, fresh, refreshed):
            assert sorted(index.ids().tolist()) == sorted(truth.rows) and len(index) == len(
                truth.rows
            )
            found = index.search(queries, 10).ids
            assert np.array_equal(found, truth.top(queries, 10)), step
    pending = open_segments(path, dim)
    assert pending is not None  # nothing to merge if the last step merged:
    assert merge_segments(path, dim) == bool(pending.delta_seqs)
    merged = open_segments(path, dim)
    assert merged is not None and merged.delta_seqs == () and segment_files(path) == []
    assert np.array_equal(merged.search(queries, 10).ids, truth.top(queries, 10))


def test_a_deletion_is_never_returned_once_written_even_while_a_merge_runs(
    lfw_templates: np.ndarray, tmp_path: Path
) -> None:
    dim = lfw_templates.shape[1]
    path = tmp_path / "g.faiss"
    ids = np.arange(len(lfw_templates), dtype=np.int64)
    held = save_base(path, build_index(ids[:120], lfw_templates[:120], dim), "v0")
    held = _append(path, held, 1, ids[120:160], lfw_templates[120:160], ids[:5], dim)
    victims = np.array([7, 130], dtype=np.int64)  # one in the base, one in a delta

    def delete_meanwhile() -> None:  # the merge has built its base; the deletion lands now
        nonlocal held
        held = _append(path, held, 2, ids[:0], lfw_templates[:0], victims, dim)
        for index in (held, open_segments(path, dim)):
            assert index is not None
            assert not set(index.search(lfw_templates[victims], 20).ids.ravel()) & set(victims)

    assert merge_segments(path, dim, before_swap=delete_meanwhile)
    after = open_segments(path, dim)
    assert after is not None and after.state == "v2" and after.delta_seqs == (2,)
    assert not set(after.search(lfw_templates[victims], 20).ids.ravel()) & set(victims)
    assert len(after) == 160 - 5 - 2
    assert merge_segments(path, dim)
    final = open_segments(path, dim)
    assert final is not None and not set(final.ids()) & {*victims.tolist(), 0, 1, 2, 3, 4}


_MERGER = textwrap.dedent(
    """
    import random, sys, time
    from pathlib import Path
    from retroface.index import merge_segments
    path = Path(sys.argv[1])
    while True:
        merge_segments(path, 128, before_swap=lambda: time.sleep(random.random() * 0.05))
        time.sleep(0.002)
    """
)


def test_kill_9_during_a_merge_loses_nothing(lfw_templates: np.ndarray, tmp_path: Path) -> None:
    """A merging process is killed at random moments while deltas keep landing: every
    reader afterwards finds exactly the templates written, and nothing stays half-written."""
    rng = np.random.default_rng(3)
    dim = lfw_templates.shape[1]
    noise = rng.normal(0, 0.05, (30_000, dim)).astype(np.float32)  # a base slow enough to kill
    many = np.repeat(lfw_templates, 30_000 // len(lfw_templates) + 1, axis=0)[:30_000] + noise
    many /= np.linalg.norm(many, axis=1, keepdims=True)
    path = tmp_path / "g.faiss"
    ids = np.arange(len(many), dtype=np.int64)
    held = save_base(path, build_index(ids[:20_000], many[:20_000], dim), "v0")
    truth = set(range(20_000))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    chooser = random.Random(5)
    step, next_id = 0, 20_000
    for _ in range(3):
        merger = subprocess.Popen([sys.executable, "-c", _MERGER, str(path)], env=env)
        deadline = time.monotonic() + 0.8 + chooser.random() * 1.5
        while time.monotonic() < deadline:
            step += 1
            added = ids[next_id : next_id + 40]
            gone = np.array(chooser.sample(sorted(truth), 10), dtype=np.int64)
            held = _append(path, held, step, added, many[added], gone, dim)
            truth = (truth - set(gone.tolist())) | set(added.tolist())
            next_id += 40
            time.sleep(0.02)
        merger.send_signal(signal.SIGKILL)
        merger.wait()
        found = open_segments(path, dim)
        assert found is not None and found.state == f"v{step}"
        assert set(found.ids().tolist()) == truth
    assert merge_segments(path, dim)  # the merge lock died with the process
    merged = open_segments(path, dim)
    assert merged is not None and set(merged.ids().tolist()) == truth
    assert segment_files(path, unlisted=True) == []  # only temp files may be left (doctor's)


_APPENDER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from pathlib import Path
    from retroface.index import append_delta
    vectors = np.load(sys.argv[2])
    delta = append_delta(Path(sys.argv[1]), from_state="v0", state="v1", ids=np.array([999]),
                         vectors=vectors, removed=np.array([3]), dimension=vectors.shape[1])
    assert delta is not None
    """
)


def test_another_process_picks_up_a_new_delta_without_reading_the_base_again(
    lfw_templates: np.ndarray, tmp_path: Path
) -> None:
    dim = lfw_templates.shape[1]
    path = tmp_path / "g.faiss"
    ids = np.arange(100, dtype=np.int64)
    held = save_base(path, build_index(ids, lfw_templates[:100], dim), "v0")
    np.save(tmp_path / "new.npy", lfw_templates[130:131])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    subprocess.run(
        [sys.executable, "-c", _APPENDER, str(path), str(tmp_path / "new.npy")], env=env, check=True
    )
    refreshed = open_segments(path, dim, None, held)
    assert refreshed is not None and refreshed.state == "v1"
    assert refreshed.base is held.base  # only the delta was read
    assert refreshed.search(lfw_templates[130:131], 1).ids[0, 0] == 999
    assert 3 not in refreshed.search(lfw_templates[3:4], 10).ids[0]
    assert held.state == "v0" and 3 in held.ids()  # the held index itself never changes


class _FakeCipher:
    """An encrypting stand-in (the index layer knows no keys): XOR plus a bound label."""

    enabled = True

    def __init__(self, key: int) -> None:
        self.key = key

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes:
        return (
            b"SEALED"
            + bytes([self.key])
            + associated
            + b"|"
            + bytes(b ^ self.key for b in plaintext)
        )

    def decrypt(self, blob: bytes, associated: bytes) -> bytes:
        head = b"SEALED" + bytes([self.key]) + associated + b"|"
        if not blob.startswith(head):
            raise DataIntegrityError("sealed index file failed its integrity check")
        return bytes(b ^ self.key for b in blob[len(head) :])


def test_sealed_deltas_open_only_with_their_key_and_never_hold_a_vector_in_clear(
    lfw_templates: np.ndarray, tmp_path: Path
) -> None:
    dim = lfw_templates.shape[1]
    path = tmp_path / "g.faiss"
    cipher = _FakeCipher(0x5A)
    base = FlatIndex(dim)
    base.add(np.arange(50), lfw_templates[:50])
    held = save_base(path, base, "v0", cipher)
    delta = append_delta(path, from_state="v0", state="v1", ids=np.array([77]),
                         vectors=lfw_templates[60:61], removed=np.array([1]), dimension=dim,
                         cipher=cipher)  # fmt: skip
    assert delta is not None
    (delta_file,) = segment_files(path)
    assert lfw_templates[60].tobytes()[:16] not in delta_file.read_bytes()
    opened = open_segments(path, dim, cipher)
    assert opened is not None and opened.search(lfw_templates[60:61], 1).ids[0, 0] == 77
    assert open_segments(path, dim, _FakeCipher(0x11)) is None  # another key: rebuilt
    assert open_segments(path, dim) is None  # no key: rebuilt, never trusted
    assert held.applied(delta).state == opened.state


def test_dropped_deltas_leave_the_index_at_its_base_for_a_catch_up(
    lfw_templates: np.ndarray, tmp_path: Path
) -> None:
    """A re-encryption sweep drops the deltas: readers, holders included, see the base's
    state (older than the source of truth, which they then catch up from), never an error."""
    dim = lfw_templates.shape[1]
    path = tmp_path / "g.faiss"
    ids = np.arange(60, dtype=np.int64)
    held = save_base(path, build_index(ids, lfw_templates[:60], dim), "v0")
    held = _append(path, held, 1, np.array([70]), lfw_templates[70:71], ids[:2], dim)
    assert drop_deltas(path) == 1 and segment_files(path) == []
    for index in (open_segments(path, dim), open_segments(path, dim, None, held)):
        assert index is not None and index.state == "v0" and len(index) == 60
    again = append_delta(path, from_state="v0", state="v1", ids=np.array([70]),
                         vectors=lfw_templates[70:71], removed=ids[:2], dimension=dim)  # fmt: skip
    assert again is not None
    caught = open_segments(path, dim, None, held)
    assert (
        caught is not None and caught.state == "v1" and sorted(caught.ids()) == [*range(2, 60), 70]
    )
