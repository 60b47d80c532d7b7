"""Small-face detection on CCTV: the ONNX MMOD detector against dlib's CNN detector.

The reference is dlib's own CNN face detector (``cnn_face_detection_model_v1``,
``upsample_num_times=0``, what retroface's ``cnn`` backend and
face_recognition's ``model="cnn"`` run) on every frame of
``covent_garden_crowd.mp4`` (105 frames, 1920x1080). It costs ~20 s a frame on
one core, so it is computed once (on ``--workers`` processes) and cached in
``bench/.cache/`` (git-ignored), keyed by the video's SHA-256 and dlib's version.

Printed: the recall of the fast detector (the share of reference faces it
finds, a match being IoU >= 0.5), how many extra faces it finds, and its speed
against dlib's detector, both timed one after the other in this process on
the same ``--timing-frames`` frames (one core each; ratios, not absolute
figures, are what carry over between machines).

Usage: python bench/detector.py [--data ../shared/data] [--workers 2] [--timing-frames 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CACHE = Path(__file__).resolve().parent / ".cache"
VIDEO = Path("video") / "covent_garden_crowd.mp4"

BoxT = tuple[int, int, int, int]  # x, y, w, h


def frames(video: Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    import av

    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                yield index, frame.to_ndarray(format="rgb24")


def _dlib_cnn_part(args: tuple[str, int, int]) -> dict[int, list[BoxT]]:
    """dlib's CNN on frames ``part``, ``part + parts``, ... of the video (one worker)."""
    import dlib

    from retroface.faces.model_files import MMOD_FILE, packaged_model_path

    video, part, parts = args
    detector = dlib.cnn_face_detection_model_v1(str(packaged_model_path(MMOD_FILE)))
    found: dict[int, list[BoxT]] = {}
    for index, pixels in frames(Path(video)):
        if index % parts == part:
            found[index] = [
                (d.rect.left(), d.rect.top(), d.rect.width(), d.rect.height())
                for d in detector(pixels, 0)
            ]
    return found


def dlib_reference(video: Path, workers: int) -> dict[int, list[BoxT]]:
    """dlib CNN boxes per frame, from the cache or computed now (slow) and cached."""
    import dlib

    digest = hashlib.sha256(video.read_bytes()).hexdigest()[:16]
    cache = CACHE / f"dlib_cnn_{video.stem}_{digest}_dlib{dlib.__version__}.json"
    if cache.is_file():
        print(f"reference: dlib CNN boxes from {cache.name}", flush=True)
        return {int(k): [tuple(b) for b in v] for k, v in json.loads(cache.read_text()).items()}
    print(f"reference: running dlib's CNN on every frame with {workers} workers (slow)...")
    started = time.perf_counter()
    found: dict[int, list[BoxT]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_dlib_cnn_part, [(str(video), p, workers) for p in range(workers)]):
            found.update(part)
    print(f"reference computed in {time.perf_counter() - started:.0f}s", flush=True)
    CACHE.mkdir(exist_ok=True)
    cache.write_text(json.dumps({str(k): v for k, v in sorted(found.items())}))
    return found


def iou(a: BoxT, b: BoxT) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inner = w * h
    return inner / (a[2] * a[3] + b[2] * b[3] - inner)


def matched(reference: list[BoxT], found: list[BoxT], threshold: float = 0.5) -> int:
    """How many reference boxes a distinct found box overlaps by IoU >= threshold."""
    free = list(found)
    hits = 0
    for box in reference:
        best = max(free, key=lambda f: iou(box, f), default=None)
        if best is not None and iou(box, best) >= threshold:
            free.remove(best)
            hits += 1
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timing-frames", type=int, default=3)
    args = parser.parse_args()
    print(detection_report(args.data / VIDEO, args.workers, args.timing_frames))


def detection_report(video: Path, workers: int, timing_frames: int) -> str:
    """Run the comparison and return its summary line (``detector_recall=... ...``)."""
    import dlib

    from retroface.faces.engine import DETECTORS, EngineSpec
    from retroface.faces.model_files import MMOD_FILE, packaged_model_path

    reference = dlib_reference(video, workers)
    fast = DETECTORS["cnn-onnx"](EngineSpec(detector="cnn-onnx"))
    total = hits = extra = 0
    fast_seconds = 0.0
    for index, pixels in frames(video):
        started = time.perf_counter()
        boxes = [tuple(d.box.as_list()) for d in fast.detect(pixels)]
        fast_seconds += time.perf_counter() - started
        hit = matched(reference[index], boxes)  # type: ignore[arg-type]
        total += len(reference[index])
        hits += hit
        extra += len(boxes) - hit
    recall = hits / max(total, 1)
    print(
        f"reference_faces={total} found={hits} recall={recall:.4f} extra_faces={extra} "
        f"frames={len(reference)} fast_s_per_frame={fast_seconds / len(reference):.3f}"
    )

    cnn = dlib.cnn_face_detection_model_v1(str(packaged_model_path(MMOD_FILE)))
    every = max(1, len(reference) // max(1, timing_frames))
    dlib_s = fast_s = 0.0
    for _, pixels in list(frames(video, every))[:timing_frames]:
        started = time.perf_counter()
        cnn(pixels, 0)
        dlib_s += time.perf_counter() - started
        started = time.perf_counter()
        fast.detect(pixels)
        fast_s += time.perf_counter() - started
    print(
        f"timing on {timing_frames} frames, one core each: dlib_cnn={dlib_s / timing_frames:.2f}s "
        f"cnn-onnx={fast_s / timing_frames:.3f}s per frame"
    )
    return f"detector_recall={recall:.4f} detector_speedup_vs_dlib_cnn={dlib_s / fast_s:.1f}"


if __name__ == "__main__":
    main()
