"""Index segments: an immutable base, small append-only deltas with tombstones, and merges.

Why: a gallery of a million templates is a 256 MB index file (10M: 2.7 GB).
Rewriting it for every enrolment or deletion, and having every other server
rebuild it from the database when the gallery's version moves, does not
scale. Lucene and Milvus solve this the same way, and so do we:

- the **base** is one FAISS file (exact or IVF, ``faiss_io``), written whole
  only by a rebuild or a merge, never changed in place; plaintext IVF bases
  are memory-mapped, sealed ones (encrypted data directory) read into memory;
- each change appends a **delta segment**: a small file holding the templates
  added and the ids deleted (the *tombstones*), and the version range it
  covers (``from_state`` → ``state``, the caller's state tokens);
- the **manifest** is the base's metadata file (``gallery-…json``, the state
  token beside the base): it lists the deltas in order with a sequence number,
  the base's ``generation`` and the last sequence number merged into it. It is
  replaced with one atomic rename, so a reader sees the old list or the new,
  and a delta file is written (and synced) before the manifest names it;
- a **merge** (compaction) folds the deltas into a new base in the background
  or on demand, without holding the folder lock while it builds; it swaps the
  new base in only if no rebuild replaced the base meanwhile, and keeps the
  deltas appended while it ran. Deletions appended during a merge are in those
  deltas, so a deleted template is never found again once its delta is in the
  manifest.

A search reads the base (skipping tombstoned ids with a FAISS ID selector)
and the deltas (held together in one exact in-memory index) and merges the
two top-k lists. An id's last change wins: a delete then a re-add (a subject
restored) leaves the id live in the deltas and dead in the base.

Crash safety: every file is written (and synced) to a unique temporary name
and renamed; the manifest goes last. A crash leaves either the old manifest
(a delta file it does not name is overwritten by the next append, which takes
its sequence number; a merge's half-written base is a ``.tmp`` leftover) or
the new one. Swapping a base keeps the old one under a second name until the
new manifest is in place (``_swap_base``), so the manifest on disk always finds
its base; the next merge deletes deltas a killed merge left behind. Readers and writers share ``file_lock.index_folder_lock`` (appends
and swaps exclusive, loads shared); one merge at a time per index is kept by
a second, non-blocking lock.

Other processes holding an index in memory read the manifest and load only
the deltas they have not applied; the base again only when its generation
changed (after a merge or rebuild).
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from retroface.errors import RetrofaceError
from retroface.index.faiss_io import META_SUFFIX, no_hits, read_index_file, read_meta
from retroface.index.file_lock import index_folder_lock
from retroface.index.flat_index import FlatIndex
from retroface.index.index_choice import EXACT_MAX, SingleIndex, build_index
from retroface.index.ivf_index import IvfIndex
from retroface.index.vector_index import BlobCipher, SearchHits

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import faiss

#: The manifest's layout; a reader refuses (and the caller rebuilds) any other.
MANIFEST_FORMAT = 1
#: The deltas of ``gallery-1-m.faiss`` lie beside it: ``gallery-1-m.delta-00000007.npz``.
DELTA_FILE = re.compile(r"^(?P<stem>.+)\.delta-(?P<seq>\d{8})\.npz$")
#: Merge when the deltas and tombstones reach this many rows...
MERGE_MIN_ROWS = 2_000
#: ...and this fraction of the base (so a merge's cost is spread over many changes).
MERGE_FRACTION = 0.05


def delta_name(path: Path, seq: int) -> str:
    """The file name of delta ``seq`` of the index at ``path`` (in the same folder)."""
    return f"{path.stem}.delta-{seq:08d}.npz"


def _delta_files(path: Path) -> list[Path]:
    return sorted(
        p
        for p in path.parent.glob(f"{path.stem}.delta-*.npz")
        if (m := DELTA_FILE.match(p.name)) and m["stem"] == path.stem
    )


def _delta_associated(path: Path, name: str) -> bytes:
    """What a sealed delta file is bound to: its index and its own name."""
    return f"index-delta:{path.name}/{name}".encode()


@dataclass(frozen=True)
class Delta:
    """One change: templates added, ids deleted, and the version range it covers."""

    seq: int
    from_state: str
    state: str
    ids: NDArray[np.int64]
    vectors: NDArray[np.float32]
    removed: NDArray[np.int64]


class SegmentedIndex:
    """A base index, minus its tombstoned ids, plus the templates of the deltas applied.

    Implements ``VectorIndex``; ``config`` is the base's (the deltas are exact).
    Never changed once others may search it: :meth:`applied` returns a new one
    that shares the (immutable) base.
    """

    def __init__(
        self,
        base: SingleIndex,
        *,
        state: str,
        generation: str = "",
        merged_seq: int = 0,
    ) -> None:
        self.dimension = base.dimension
        self.base = base
        self.generation = generation
        self.base_state = state
        self.state = state
        self.merged_seq = merged_seq
        self.applied_seq = merged_seq
        self.delta_seqs: tuple[int, ...] = ()
        self._base_ids = np.unique(base.ids())
        self._dead = np.zeros(0, dtype=np.int64)  # base ids deleted since (sorted)
        self._delta = FlatIndex(base.dimension)
        self._excluding: tuple[Any, Any] | None = None  # FAISS selector (and what it holds)

    @property
    def config(self) -> str:
        return self.base.config

    def __len__(self) -> int:
        return len(self._base_ids) - len(self._dead) + len(self._delta)

    @property
    def delta_rows(self) -> int:
        """Templates held in the deltas plus tombstones: what a merge would fold in."""
        return len(self._delta) + len(self._dead)

    def segments_read(self) -> dict[str, Any]:
        """What a search of this index reads, for the search's record."""
        return {
            "base": self.generation or "unversioned",
            "base_state": self.base_state,
            "base_templates": len(self._base_ids),
            "deltas": list(self.delta_seqs),
            "delta_templates": len(self._delta),
            "tombstones": len(self._dead),
            "state": self.state,
        }

    def ids(self) -> NDArray[np.int64]:
        alive = np.setdiff1d(self._base_ids, self._dead, assume_unique=True)
        return np.concatenate([alive, self._delta.ids()]).astype(np.int64)

    def contains(self, ids: NDArray[np.integer]) -> NDArray[np.bool_]:
        """For each id, whether this index holds it live (not tombstoned)."""
        keys = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        live: NDArray[np.bool_] = np.isin(keys, self._in_base(keys)) & ~np.isin(keys, self._dead)
        return live | np.isin(keys, self._delta.ids())

    def _in_base(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        if not len(ids) or not len(self._base_ids):
            return np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._base_ids, ids), len(self._base_ids) - 1)
        found: NDArray[np.int64] = ids[self._base_ids[at] == ids]
        return found

    def applied(self, delta: Delta) -> SegmentedIndex:
        """A new index: this one with ``delta`` applied (this one is left as it was)."""
        twin = copy.copy(self)
        twin._delta = self._delta.copy()
        gone = np.concatenate([delta.removed, delta.ids]).astype(np.int64)
        if len(gone):
            twin._delta.remove(gone)
            twin._dead = np.union1d(self._dead, self._in_base(gone)).astype(np.int64)
        twin._delta.add(delta.ids, delta.vectors)
        twin._excluding = None
        twin.state = delta.state
        twin.applied_seq = max(self.applied_seq, delta.seq)
        twin.delta_seqs = (*self.delta_seqs, delta.seq)
        return twin

    # VectorIndex's changing methods, in place (for a caller that owns this index alone)
    def add(self, ids: NDArray[np.integer], vectors: NDArray[np.floating]) -> None:
        keys = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        self._take(self.applied(_change(self, keys, rows, np.zeros(0, np.int64))))

    def remove(self, ids: NDArray[np.integer]) -> int:
        keys = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        before = len(self)
        empty = np.zeros((0, self.dimension), np.float32)
        self._take(self.applied(_change(self, np.zeros(0, np.int64), empty, keys)))
        return before - len(self)

    def _take(self, other: SegmentedIndex) -> None:
        self.__dict__.update(other.__dict__)
        self.delta_seqs = self.delta_seqs[:-1]  # an in-memory change is no segment

    def _selector(self) -> faiss.IDSelector | None:
        if not len(self._dead):
            return None
        if self._excluding is None:
            from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

            batch = faiss.IDSelectorBatch(self._dead)
            self._excluding = (faiss.IDSelectorNot(batch), batch)  # the Not refers to the batch
        return self._excluding[0]

    def search(self, queries: NDArray[np.floating], k: int) -> SearchHits:
        rows = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        parts: list[SearchHits] = []
        if len(self._base_ids) > len(self._dead):
            parts.append(self.base.search(rows, k, excluding=self._selector()))
        if len(self._delta):
            parts.append(self._delta.search(rows, k))
        if not parts:
            return no_hits(len(rows))
        if len(parts) == 1:
            return parts[0]
        ids = np.hstack([p.ids for p in parts])
        scores = np.where(ids >= 0, np.hstack([p.scores for p in parts]), -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")[:, : max(1, min(k, len(self)))]
        return SearchHits(
            np.take_along_axis(scores, order, axis=1).astype(np.float32),
            np.take_along_axis(ids, order, axis=1).astype(np.int64),
        )

    def merged(self, exact_max: int | None = None) -> SingleIndex:
        """One index holding exactly this index's live templates (the base is not changed).
        An exact base that outgrows ``exact_max`` becomes a tuned IVF index."""
        if isinstance(self.base, FlatIndex):
            ids, vectors = self.base.ids(), self.base.vectors()
            keep = ~np.isin(ids, self._dead)
            all_ids = np.concatenate([ids[keep], self._delta.ids()])
            all_vectors = np.vstack([vectors[keep], self._delta.vectors()])
            if exact_max is not None and len(all_ids) > exact_max:
                return build_index(all_ids, all_vectors, self.dimension, exact_max=exact_max)
            out = FlatIndex(self.dimension)
            out.add(all_ids, all_vectors)
            return out
        ivf = self.base.copy()
        ivf.remove(self._dead)
        ivf.add(self._delta.ids(), self._delta.vectors())
        return ivf

    def needs_merge(self) -> bool:
        rows = self.delta_rows
        return rows >= MERGE_MIN_ROWS and rows >= MERGE_FRACTION * len(self._base_ids)

    def save(self, path: Path, state: str, cipher: BlobCipher | None = None) -> None:
        """Write everything as a new base (no deltas) with ``state``: a full rewrite."""
        save_base(path, self.merged(), state, cipher)


#: Any index a gallery search may hold: a segmented one, or one FAISS index on its own.
AnyIndex = FlatIndex | IvfIndex | SegmentedIndex


def _change(
    index: SegmentedIndex,
    ids: NDArray[np.int64],
    vectors: NDArray[np.float32],
    removed: NDArray[np.int64],
) -> Delta:
    return Delta(index.applied_seq, index.state, index.state, ids, vectors, removed)


# --- the manifest -------------------------------------------------------------------------


def _segments(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest part of a base's metadata (a base saved before segments: no deltas)."""
    found = meta.get("segments")
    if found is None:
        return {"format": MANIFEST_FORMAT, "generation": "", "seq": 0, "merged": 0, "deltas": []}
    if not isinstance(found, dict) or found.get("format") != MANIFEST_FORMAT:
        return None
    return found


def _tip(meta: dict[str, Any], segments: dict[str, Any]) -> str:
    deltas = segments["deltas"]
    return str(deltas[-1]["state"]) if deltas else str(meta.get("state", ""))


def _write_json(path: Path, content: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("w") as handle:
            json.dump(content, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_blob(path: Path, blob: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_delta(
    path: Path, entry: dict[str, Any], dimension: int, cipher: BlobCipher | None
) -> Delta | None:
    """One delta file as the manifest names it, or None if it cannot be trusted."""
    name = str(entry.get("file", ""))
    encrypted = cipher is not None and cipher.enabled
    try:
        blob = (path.parent / name).read_bytes()
        if entry.get("sealed"):
            if cipher is None:
                return None
            blob = cipher.decrypt(blob, _delta_associated(path, name))
        elif encrypted:
            return None  # plaintext where the directory is encrypted: a leftover, not trusted
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            ids = arrays["ids"].astype(np.int64)
            vectors = arrays["vectors"].astype(np.float32).reshape(-1, dimension)
            removed = arrays["removed"].astype(np.int64)
    except (OSError, ValueError, KeyError, RetrofaceError):
        return None
    if len(ids) != len(vectors) or len(ids) != entry.get("added"):
        return None
    return Delta(
        int(entry["seq"]), str(entry["from_state"]), str(entry["state"]), ids, vectors, removed
    )


def _previous_base(path: Path) -> Path:
    """Where a swap keeps the base it replaces until the new manifest is in place."""
    return path.with_name(f".{path.name}.previous.tmp")


def _base_from(
    path: Path, meta: dict[str, Any], dimension: int, cipher: BlobCipher | None, *, mmap: bool
) -> SingleIndex | None:
    """The base the manifest ``meta`` describes: the file at ``path``, or the previous base
    kept beside it when a swap was cut off between the base and its manifest."""
    found = _base_file(path, path, meta, dimension, cipher, mmap=mmap)
    previous = _previous_base(path)
    if found is None and previous.is_file():
        found = _base_file(previous, path, meta, dimension, cipher, mmap=mmap)
    return found


def _base_file(
    file: Path,
    path: Path,
    meta: dict[str, Any],
    dimension: int,
    cipher: BlobCipher | None,
    *,
    mmap: bool,
) -> SingleIndex | None:
    ivf = str(meta.get("config", "")).startswith("IVF")
    raw = read_index_file(file, meta, cipher, mmap=mmap and ivf, bound_to=path)
    if raw is None:
        return None
    if not ivf:
        found = FlatIndex.from_faiss(raw, meta, dimension)
        return None if found is None else found[0]
    if raw.d != dimension or raw.ntotal != meta.get("n"):
        return None
    return IvfIndex.from_faiss(raw, dimension, int(meta.get("nprobe", 1)))


def open_segments(
    path: Path,
    dimension: int,
    cipher: BlobCipher | None = None,
    held: SegmentedIndex | None = None,
    *,
    mmap: bool = True,
) -> SegmentedIndex | None:
    """The index saved at ``path`` with every delta its manifest lists, or None if absent or
    untrustworthy (unreadable, sealed without the key, a broken chain of states).

    With ``held`` (an index this process loaded before) and the same base generation, only
    the deltas it has not applied are read; the base is reloaded only after a merge or a
    rebuild. Plaintext IVF bases are memory-mapped unless ``mmap`` is False."""
    with index_folder_lock(path.parent, shared=True):
        meta = read_meta(path)
        segments = None if meta is None else _segments(meta)
        if meta is None or segments is None:
            return None
        generation = str(segments.get("generation", ""))
        from_held = (
            held is not None
            and bool(generation)
            and held.generation == generation
            and held.merged_seq == int(segments.get("merged", 0))
        )
        if from_held and held is not None:
            index = held
        else:
            base = _base_from(path, meta, dimension, cipher, mmap=mmap)
            if base is None:
                return None
            index = SegmentedIndex(
                base,
                state=str(meta.get("state", "")),
                generation=generation,
                merged_seq=int(segments.get("merged", 0)),
            )
        for entry in segments["deltas"]:
            if int(entry["seq"]) <= index.applied_seq:
                continue
            delta = _read_delta(path, entry, dimension, cipher)
            if delta is None or delta.from_state != index.state:
                broken = True
                break
            index = index.applied(delta)
        else:
            broken = False
    if broken and from_held:  # the deltas it held were dropped (drop_deltas): read afresh
        return open_segments(path, dimension, cipher, None, mmap=mmap)
    return None if broken else index


def append_delta(
    path: Path,
    *,
    from_state: str,
    state: str,
    ids: NDArray[np.integer],
    vectors: NDArray[np.floating],
    removed: NDArray[np.integer],
    dimension: int,
    cipher: BlobCipher | None = None,
) -> Delta | None:
    """Append one delta segment taking the index at ``path`` from ``from_state`` to ``state``:
    write the delta file, then the manifest naming it. Returns the delta (for a held index
    to apply), or None when the index on disk is not at ``from_state`` (absent, another
    process moved it on, a rebuild replaced it): the caller then reloads or rebuilds."""
    keys = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dimension)
    gone = np.ascontiguousarray(removed, dtype=np.int64).reshape(-1)
    if len(keys) != len(rows):
        raise ValueError("ids and vectors differ in length")
    buffer = io.BytesIO()
    np.savez(buffer, ids=keys, vectors=rows, removed=gone)
    plain = buffer.getvalue()
    sealed = cipher is not None and cipher.enabled
    with index_folder_lock(path.parent, shared=False):
        meta = read_meta(path)
        segments = None if meta is None else _segments(meta)
        if meta is None or segments is None or _tip(meta, segments) != from_state:
            return None
        seq = int(segments["seq"]) + 1
        name = delta_name(path, seq)
        blob = cipher.encrypt(plain, _delta_associated(path, name)) if sealed else plain  # type: ignore[union-attr]
        _write_blob(path.parent / name, blob)
        entry = {
            "seq": seq,
            "file": name,
            "from_state": from_state,
            "state": state,
            "added": len(keys),
            "removed": len(gone),
            "sealed": sealed,
        }
        manifest = {**segments, "seq": seq, "deltas": [*segments["deltas"], entry]}
        manifest["generation"] = segments.get("generation") or uuid.uuid4().hex  # older bases
        _write_json(path.with_suffix(META_SUFFIX), {**meta, "segments": manifest})
    return Delta(seq, from_state, state, keys, rows, gone)


def _write_base_file(
    index: SingleIndex, target: Path, cipher: BlobCipher | None
) -> tuple[Path, bool]:
    """The base written to a temp file beside ``target``: (temp path, sealed)."""
    from retroface.index.faiss_io import index_associated  # noqa: PLC0415 - one helper, kept beside its reader
    from retroface.index.faiss_lib import faiss  # noqa: PLC0415 - FAISS loads when an index is built, read or searched

    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    raw = index._index
    if cipher is not None and cipher.enabled:
        plain = faiss.serialize_index(raw).tobytes()
        tmp.write_bytes(cipher.encrypt(plain, index_associated(target)))
        return tmp, True
    faiss.write_index(raw, str(tmp))
    return tmp, False


def _base_meta(index: SingleIndex, state: str, sealed: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"state": state, "config": index.config, "n": len(index)}
    if isinstance(index, IvfIndex):
        meta.update(config="IVF,SQfp16,IP", nprobe=index.nprobe)
    return {**meta, **({"sealed": True} if sealed else {})}


def _swap_base(
    path: Path,
    tmp: Path,
    meta: dict[str, Any],
    segments: dict[str, Any],
    dropped: list[str],
) -> None:
    """Under the exclusive lock: the new base and its manifest in place, merged deltas gone.

    The manifest is written (and synced) to a temp file first; then the old base is kept
    under a second name (a hard link), the new base renamed in, the manifest renamed in,
    and the old base let go. A crash at any point leaves a manifest whose base is on disk:
    the old manifest finds the old base under its second name when the new one does not
    match it (``_base_from``), and where the two match in size the old manifest's deltas
    replayed on the new base give the same templates (each delta sets ids present or
    absent, in order)."""
    meta_path = path.with_suffix(META_SUFFIX)
    meta_tmp = meta_path.with_name(f".{meta_path.name}.{uuid.uuid4().hex[:8]}.tmp")
    previous = _previous_base(path)
    try:
        with meta_tmp.open("w") as handle:
            json.dump({**meta, "segments": segments}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        previous.unlink(missing_ok=True)
        if path.exists():
            os.link(path, previous)
        os.replace(tmp, path)
        os.replace(meta_tmp, meta_path)
        previous.unlink(missing_ok=True)
    finally:
        meta_tmp.unlink(missing_ok=True)
    for name in dropped:
        (path.parent / name).unlink(missing_ok=True)


def save_base(
    path: Path,
    index: SingleIndex,
    state: str,
    cipher: BlobCipher | None = None,
    label: dict[str, Any] | None = None,
) -> SegmentedIndex:
    """Write ``index`` as the new base at ``state`` with no deltas (a rebuild): every delta
    file goes. A crash leaves the old base and manifest, or none (rebuilt on next use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, sealed = _write_base_file(index, path, cipher)
    generation = uuid.uuid4().hex
    try:
        with index_folder_lock(path.parent, shared=False):
            old = read_meta(path)
            old_segments = None if old is None else _segments(old)
            seq = int(old_segments["seq"]) if old_segments else 0
            segments = {
                "format": MANIFEST_FORMAT,
                "generation": generation,
                "seq": seq,
                "merged": seq,
                "deltas": [],
            }
            meta = {**_base_meta(index, state, sealed), **({"label": label} if label else {})}
            _swap_base(path, tmp, meta, segments, [])
            for stale in _delta_files(path):
                stale.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    return SegmentedIndex(index, state=state, generation=generation, merged_seq=seq)


@contextmanager
def _merge_lock(path: Path, *, wait: bool) -> Iterator[bool]:
    """One merge at a time per index (across processes); yields whether this one may run."""
    if fcntl is None:  # pragma: no cover - not POSIX
        yield True
        return
    handle = os.open(path.parent / f".{path.stem}.merge.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(handle)


def merge_segments(
    path: Path,
    dimension: int,
    cipher: BlobCipher | None = None,
    *,
    exact_max: int = EXACT_MAX,
    wait: bool = False,
    before_swap: Callable[[], None] | None = None,
) -> bool:
    """Fold every delta of the index at ``path`` into a new base (a merge): True if one
    was swapped in. Builds without the folder lock; swaps under it only if the base is
    still the one it merged (no rebuild meanwhile), keeping the deltas appended since.
    Another merge of the same index running: returns False at once, or waits (``wait``,
    for a deletion that must leave the disk now). ``before_swap``: a test's hook."""
    with _merge_lock(path, wait=wait) as mine:
        if not mine:
            return False
        snapshot = open_segments(path, dimension, cipher, mmap=False)
        if snapshot is None or not snapshot.delta_seqs:
            return False
        merged = snapshot.merged(exact_max)
        tmp, sealed = _write_base_file(merged, path, cipher)
        try:
            if before_swap is not None:
                before_swap()
            with index_folder_lock(path.parent, shared=False):
                meta = read_meta(path)
                segments = None if meta is None else _segments(meta)
                if (
                    meta is None
                    or segments is None
                    or segments["generation"] != snapshot.generation
                ):
                    return False
                kept = [d for d in segments["deltas"] if int(d["seq"]) > snapshot.applied_seq]
                dropped = [  # merged now, or by a merge killed before it could delete them
                    f.name
                    for f in _delta_files(path)
                    if int(DELTA_FILE.match(f.name)["seq"]) <= snapshot.applied_seq  # type: ignore[index]
                ]
                manifest = {
                    **segments,
                    "generation": uuid.uuid4().hex,
                    "merged": snapshot.applied_seq,
                    "deltas": kept,
                }
                new = _base_meta(merged, snapshot.state, sealed)
                if "label" in meta:
                    new["label"] = meta["label"]
                _swap_base(path, tmp, new, manifest, dropped)
        finally:
            tmp.unlink(missing_ok=True)
    return True


def segment_files(path: Path, *, unlisted: bool = False) -> list[Path]:
    """The delta files of the index at ``path``; ``unlisted``: only those its manifest does not
    name (a crash between a delta and its manifest left them; none while the manifest is
    missing or unreadable, since the index is then rebuilt and they with it)."""
    with index_folder_lock(path.parent, shared=True):
        found = _delta_files(path)
        if not unlisted:
            return found
        meta = read_meta(path)
        segments = None if meta is None else _segments(meta)
        if segments is None:
            return []
        listed = {str(d["file"]) for d in segments["deltas"]}
    return [p for p in found if p.name not in listed]


def remove_unlisted_delta(delta: Path) -> bool:
    """Delete one delta file if no manifest names it (checked under the exclusive lock, so a
    delta an append has just listed is never taken): True if deleted."""
    found = DELTA_FILE.match(delta.name)
    if found is None:
        return False
    base = delta.with_name(f"{found['stem']}.faiss")
    with index_folder_lock(delta.parent, shared=False):
        meta = read_meta(base)
        segments = None if meta is None else _segments(meta)
        if segments is not None and delta.name in {str(d["file"]) for d in segments["deltas"]}:
            return False
        delta.unlink(missing_ok=True)
    return True


def drop_deltas(path: Path) -> int:
    """Delete the delta files of the index at ``path`` and unlist them: the index stands at its
    base's state, and its user catches up from the source of truth by one new delta (sealed
    with the key then in force). For a sweep that re-encrypts the data directory. Returns
    how many delta files went."""
    with index_folder_lock(path.parent, shared=False):
        meta = read_meta(path)
        segments = None if meta is None else _segments(meta)
        gone = _delta_files(path)
        if meta is not None and segments is not None and segments["deltas"]:
            manifest = {
                **segments,
                "generation": uuid.uuid4().hex,  # holders read afresh: their deltas are gone
                "merged": segments["seq"],
                "deltas": [],
            }
            _write_json(path.with_suffix(META_SUFFIX), {**meta, "segments": manifest})
        for delta in gone:
            delta.unlink(missing_ok=True)
    return len(gone)


def index_label(path: Path) -> dict[str, Any] | None:
    """The label its owner saved with the index at ``path`` (``save_base``), if any."""
    meta = read_meta(path)
    label = None if meta is None else meta.get("label")
    return label if isinstance(label, dict) else None


def remove_index_files(path: Path) -> None:
    """Delete the index at ``path``: base, manifest and deltas (under the exclusive lock)."""
    with index_folder_lock(path.parent, shared=False):
        path.with_suffix(META_SUFFIX).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        for delta in _delta_files(path):
            delta.unlink(missing_ok=True)
        _previous_base(path).unlink(missing_ok=True)
