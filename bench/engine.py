"""retroface's face engine against face_recognition, same dlib models, same 2 cores.

face_recognition (ageitgey) is the popular peer; it runs dlib's HOG detector
(upsampled once), dlib's 5-point landmarks and dlib's ResNet descriptor. It is
not a dependency of retroface; install it for this benchmark only with
``pip install --no-deps face_recognition``.

What is measured, in one process run:

* throughput (images/s, ``--workers`` warm processes each: the pools are started
  and their models loaded before the clock starts, and that start-up is printed
  apart) on ``--images`` LFW
  images taken from the pairs of ``lfw_pairs.txt``, and on the first
  ``--frames`` frames of ``covent_garden_crowd.mp4`` (1080p): every face found
  is detected, landmarked and embedded;
* the same throughput for retroface's default configuration (``EngineSpec()``: what a
  user gets, six embedded views per face) against the same peer run, then again with the
  two sides taking ``--blocks`` blocks of the images in turn (on a shared machine the
  load drifts between runs; alternating blocks spreads the drift over both), the CPU
  time per image of both on one core in one process (``--stage-images`` images, barely
  moved by other load), and where its time goes per image on one core (decode, detect, landmarks and chip per alignment, jittered
  views, embedding, quality) on the first ``--stage-images`` images;
* LFW accuracy of both, 10-fold (threshold fitted on 9 folds), on the pairs
  whose two images are in the set (where a detector finds no face, the face is
  embedded at the median LFW face box, as bench/lfw_verify.py does);
* embedding cost in ms per face on one core for dlib, for ONNX Runtime (float) and for
  the int8 model (``onnx8``, the default), timed one after the other on the same chips,
  and the float model's largest difference to dlib;
* unless ``--skip-detector``: bench/detector.py (recall and speed of the
  ``cnn-onnx`` detector against dlib's CNN on the crowd video).

retroface's first configuration is pinned to what this line has always measured: one view
(``jitters=1``, no mirror) of one (5-point) alignment (as face_recognition does), the float
ONNX ResNet, and HOG without upsampling (``--min-face-px 80``; LFW faces are ~110 px),
falling back to the MMOD CNN where HOG finds nothing. The last line is
``speedup_vs_face_recognition=<x> lfw_accuracy=<a>`` (LFW throughput ratio,
retroface's accuracy).

Usage: python bench/engine.py [--data ../shared/data] [--workers 2] [--images 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from retroface.eval.lfw_protocol import LfwPair, read_lfw_pairs
from retroface.eval.verification import k_fold_accuracy
from retroface.faces import EngineSpec, FaceEngine, analyse_files, worker_pool
from retroface.faces.engine_description import describe
from retroface.media import MediaLimits, load_image

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
Face = tuple[tuple[int, int, int, int], np.ndarray]  # (x, y, w, h), unit embedding


def select(pairs: list[LfwPair], count: int) -> tuple[list[Path], list[LfwPair]]:
    """Up to ``count`` images: those of the first pairs of every fold half, round by round."""
    seen: dict[tuple[int, bool], int] = {}
    ranks = []
    for pair in pairs:  # a pair's position within its fold half, so all folds are sampled alike
        key = (pair.fold, pair.same)
        ranks.append(seen.get(key, 0))
        seen[key] = ranks[-1] + 1
    chosen: dict[Path, None] = {}
    used: list[LfwPair] = []
    for _, pair in sorted(zip(ranks, pairs, strict=True), key=lambda rp: rp[0]):
        new = [p for p in dict.fromkeys((pair.first, pair.second)) if p not in chosen]
        if len(chosen) + len(new) > count:
            break
        chosen.update(dict.fromkeys(new))
        used.append(pair)
    return list(chosen), used


# ---- face_recognition, the peer -------------------------------------------------------


def _peer_image(path: Path) -> list[Face]:
    import face_recognition

    pixels = face_recognition.load_image_file(str(path))
    return _peer_faces(pixels)


def _peer_faces(pixels: np.ndarray) -> list[Face]:
    import face_recognition

    locations = face_recognition.face_locations(pixels)  # HOG, upsampled once (its default)
    encodings = face_recognition.face_encodings(pixels, locations)
    return [
        ((left, top, right - left, bottom - top), _unit(encoding))
        for (top, right, bottom, left), encoding in zip(locations, encodings, strict=True)
    ]


def _peer_at_box(path: Path, box: tuple[int, int, int, int]) -> np.ndarray:
    import face_recognition

    x, y, w, h = box
    pixels = face_recognition.load_image_file(str(path))
    return _unit(face_recognition.face_encodings(pixels, [(y, x + w, y + h, x)])[0])


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


# ---- retroface --------------------------------------------------------------------------

_engine: FaceEngine | None = None


def _init_engine(spec: EngineSpec) -> None:
    global _engine  # noqa: PLW0603 - one engine per worker process
    _engine = FaceEngine.from_spec(spec)


def _ours_frame(pixels: np.ndarray) -> int:
    assert _engine is not None
    return len(_engine.analyse(pixels))


def _peer_frame(pixels: np.ndarray) -> int:
    return len(_peer_faces(pixels))


def _frames(video: Path, count: int) -> Iterator[np.ndarray]:
    import av

    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == count:
                return
            yield frame.to_ndarray(format="rgb24")


def _centre(faces: list[Face], size: int = 250) -> Face | None:
    def distance(face: Face) -> float:
        x, y, w, h = face[0]
        return (x + w / 2 - size / 2) ** 2 + (y + h / 2 - size / 2) ** 2

    return min(faces, key=distance, default=None)


def lfw_accuracy(
    found: dict[Path, Face | None], pairs: list[LfwPair], embed_at: object
) -> tuple[float, float, int]:
    """10-fold accuracy (mean, std) on the pairs, and how many images needed the median box."""
    boxes = [face[0] for face in found.values() if face is not None]
    median = tuple(int(np.median([b[i] for b in boxes])) for i in range(4))
    embeddings = {}
    missing = 0
    for path, face in found.items():
        if face is None:
            missing += 1
            embeddings[path] = embed_at(path, median)  # type: ignore[operator]
        else:
            embeddings[path] = face[1]
    scores = np.array([float(embeddings[p.first] @ embeddings[p.second]) for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    result = k_fold_accuracy(scores, same, folds)
    return result.mean, result.std, missing


def interleaved(
    images: list[Path], spec: EngineSpec, limits: MediaLimits, workers: int, blocks: int
) -> str:
    """The default configuration against the peer in alternating blocks of the images.

    Why: on a shared machine the load drifts between two runs one after the other, and
    the ratio with it; with both pools warm and the images cut into ``blocks`` taken in
    turn by each side, a drift weighs on both alike.
    """
    size = max(1, -(-len(images) // blocks))
    parts = [images[i : i + size] for i in range(0, len(images), size)]
    peer_s = ours_s = 0.0
    with ProcessPoolExecutor(workers) as peer, worker_pool(spec, limits, workers) as ours:
        list(peer.map(_peer_image, images[: 4 * workers]))
        list(analyse_files(images[: 4 * workers], spec, limits, workers, pool=ours))
        for part in parts:
            started = time.perf_counter()
            list(peer.map(_peer_image, part, chunksize=8))
            peer_s += time.perf_counter() - started
            started = time.perf_counter()
            list(analyse_files(part, spec, limits, workers, pool=ours))
            ours_s += time.perf_counter() - started
    return (
        f"default configuration, interleaved in {len(parts)} blocks: lfw images/s "
        f"face_recognition={len(images) / peer_s:.2f} retroface={len(images) / ours_s:.2f} "
        f"ratio={peer_s / ours_s:.2f} (goal >= 3)"
    )


def core_times(images: list[Path], spec: EngineSpec, limits: MediaLimits) -> str:
    """CPU seconds per image of the peer and of ``spec`` in this one process, in turn.

    Why: with other work on the machine, wall-clock throughput drifts between runs; the
    CPU time a process spends on the same images barely does (both sides run on one
    thread: dlib without BLAS, ONNX Runtime with one intra-op thread). Both sides take
    the images 16 at a time, ours through analyse_batch (one embedding run for the 16).
    """
    from retroface.faces.batch_runner import analyse_batch

    engine = FaceEngine.from_spec(spec)
    for path in images[:4]:
        _peer_image(path)
    analyse_batch(engine, images[:4], limits)
    peer_s = ours_s = 0.0
    for i in range(0, len(images), 16):
        chunk = images[i : i + 16]
        started = time.process_time()
        for path in chunk:
            _peer_image(path)
        peer_s += time.process_time() - started
        started = time.process_time()
        analyse_batch(engine, chunk, limits)
        ours_s += time.process_time() - started
    return (
        f"default configuration, CPU ms per image on one core ({len(images)} images, in "
        f"turn): face_recognition={peer_s * 1000 / len(images):.1f} "
        f"retroface={ours_s * 1000 / len(images):.1f} ratio={peer_s / ours_s:.2f} (goal >= 3)"
    )


def stage_times(images: list[Path], spec: EngineSpec) -> str:
    """Where one image's time goes in ``spec`` on one core (this process), ms per image.

    The stages are the engine's own calls in its order (FaceEngine.analyse_detections):
    decode, detect, landmarks and chip per alignment, the jittered (and mirrored) views,
    one embedding run for all views of the image's faces, quality. Warm: the models are
    loaded and the first images analysed before the clock starts.
    """
    from retroface.faces.jitter import jittered_chips

    engine = FaceEngine.from_spec(spec)
    for path in images[:4]:
        engine.analyse(load_image(path).pixels)
    aligners = (engine.aligner, *engine.extra_aligners)
    stages = ["decode", "detect", *(f"landmarks{a.points}" for a in aligners)]
    spent = dict.fromkeys([*stages, "views", "embed", "quality"], 0.0)
    faces = views_embedded = 0

    def clock(stage: str, started: float) -> float:
        now = time.perf_counter()
        spent[stage] += now - started
        return now

    for path in images:
        started = time.perf_counter()
        pixels = load_image(path).pixels
        started = clock("decode", started)
        detections = engine.detect(pixels)
        started = clock("detect", started)
        views: list[np.ndarray] = []
        for detection in detections:
            chips = []
            for aligner in aligners:
                aligned = aligner.align(pixels, detection.box)
                chips.append(aligned.chip)
                started = clock(f"landmarks{aligner.points}", started)
                if aligner is engine.aligner:
                    engine.quality.assess(detection, aligned.landmarks, aligned.chip)
                    started = clock("quality", started)
            for chip in chips:
                views += jittered_chips(chip, engine.jitters)
                if engine.mirror:
                    views.append(np.ascontiguousarray(chip[:, ::-1]))
            started = clock("views", started)
        faces += len(detections)
        views_embedded += len(views)
        if views:
            engine.embedder.embed(views)
            clock("embed", started)
    total = sum(spent.values())
    parts = " ".join(f"{k}={v * 1000 / len(images):.1f}" for k, v in spent.items())
    per_view = spent["embed"] * 1000 / max(views_embedded, 1)
    return (
        f"default configuration, ms per image on one core ({len(images)} images, {faces} faces, "
        f"{views_embedded} views): {parts} total={total * 1000 / len(images):.1f}; "
        f"embedding {per_view:.2f} ms per view"
    )


def embedding_costs(images: list[Path], chips_wanted: int = 24) -> str:
    """ms per face on one core, dlib vs ONNX Runtime, on the same chips; and max |Δ|."""
    import dlib

    from retroface.faces.dlib_resnet_onnx import OnnxResNetEmbedder
    from retroface.faces.model_files import LANDMARKS_5_FILE, RESNET_FILE, packaged_model_path
    from retroface.faces.resnet_int8 import int8_embedder

    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(packaged_model_path(LANDMARKS_5_FILE)))
    chips = []
    for path in images:
        pixels = load_image(path).pixels
        rects = detector(pixels, 0)
        if rects:
            shape = shapes(pixels, rects[0])
            chips.append(dlib.get_face_chip(pixels, shape, size=150, padding=0.25))
        if len(chips) == chips_wanted:
            break
    net = dlib.face_recognition_model_v1(str(packaged_model_path(RESNET_FILE)))
    onnx = OnnxResNetEmbedder(threads=1)
    onnx.raw_descriptors(chips[:1])  # warm-up
    int8 = int8_embedder()
    int8.raw_descriptors(chips[:1])
    started = time.perf_counter()
    theirs = np.stack([np.asarray(net.compute_face_descriptor(chip)) for chip in chips])
    dlib_ms = (time.perf_counter() - started) * 1000 / len(chips)
    started = time.perf_counter()
    ours = np.concatenate([onnx.raw_descriptors([chip]) for chip in chips])
    onnx_ms = (time.perf_counter() - started) * 1000 / len(chips)
    started = time.perf_counter()
    quantised = np.concatenate([int8.raw_descriptors([chip]) for chip in chips])
    int8_ms = (time.perf_counter() - started) * 1000 / len(chips)
    delta = float(np.abs(ours - theirs).max())
    unit = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    cosine = (unit * quantised / np.linalg.norm(quantised, axis=1, keepdims=True)).sum(axis=1)
    return (
        f"embedding_ms_per_face_one_core: dlib={dlib_ms:.1f} onnx={onnx_ms:.1f} "
        f"(x{dlib_ms / onnx_ms:.1f}) onnx8={int8_ms:.1f} (x{dlib_ms / int8_ms:.1f}) "
        f"max_abs_diff_vs_dlib={delta:.2e} min_cosine_onnx8_vs_onnx={cosine.min():.5f} "
        f"on {len(chips)} LFW faces"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--min-face-px", type=int, default=80)
    parser.add_argument("--skip-detector", action="store_true")
    parser.add_argument(
        "--stage-images", type=int, default=200, help="images timed stage by stage, one core"
    )
    parser.add_argument(
        "--blocks", type=int, default=4, help="alternating blocks for the interleaved ratio"
    )
    args = parser.parse_args()
    try:
        import face_recognition  # noqa: F401
    except ImportError:
        sys.exit(
            "face_recognition is not installed. It is the peer this benchmark compares with, "
            "not a dependency of retroface: pip install --no-deps face_recognition"
        )

    all_pairs = read_lfw_pairs(args.data / "lfw_pairs.txt", args.data / "lfw")
    images, pairs = select(all_pairs, args.images)
    spec = EngineSpec(
        detector="cascade",
        embedder="onnx",
        jitters=1,
        mirror=False,
        alignments=(5,),
        min_face_px=args.min_face_px,
    )
    print(
        f"lfw_images={len(images)} pairs={len(pairs)} workers={args.workers} "
        f"retroface: detector={spec.detector} min_face_px={spec.min_face_px} "
        f"embedder={spec.embedder} jitters={spec.jitters}",
        flush=True,
    )

    # Throughput is measured with warm workers on both sides (models loaded, as a server or
    # a long ingest runs); the start-up of each side's pool is timed and printed apart.
    warm = images[: 4 * args.workers]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(_peer_image, warm))
        peer_start_s = time.perf_counter() - started
        started = time.perf_counter()
        peer_faces = list(pool.map(_peer_image, images, chunksize=8))
        peer_s = time.perf_counter() - started
    limits = MediaLimits()
    started = time.perf_counter()
    ours_found: dict[Path, Face | None] = {}
    with worker_pool(spec, limits, args.workers) as pool:
        list(analyse_files(warm, spec, limits, args.workers, pool=pool))
        ours_start_s = time.perf_counter() - started
        started = time.perf_counter()
        for result in analyse_files(images, spec, limits, args.workers, pool=pool):
            faces = [(tuple(f.detection.box.as_list()), f.embedding) for f in result.faces]
            ours_found[result.path] = _centre(faces)  # type: ignore[arg-type]
        ours_s = time.perf_counter() - started
    print(
        f"pool start-up and first {len(warm)} images (s): face_recognition={peer_start_s:.2f} "
        f"retroface={ours_start_s:.2f}",
        flush=True,
    )
    speedup = peer_s / ours_s
    print(
        f"lfw images/s: face_recognition={len(images) / peer_s:.2f} "
        f"retroface={len(images) / ours_s:.2f} ratio={speedup:.2f}",
        flush=True,
    )

    # The default configuration (EngineSpec(): both alignments, the chip and 2 jittered copies
    # of each, int8 ResNet: what a user gets; LFW 10-fold by bench/lfw_verify.py, README) on
    # the same images.
    default = EngineSpec()
    with worker_pool(default, limits, args.workers) as pool:
        list(analyse_files(warm, default, limits, args.workers, pool=pool))
        started = time.perf_counter()
        for _ in analyse_files(images, default, limits, args.workers, pool=pool):
            pass
        default_s = time.perf_counter() - started
    print(
        f"default configuration ({describe(default)}) lfw images/s: "
        f"face_recognition={len(images) / peer_s:.2f} retroface={len(images) / default_s:.2f} "
        f"ratio={peer_s / default_s:.2f} (goal >= 3)",
        flush=True,
    )
    print(interleaved(images, default, limits, args.workers, args.blocks), flush=True)
    print(core_times(images[: args.stage_images], default, limits), flush=True)
    print(stage_times(images[: args.stage_images], default), flush=True)

    peer_found = {path: _centre(faces) for path, faces in zip(images, peer_faces, strict=True)}
    engine = FaceEngine.from_spec(spec)

    def ours_at(path: Path, box: tuple[int, int, int, int]) -> np.ndarray:
        from retroface.faces import Box

        return engine.analyse_box(load_image(path).pixels, Box(*box)).embedding

    peer_acc, peer_std, peer_missing = lfw_accuracy(peer_found, pairs, _peer_at_box)
    ours_acc, ours_std, ours_missing = lfw_accuracy(ours_found, pairs, ours_at)
    print(
        f"lfw 10-fold accuracy on {len(pairs)} pairs: face_recognition={peer_acc:.4f} "
        f"(+/-{peer_std:.4f}, {peer_missing} no-face) retroface={ours_acc:.4f} "
        f"(+/-{ours_std:.4f}, {ours_missing} no-face)",
        flush=True,
    )

    video = args.data / "video" / "covent_garden_crowd.mp4"
    frames = list(_frames(video, args.frames))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        peer_count = sum(pool.map(_peer_frame, frames))
    peer_video_s = time.perf_counter() - started
    video_spec = EngineSpec(  # HOG upsampled once, as the peer; one float view per face
        detector="cascade", embedder="onnx", jitters=1, mirror=False, alignments=(5,)
    )
    started = time.perf_counter()
    with ProcessPoolExecutor(
        args.workers, initializer=_init_engine, initargs=(video_spec,)
    ) as pool:
        ours_count = sum(pool.map(_ours_frame, frames))
    ours_video_s = time.perf_counter() - started
    print(
        f"video ({len(frames)} frames 1080p) frames/s: face_recognition="
        f"{len(frames) / peer_video_s:.2f} ({peer_count} faces) retroface="
        f"{len(frames) / ours_video_s:.2f} ({ours_count} faces) "
        f"ratio={peer_video_s / ours_video_s:.2f}",
        flush=True,
    )

    print(embedding_costs(images), flush=True)
    if not args.skip_detector:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from detector import detection_report  # type: ignore[import-not-found]

        print(detection_report(video, args.workers, timing_frames=3), flush=True)
    print(f"speedup_vs_face_recognition={speedup:.2f} lfw_accuracy={ours_acc:.4f}")


if __name__ == "__main__":
    main()
