"""Does enhancing a degraded probe change FNIR and FPIR? Measured, not assumed.

On LFW identities of the half the shipped decision rule was *not* fitted on
(bench/trust.py's split): each identity's first image is its gallery reference;
30% of identities (by a hash of the name) are held out, and their second image
is a non-mated probe; the others' second image is a mated probe. Each probe is
searched clean and after one CCTV degradation (media/degrade.py; "small" is a
true downscale to the stated inter-eye distance, not enlarged back), then again
after each enhancement in media/enhancement.py that an analyst would reach for
on that degradation. Every view goes through the full engine, detection
included (a face the detector no longer finds is a miss), and is decided by the
shipped open-set rule (target FPIR 1%, the product's default probe quality
floor) against one gallery: the enrolled references plus single-image LFW
identities as distractors.

Printed per (degradation, enhancement): faces found, FNIR, FPIR, share not
searched (too poor), FNIR at a fixed FPIR of 10% (the model's own trade-off, free
of the rule), and, paired with the same probes unenhanced, the mates gained and
lost and the non-mated searches that started or stopped returning someone. With
140 mated probes an FNIR moves in steps of 0.7 points, with 60 non-mated an FPIR
in steps of 1.7 points. Results and discussion: docs/probe_preparation.md.

Usage: python bench/enhancement.py [--data ../shared/data] [--identities 200]
       [--distractors 300] [--workers 2]
Nothing is written: templates live in memory for the run.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.eval.identification import threshold_at_fpir
from retroface.eval.open_set_rates import ProbeOutcomes, rates
from retroface.faces import EngineSpec
from retroface.faces.batch_runner import map_with_engine
from retroface.faces.engine import FaceEngine
from retroface.faces.face_choice import overlap
from retroface.faces.open_set import shipped_open_set
from retroface.faces.quality import inter_eye_px
from retroface.faces.types import AnalysedFace, Box
from retroface.media import MediaLimits, load_image
from retroface.media.degrade import Degradation, degrade
from retroface.media.enhancement import Step, apply_steps, parse_steps
from retroface.settings import Settings

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TARGET_FPIR = 0.01
#: services/deployment/decision_rule.py's MIN_SEARCH_EYE_PX (bench imports no service).
MIN_SEARCH_EYE_PX = 10.0
HELD_OUT_SHARE = 0.3

#: Degradation (None: clean; ("small", eye px): a true downscale) → enhancements tried.
PLAN: list[tuple[str, list[str]]] = [
    ("clean", ["", "clahe", "sharpen", "gamma:0.7"]),
    ("low_light:0.15", ["", "gamma:0.6", "clahe", "equalise", "denoise;clahe"]),
    ("gaussian_blur:3", ["", "sharpen", "sharpen:radius=3,percent=300,threshold=0"]),
    ("motion_blur:13", ["", "sharpen"]),
    ("jpeg:10", ["", "denoise:method=gaussian,sigma=1", "denoise"]),
    ("downscale:12", ["", "sharpen"]),
    ("small:12", ["", "upscale:2", "upscale:4", "upscale:factor=4,method=lanczos"]),
]


def in_half_a(name: str) -> bool:
    """bench/trust.py's split: half A fitted the shipped rule; only half B is used here."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2 == 0


def held_out(name: str) -> bool:
    digest = hashlib.sha256(f"enhancement-bench:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_SHARE


@dataclass(frozen=True)
class ProbeJob:
    path: Path
    plan: tuple[tuple[str, tuple[tuple[str, tuple[Step, ...]], ...]], ...]


@dataclass
class View:
    condition: str
    enhancement: str
    template: NDArray[np.float32] | None
    quality: float
    eye_px: float = 0.0


def _small(pixels: NDArray[np.uint8], eye_px: float, target: float) -> NDArray[np.uint8]:
    """Shrunk (area-averaged) so the face has ``target`` pixels between the eyes."""
    factor = min(1.0, target / max(eye_px, 1.0))
    h, w = pixels.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BOX))


