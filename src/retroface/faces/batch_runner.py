"""Analyse many image files on all cores, isolating each file's failure.

Why processes: dlib holds the GIL during detection and embedding, so threads
do not scale. Each worker loads the models once (in its initializer) and
reads its own files, so only small results cross process boundaries (the
aligned chips stay in the worker). Work goes out in chunks of a few files so
that one embedding run covers the faces of several photos (see
``FaceEngine.analyse_many``), bounded by decoded pixels so a chunk of large
photos does not hold gigabytes. Small jobs run in-process because starting
workers costs about a second.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from retroface.errors import RetrofaceError
from retroface.faces.dask_cluster import completed, dask_client
from retroface.faces.engine import EngineSpec, FaceEngine
from retroface.faces.face_choice import FaceChoice, choose_faces
from retroface.faces.types import AnalysedFace, Detection
from retroface.media import LoadedImage, MediaLimits, load_image

log = logging.getLogger(__name__)

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")

IN_PROCESS_MAX_FILES = 4
#: Files per unit of work sent to a worker (one embedding batch across them).
CHUNK_FILES = 16
#: Decoded pixels held at once for one embedding batch (about 48 MB of RGB).
BATCH_MAX_PIXELS = 16_000_000


@dataclass
class FileAnalysis:
    """The outcome for one file: its provenance and faces, or the error it raised."""

    path: Path
    sha256: str | None = None
    width: int = 0
    height: int = 0
    format: str | None = None
    byte_size: int = 0
    faces: list[AnalysedFace] = field(default_factory=list)
    error: str | None = None
    #: Faces the detector found, analysed or not (a choice analyses only those chosen).
    detected: int = 0


def described(
    image: LoadedImage, path: Path, faces: list[AnalysedFace], detected: int | None = None
) -> FileAnalysis:
    """The analysis of one loaded image: its provenance and the faces analysed in it."""
    return FileAnalysis(
        path=path,
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        format=image.format,
        byte_size=image.byte_size,
        faces=faces,
        detected=len(faces) if detected is None else detected,
    )


def analyse_file(engine: FaceEngine, path: Path, limits: MediaLimits) -> FileAnalysis:
    """Load and analyse one file; a user-caused failure becomes ``error``, not an exception."""
    return analyse_batch(engine, [path], limits)[0]


def analyse_batch(
    engine: FaceEngine,
    paths: Sequence[Path],
    limits: MediaLimits,
    choice: FaceChoice | None = None,
) -> list[FileAnalysis]:
    """Analyse files in order, embedding the faces of several files together; chips dropped.

    ``choice``: analyse only the faces it chooses in each file (faces.face_choice; a file
    with several faces and no choice becomes an ``error`` and none of its faces is
    analysed); None: every face."""
    results = [FileAnalysis(path=path) for path in paths]
    pending: list[tuple[int, LoadedImage]] = []

    def flush() -> None:
        chosen = None if choice is None else _chosen(engine, pending, paths, choice, results)
        if chosen is not None:
            pending[:] = [(i, image) for i, image in pending if i in chosen]
            if not pending:
                return
        detections = None if chosen is None else [chosen[i] for i, _ in pending]
        found: Sequence[list[AnalysedFace] | None]
        try:
            found = engine.analyse_many([image.pixels for _, image in pending], detections)
        except Exception:  # a bug on one file must not sink the batch: isolate it below
            found = [
                _analysed_alone(engine, image, paths[i], None if chosen is None else chosen[i])
                for i, image in pending
            ]
        for (i, image), faces in zip(pending, found, strict=True):
            if faces is None:
                results[i].error = f"{paths[i]}: internal error while analysing this file (logged)"
                continue
            detected = None if chosen is None else results[i].detected
            results[i] = described(
                image, paths[i], [replace(f, chip=None) for f in faces], detected
            )
        pending.clear()

    for i, path in enumerate(paths):
        try:
            pending.append((i, load_image(path, limits)))
        except RetrofaceError as exc:
            results[i].error = str(exc)
            continue
        if sum(image.pixels.shape[0] * image.pixels.shape[1] for _, image in pending) >= (
            BATCH_MAX_PIXELS
        ):
            flush()
    if pending:
        flush()
    return results


def _chosen(
    engine: FaceEngine,
    pending: list[tuple[int, LoadedImage]],
    paths: Sequence[Path],
    choice: FaceChoice,
    results: list[FileAnalysis],
) -> dict[int, list[Detection]]:
    """Detect the faces of each pending file and keep those ``choice`` chooses; a file with
    none chosen gets its error (and its detected count) in ``results`` instead."""
    chosen: dict[int, list[Detection]] = {}
    for i, image in pending:
        try:
            detections = engine.detect(image.pixels)
        except Exception as exc:  # as in _analysed_alone: report the file, go on
            log.error("face detector failed on %s: %s", paths[i], type(exc).__name__)
            results[i].error = f"{paths[i]}: internal error while analysing this file (logged)"
            continue
        results[i].detected = len(detections)
        try:
            picked = choose_faces(detections, choice)
        except RetrofaceError as exc:
            results[i].error = f"{paths[i]}: {exc}"
            continue
        if picked is None:
            results[i].error = (
                f"{paths[i]}: {len(detections)} faces found and none chosen, so none was "
                "searched: search this image on its own to choose one, or search every face "
                "with a recorded reason"
            )
            continue
        chosen[i] = picked
    return chosen


def _analysed_alone(
    engine: FaceEngine,
    image: LoadedImage,
    path: Path,
    detections: list[Detection] | None = None,
) -> list[AnalysedFace] | None:
    """One file on its own; None (and a log line naming the file, not its content) if the
    engine fails on it. The one place a broad exception is caught: an evidence batch of
    thousands of seized files must report a file the engine chokes on and go on."""
    try:
        return engine.analyse_many([image.pixels], None if detections is None else [detections])[0]
    except Exception as exc:
        log.error("face engine failed on %s: %s", path, type(exc).__name__)
        return None


_worker_engine: FaceEngine | None = None
_worker_limits: MediaLimits | None = None


def _init_worker(spec: EngineSpec, limits: MediaLimits) -> None:
    global _worker_engine, _worker_limits  # noqa: PLW0603 - per-process model cache
    _worker_engine = FaceEngine.from_spec(spec)
    _worker_limits = limits


def _work(paths: list[Path], choice: FaceChoice | None = None) -> list[FileAnalysis]:
    assert _worker_engine is not None and _worker_limits is not None
    return analyse_batch(_worker_engine, paths, _worker_limits, choice)


_cluster_engines: dict[EngineSpec, FaceEngine] = {}


def _work_on_cluster(
    spec: EngineSpec, limits: MediaLimits, paths: list[Path], choice: FaceChoice | None
) -> list[FileAnalysis]:
    """A chunk on a Dask worker: its models load once per worker process and engine spec
    (Dask has no pool initializer), then stay for the worker's later chunks."""
    engine = _cluster_engines.get(spec)
    if engine is None:
        engine = _cluster_engines[spec] = FaceEngine.from_spec(spec)
    return analyse_batch(engine, paths, limits, choice)


