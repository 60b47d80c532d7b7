"""Analyse many image files on all cores, isolating each file's failure.

Why processes: dlib holds the GIL during detection and embedding, so threads
do not scale. Each worker loads the models once (in its initializer) and
reads its own files, so only small results cross process boundaries. Small
jobs run in-process because starting workers costs about a second.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from retroface.errors import RetrofaceError
from retroface.faces.engine import EngineSpec, FaceEngine
from retroface.faces.types import AnalysedFace
from retroface.media import LoadedImage, MediaLimits, load_image

IN_PROCESS_MAX_FILES = 4


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


def analyse_loaded(engine: FaceEngine, image: LoadedImage, path: Path) -> FileAnalysis:
    return FileAnalysis(
        path=path,
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        format=image.format,
        byte_size=image.byte_size,
        faces=engine.analyse(image.pixels),
    )


def analyse_file(engine: FaceEngine, path: Path, limits: MediaLimits) -> FileAnalysis:
    """Load and analyse one file; a user-caused failure becomes ``error``, not an exception."""
    try:
        image = load_image(path, limits)
    except RetrofaceError as exc:
        return FileAnalysis(path=path, error=str(exc))
    return analyse_loaded(engine, image, path)


_worker_engine: FaceEngine | None = None
_worker_limits: MediaLimits | None = None


def _init_worker(spec: EngineSpec, limits: MediaLimits) -> None:
    global _worker_engine, _worker_limits  # noqa: PLW0603 - per-process model cache
    _worker_engine = FaceEngine.from_spec(spec)
    _worker_limits = limits


def _work(path: Path) -> FileAnalysis:
    assert _worker_engine is not None and _worker_limits is not None
    return analyse_file(_worker_engine, path, _worker_limits)


def analyse_files(
    paths: Sequence[Path],
    spec: EngineSpec,
    limits: MediaLimits,
    workers: int,
    engine: FaceEngine | None = None,
    on_done: Callable[[FileAnalysis], None] | None = None,
) -> Iterator[FileAnalysis]:
    """Yield one :class:`FileAnalysis` per path, in completion order.

    ``engine`` is an already-loaded engine to use for in-process work.
    """
    if workers <= 1 or len(paths) <= IN_PROCESS_MAX_FILES:
        local = engine or FaceEngine.from_spec(spec)
        for path in paths:
            result = analyse_file(local, path, limits)
            if on_done:
                on_done(result)
            yield result
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(paths)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(spec, limits),
    ) as pool:
        futures = [pool.submit(_work, path) for path in paths]
        for future in as_completed(futures):
            result = future.result()
            if on_done:
                on_done(result)
            yield result