def _same_face(faces: list[AnalysedFace], box: Box) -> AnalysedFace | None:
    best, best_overlap = None, 0.3
    for face in faces:
        value = overlap(face.detection.box, box)
        if value > best_overlap:
            best, best_overlap = face, value
    return best


def analyse_probe(engine: FaceEngine, job: ProbeJob) -> list[View]:
    """Every (degradation, enhancement) view of one probe; pixels never leave the worker."""
    pixels = load_image(job.path, MediaLimits()).pixels
    faces = engine.analyse(pixels)
    if not faces:
        return []
    clean = faces[0]
    eyes = inter_eye_px(clean.landmarks)
    seed = int.from_bytes(hashlib.sha256(job.path.name.encode()).digest()[:4], "big")
    views = []
    for condition, enhancements in job.plan:
        kind, _, level = condition.partition(":")
        scale = 1.0
        if kind == "clean":
            degraded = pixels
        elif kind == "small":
            degraded = _small(pixels, eyes, float(level))
            scale = degraded.shape[1] / pixels.shape[1]
        else:
            degraded = degrade(
                pixels, Degradation(kind, float(level)), inter_eye_px=eyes, seed=seed
            )
        for name, steps in enhancements:
            enhanced = apply_steps(degraded, steps)
            # Where the clean face is in the enhanced image (only scaling changes geometry).
            grow = scale * enhanced.shape[1] / degraded.shape[1]
            box = clean.detection.box
            expected = Box(
                round(box.x * grow), round(box.y * grow), round(box.w * grow), round(box.h * grow)
            )
            found = _same_face(engine.analyse(enhanced), expected)
            views.append(
                View(
                    condition,
                    name,
                    None if found is None else found.embedding,
                    0.0 if found is None else found.quality.overall,
                    0.0 if found is None else inter_eye_px(found.landmarks),
                )
            )
    return views


