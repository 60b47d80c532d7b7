"""LFW 10-fold verification through the retroface engine.

Prints mean accuracy and its standard deviation over the 10 folds of
``lfw_pairs.txt`` (threshold fitted on 9 folds, tested on the 10th), images
per second, and how many images had no detected face.

No-face policy (benchmark only): the protocol needs a score for every pair,
so where the detector finds no face we embed the face at the box where the
LFW (deep-funneled, centred) images put it: the median of the boxes found in
the other images. Where several faces are found, we take the one nearest the
image centre, as LFW's labels refer to the centred person.

Usage: python bench/lfw_verify.py [--data ../shared/data] [--workers 2] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from retroface.eval.lfw_protocol import read_lfw_pairs
from retroface.eval.verification import k_fold_accuracy
from retroface.faces import AnalysedFace, Box, EngineSpec, FaceEngine, analyse_files
from retroface.faces.engine_description import describe
from retroface.media import MediaLimits, load_image

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def centre_face(faces: list[AnalysedFace], width: int, height: int) -> AnalysedFace:
    def distance(f: AnalysedFace) -> float:
        b = f.detection.box
        return (b.x + b.w / 2 - width / 2) ** 2 + (b.y + b.h / 2 - height / 2) ** 2

    return min(faces, key=distance)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--limit", type=int, default=0, help="use only the first N pairs per fold half"
    )
    # The defaults are the engine's (EngineSpec), the configuration DEFAULT_THRESHOLD is for.
    defaults = EngineSpec()
    parser.add_argument(
        "--jitters", type=int, default=defaults.jitters, help="jittered copies averaged per face"
    )
    parser.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=defaults.mirror,
        help="also embed each chip's mirror image (--mirror with --jitters 2: the 'jit2m' recipe)",
    )
    parser.add_argument(
        "--detector",
        default=defaults.detector,
        help="detector backend (hog, cnn, cascade, coarse-cascade)",
    )
    parser.add_argument(
        "--alignments",
        default=",".join(str(points) for points in defaults.alignments),
        help="landmark alignments averaged per face: 5, 68 or 5,68 (the default)",
    )
    parser.add_argument(
        "--embedder", default=defaults.embedder, help="embedder backend (dlib, onnx, ...)"
    )
    parser.add_argument(
        "--cross",
        type=Path,
        help="a .npz of templates saved by an earlier run (--save) with another recipe: also "
        "score each pair's first image from it against the second from this run",
    )
    parser.add_argument("--save", type=Path, help="save this run's templates (.npz) for --cross")
    args = parser.parse_args()

    pairs = read_lfw_pairs(args.data / "lfw_pairs.txt", args.data / "lfw")
    if args.limit:
        keep: dict[tuple[int, bool], int] = {}
        subset = []
        for p in pairs:
            key = (p.fold, p.same)
            if keep.get(key, 0) < args.limit:
                keep[key] = keep.get(key, 0) + 1
                subset.append(p)
        pairs = subset
    images = sorted({p.first for p in pairs} | {p.second for p in pairs})
    print(
        f"pairs={len(pairs)} unique_images={len(images)} workers={args.workers} "
        f"jitters={args.jitters} mirror={args.mirror} detector={args.detector} "
        f"alignments={args.alignments} embedder={args.embedder}",
        flush=True,
    )

    spec = EngineSpec(
        jitters=args.jitters,
        mirror=args.mirror,
        embedder=args.embedder,
        detector=args.detector,
        alignments=tuple(int(p) for p in args.alignments.replace("+", ",").split(",")),
    )
    print(f"engine={describe(spec)}", flush=True)
    started = time.perf_counter()
    embeddings: dict[Path, np.ndarray] = {}
    boxes: list[Box] = []
    missing: list[Path] = []
    for result in analyse_files(images, spec, MediaLimits(), args.workers):
        if result.error:
            raise SystemExit(f"unreadable LFW image: {result.error}")
        if result.faces:
            face = centre_face(result.faces, result.width, result.height)
            embeddings[result.path] = face.embedding
            boxes.append(face.detection.box)
        else:
            missing.append(result.path)
    if missing:
        engine = FaceEngine.from_spec(spec)
        median = Box(
            *(int(np.median([getattr(b, k) for b in boxes])) for k in ("x", "y", "w", "h"))
        )
        for path in missing:
            embeddings[path] = engine.analyse_box(load_image(path).pixels, median).embedding
    elapsed = time.perf_counter() - started

    scores = np.array([float(embeddings[p.first] @ embeddings[p.second]) for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    result = k_fold_accuracy(scores, same, folds)
    if args.save:
        np.savez(args.save, **{str(k.relative_to(args.data)): v for k, v in embeddings.items()})
    if args.cross:
        with np.load(args.cross) as saved:
            other = {args.data / k: saved[k] for k in saved.files}
        mixed = np.array([float(other[p.first] @ embeddings[p.second]) for p in pairs])
        crossed = k_fold_accuracy(mixed, same, folds)
        print(
            f"cross-recipe 10-fold accuracy (first image from {args.cross.name}, second from "
            f"this run): {crossed.mean:.4f} +/- {crossed.std:.4f}"
        )
    print(f"fold_accuracies={[round(a, 4) for a in result.fold_accuracies]}")
    print(f"fold_thresholds={[round(t, 4) for t in result.fold_thresholds]}")
    print(
        f"images_per_second={len(images) / elapsed:.2f} (wall {elapsed:.1f}s, {args.workers} workers)"
    )
    print(f"no_face_images={len(missing)} of {len(images)} (embedded at the median LFW face box)")
    far = _threshold_at_far(scores[~same], 1e-3)
    tar = float(np.mean(scores[same] >= far))
    print(f"threshold_at_far_1e-3={far:.4f} tar_at_far_1e-3={tar:.4f}")
    print(f"lfw_accuracy={result.mean:.4f} std={result.std:.4f}")


def _threshold_at_far(impostor_scores: np.ndarray, far: float) -> float:
    """Smallest threshold letting through at most ``far`` of the different-person pairs."""
    ranked = np.sort(impostor_scores)[::-1]
    allowed = int(np.floor(far * len(ranked)))
    return float(ranked[allowed] + 1e-6) if allowed < len(ranked) else float(ranked[-1])


if __name__ == "__main__":
    main()