@contextmanager
def worker_pool(spec: EngineSpec, limits: MediaLimits, workers: int) -> Iterator[Executor]:
    """Worker processes with the models loaded, to reuse across many calls.

    Starting a worker (a fresh interpreter and ~1 s of model loading) costs
    more than analysing a hundred photos, so a long-lived caller (the server,
    a benchmark) keeps one pool warm instead of paying for it per search.
    Workers are spawned, not forked: the parent may hold threads (ONNX
    Runtime, FAISS) that a fork would copy in an unknown state.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=max(1, workers),
        mp_context=context,
        initializer=_init_worker,
        initargs=(spec, limits),
    ) as pool:
        yield pool


def analyse_files(
    paths: Sequence[Path],
    spec: EngineSpec,
    limits: MediaLimits,
    workers: int,
    engine: FaceEngine | None = None,
    on_done: Callable[[FileAnalysis], None] | None = None,
    pool: Executor | None = None,
    choice: FaceChoice | None = None,
    dask_address: str | None = None,
) -> Iterator[FileAnalysis]:
    """Yield one :class:`FileAnalysis` per path, in completion order.

    ``engine`` is an already-loaded engine to use for in-process work;
    ``pool`` a warm :func:`worker_pool` (of ``workers`` processes) to use
    instead of starting one for this call; ``choice``: see :func:`analyse_batch`;
    ``dask_address``: run the chunks on that Dask cluster instead (its workers read the
    files, so they must see the same paths).
    """
    if dask_address:
        yield from _on_cluster(paths, spec, limits, dask_address, choice, on_done)
        return
    in_process = pool is None and (workers <= 1 or len(paths) <= IN_PROCESS_MAX_FILES)
    size = CHUNK_FILES if in_process else max(1, min(CHUNK_FILES, -(-len(paths) // workers)))
    chunks = [list(paths[i : i + size]) for i in range(0, len(paths), size)]
    if in_process:
        local = engine or FaceEngine.from_spec(spec)
        for chunk in chunks:
            for result in analyse_batch(local, chunk, limits, choice):
                if on_done:
                    on_done(result)
                yield result
        return
    with ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(worker_pool(spec, limits, min(workers, len(chunks))))
        futures = [pool.submit(_work, chunk, choice) for chunk in chunks]
        for future in as_completed(futures):
            for result in future.result():
                if on_done:
                    on_done(result)
                yield result


def _on_cluster(
    paths: Sequence[Path],
    spec: EngineSpec,
    limits: MediaLimits,
    address: str,
    choice: FaceChoice | None,
    on_done: Callable[[FileAnalysis], None] | None,
) -> Iterator[FileAnalysis]:
    """The chunks of :func:`analyse_files` on a Dask cluster, in completion order."""
    chunks = [list(paths[i : i + CHUNK_FILES]) for i in range(0, len(paths), CHUNK_FILES)]
    if not chunks:
        return
    with dask_client(address) as client:
        futures = [
            client.submit(_work_on_cluster, spec, limits, chunk, choice, pure=False)
            for chunk in chunks
        ]
        for results in completed(futures):
            for result in results:
                if on_done:
                    on_done(result)
                yield result


def _apply(fn: Callable[[FaceEngine, _Item], _Result], items: list[_Item]) -> list[_Result]:
    assert _worker_engine is not None
    return [fn(_worker_engine, item) for item in items]


def map_with_engine(
    fn: Callable[[FaceEngine, _Item], _Result],
    items: Sequence[_Item],
    spec: EngineSpec,
    workers: int,
    *,
    chunk: int = 8,
    engine: FaceEngine | None = None,
) -> Iterator[_Result]:
    """``fn(engine, item)`` for every item on the worker processes' engines, in order.

    For work that is not "analyse these files" (the degraded-probe protocol makes
    several images from each file in the worker, so the pixels never cross a
    process boundary). ``fn`` must be a module-level function (it is pickled).
    """
    chunks = [list(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    if workers <= 1 or len(chunks) <= 1:
        local = engine or FaceEngine.from_spec(spec)
        for part in chunks:
            yield from (fn(local, item) for item in part)
        return
    with worker_pool(spec, MediaLimits(), min(workers, len(chunks))) as pool:
        for result in pool.map(_apply, [fn] * len(chunks), chunks):
            yield from result