def reference(engine: FaceEngine, path: Path) -> NDArray[np.float32] | None:
    try:
        faces = engine.analyse(load_image(path, MediaLimits()).pixels)
    except Exception:  # a reference that cannot be read is simply not enrolled
        return None
    return faces[0].embedding if faces else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--identities", type=int, default=200)
    parser.add_argument("--distractors", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    lfw = args.data / "lfw"
    by = {p.name: sorted(p.glob("*.jpg")) for p in sorted(lfw.iterdir()) if p.is_dir()}
    half_b = [n for n in sorted(by) if not in_half_a(n)]
    multi = [n for n in half_b if len(by[n]) >= 2][: args.identities]
    singles = [n for n in half_b if len(by[n]) == 1][: args.distractors]
    enrolled = [n for n in multi if not held_out(n)]
    plan = tuple(
        (condition, tuple((e, tuple(parse_steps(e.split(";")) if e else ())) for e in enh))
        for condition, enh in PLAN
    )
    spec = EngineSpec(jitters=Settings().jitters)
    started = time.perf_counter()
    gallery_names = enrolled + singles
    refs = list(
        map_with_engine(reference, [by[n][0] for n in gallery_names], spec, args.workers, chunk=8)
    )
    jobs = [ProbeJob(by[n][1], plan) for n in multi]
    results = list(map_with_engine(analyse_probe, jobs, spec, args.workers, chunk=4))
    print(
        f"analysed {len(gallery_names)} references and {len(jobs)} probes x "
        f"{sum(len(e) for _, e in PLAN)} views in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    keep = [i for i, r in enumerate(refs) if r is not None]
    gallery = np.stack([refs[i] for i in keep]).astype(np.float32)
    column = {gallery_names[i]: c for c, i in enumerate(keep)}
    model = shipped_open_set("dlib_resnet_v1")
    floor = Settings().threshold
    quality_floor = Settings().probe_quality_floor
    print(
        f"gallery {len(gallery)} subjects ({len(enrolled)} enrolled identities, "
        f"{len(singles)} distractors); mated probes {len(enrolled)}, non-mated "
        f"{len(multi) - len(enrolled)}; rule: {'open-set' if model else 'fixed'} at "
        f"target FPIR {TARGET_FPIR:.0%}, probe quality floor {quality_floor}"
    )
    print(
        f"{'degradation':<16} {'enhancement':<42} {'found':>6} {'FNIR':>7} {'FPIR':>7} "
        f"{'too poor':>8} {'FNIR@FPIR10%':>12}  {'mates +/-':>9}  {'false +/-':>9}"
    )
    # Probes of enrolled people whose reference gave no face have no mate: left out.
    usable = [i for i, n in enumerate(multi) if n in column or n not in enrolled]
    for condition, enhancements in PLAN:
        baseline: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None = None
        for name in enhancements:
            rows = [
                (multi[i], v)
                for i in usable
                for v in results[i]
                if v.condition == condition and v.enhancement == name
            ]
            with_face = [(n, v) for n, v in rows if v.template is not None]
            truth = np.array([column.get(n, -1) if n in enrolled else -1 for n, _ in rows])
            top = np.full(len(rows), -1.0)
            best = np.full(len(rows), -1, np.int64)
            bar = np.full(len(rows), 2.0)
            searched = np.zeros(len(rows), bool)
            if with_face:
                index = [k for k, (_, v) in enumerate(rows) if v.template is not None]
                matrix = np.stack([v.template for _, v in with_face])
                sims = matrix @ gallery.T
                best[index] = sims.argmax(axis=1)
                top[index] = sims.max(axis=1)
                if model is not None:
                    mu, sigma = model.stats(matrix)
                    z = model.z_bar(TARGET_FPIR, len(gallery))
                    bar[index] = np.maximum(floor, mu + z * sigma)
                else:
                    bar[index] = floor
                # The product's rule: below the quality floor, or under 10 px between the
                # eyes, a face is too poor to search (services/deployment/decision_rule.py).
                searched[index] = [
                    v.quality >= quality_floor and v.eye_px >= MIN_SEARCH_EYE_PX
                    for _, v in with_face
                ]
            outcomes = ProbeOutcomes(top, best, truth, bar, searched)
            r = rates(outcomes)
            # Every probe searched, one raw threshold at FPIR 10% over the non-mated ones.
            mated, non = truth >= 0, truth < 0
            fnir_fixed = None
            if non.any() and mated.any():
                fixed = threshold_at_fpir(top[non], 0.10)
                fnir_fixed = 1.0 - float(((best == truth) & (top >= fixed))[mated].mean())
            # Paired with the same probes unenhanced: mates found that were missed (+) and
            # missed that were found (-); non-mated searches that now return someone (+)
            # and no longer do (-). The same probes, so these are not sampling noise.
            found = outcomes.hit & (best == truth) & mated
            false = outcomes.hit & non
            paired = ""
            if baseline is None:
                baseline = (found, false)
            elif len(found) == len(baseline[0]):
                was_found, was_false = baseline
                paired = (
                    f"  {f'+{int((found & ~was_found).sum())}/-{int((~found & was_found).sum())}':>9}"
                    f"  {f'+{int((false & ~was_false).sum())}/-{int((~false & was_false).sum())}':>9}"
                )
            label = name or "(none)"
            print(
                f"{condition:<16} {label:<42} {len(with_face):>6} {_pct(r.fnir)} "
                f"{_pct(r.fpir)} {100 * r.not_searched:>7.1f}%      {_pct(fnir_fixed)}"
                f"{paired}",
                flush=True,
            )
    print(f"total {time.perf_counter() - started:.0f} s")


def _pct(value: float | None) -> str:
    return "     - " if value is None else f"{100 * value:>6.1f}%"


if __name__ == "__main__":
    main()
