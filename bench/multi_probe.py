"""Several stills of one unknown person as one probe: which fusion, measured on LFW.

Why: an investigator often holds several poor stills of the same person (other
cameras, other moments). Searching them one by one multiplies the false leads
and hides the agreement between them; searching them as one probe can find a
person no single still finds. How to fuse is a question for numbers, not taste:

* ``template mean``: the unit templates averaged, then re-normalised (one probe
  template; the bar is the ordinary one for a gallery of N templates);
* ``quality-weighted mean``: the same with each still weighted by its
  matchability (faces/quality.py: the calibrated chance that it is searchable);
* ``score max`` / ``score mean``: every still searched, each gallery template
  scored by the best (or the mean) of the stills' scores. A max over k stills is
  k chances per template for an impostor, so its bar must be set for k x N
  comparisons to keep the stated FPIR (shown also with the naive N bar, to see
  what that does); a mean of scores keeps the single-score bar.

A mean template re-normalised to unit length scores everyone (mates and impostors)
``1/|mean|`` higher than its stills do, against a bar measured for single stills; left
at its own length its scores are the mean of the stills'. So the mean is also measured
at length ``|mean| ** gamma``, gamma fitted on one fold of the people (the smallest at
which fused probes raise no more false candidates than single stills) and seen on the
other; the larger of the two fits is what faces/probe_fusion.py ships.

Protocol (held out from the shipped calibration, which was fitted on half A of
LFW by sha256 of the name): half B's identities with four or more images. The
gallery holds the first image of each and, as distractors, the only image of
half B's single-image identities, up to ``--gallery-size`` subjects. The next
three images are the stills, each searched clean and with one CCTV degradation
(media/degrade.py defaults, a different one per still by a seeded draw, as if
from different cameras). Probes of 1, 2 and 3 stills (every subset), stills
below the deployment's probe quality floor dropped as a search drops them.
Mated searches use the whole gallery; the same probe with its own mate removed
is a non-mated search (leave-one-out), for FPIR. The bar is the deployment's
decision rule (services/deployment/decision_rule.py with the shipped open-set
model, faces/open_set.py) at the target FPIR for the gallery's size.

Printed per condition, fusion and number of stills: rank-1 (mate first,
whatever the score), FNIR at the bar (mate not first above it, or nothing
searched), FPIR at the bar (any candidate for a non-mated probe), share not
searched.

Usage: python bench/multi_probe.py [--data ../shared/data] [--workers 2]
       [--gallery-size 1000] [--cache /tmp/retroface-multi-probe.pkl]
The cache holds LFW templates (no images): written once outside any data
directory, so the analysis re-runs in seconds; delete it after use.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retroface.faces import EngineSpec
from retroface.faces.batch_runner import map_with_engine
from retroface.faces.degraded_probes import CLEAN, ProbeTask, analyse_degraded
from retroface.faces.open_set import shipped_open_set
from retroface.faces.probe_fusion import LENGTH_EXPONENT
from retroface.media.degrade import default_degradations
from retroface.settings import DEFAULT_THRESHOLD, Settings

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DEFAULT_CACHE = Path("/tmp/retroface-multi-probe.pkl")
STILLS = 3
DEGRADED = "degraded"

Vectors = NDArray[np.float32]


def in_half_a(name: str) -> bool:
    """The shipped calibration's half (bench/trust.py): kept out of this measurement."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2 == 0


def _draw(text: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % count


def lfw_templates(data: Path, workers: int, gallery_size: int, cache: Path) -> dict[str, Any]:
    """Gallery and still templates (clean and degraded), cached: the slow part."""
    if cache.is_file():
        with cache.open("rb") as handle:
            cached: dict[str, Any] = pickle.load(handle)
        if cached["gallery_size"] == gallery_size:
            return cached
    lfw = data / "lfw"
    by = {p.name: sorted(p.glob("*.jpg")) for p in sorted(lfw.iterdir()) if p.is_dir()}
    half_b = [n for n in sorted(by) if by[n] and not in_half_a(n)]
    people = [n for n in half_b if len(by[n]) >= STILLS + 1]
    singles = sorted((n for n in half_b if len(by[n]) == 1), key=lambda n: _draw(n, 1 << 30))
    distractors = singles[: max(0, gallery_size - len(people))]
    degradations = default_degradations()
    tasks = [ProbeTask(by[n][0], ()) for n in people + distractors]
    for n in people:
        for k in range(STILLS):
            path = by[n][k + 1]
            tasks.append(ProbeTask(path, (degradations[_draw(path.name, len(degradations))],)))
    started = time.perf_counter()
    results = list(map_with_engine(analyse_degraded, tasks, EngineSpec(), workers, chunk=8))
    print(f"analysed {len(tasks)} LFW files in {time.perf_counter() - started:.0f} s", flush=True)
    n_gallery = len(people) + len(distractors)
    gallery = np.zeros((n_gallery, 128), np.float32)
    gallery_ok = np.zeros(n_gallery, bool)
    for i, result in enumerate(results[:n_gallery]):
        if result.views and result.views[0].template is not None:
            gallery[i], gallery_ok[i] = result.views[0].template, True
    # stills[condition][person, still] -> template (zeros when no face), quality (0 = none)
    stills = {c: np.zeros((len(people), STILLS, 128), np.float32) for c in (CLEAN, DEGRADED)}
    quality = {c: np.zeros((len(people), STILLS), np.float32) for c in (CLEAN, DEGRADED)}
    for t, result in enumerate(results[n_gallery:]):
        i, k = divmod(t, STILLS)
        for view in result.views:
            condition = CLEAN if view.condition == CLEAN else DEGRADED
            if view.template is not None:
                stills[condition][i, k] = view.template
                quality[condition][i, k] = max(view.quality, 1e-6)
    out = {"gallery_size": gallery_size, "people": people, "G": gallery, "gok": gallery_ok,
           "S": stills, "Q": quality}  # fmt: skip
    with cache.open("wb") as handle:
        pickle.dump(out, handle)
    return out


def _scaled_mean(vectors: Vectors, weights: NDArray[np.float32], gamma: float) -> Vectors:
    """The (weighted) mean of unit templates at length ``|mean| ** gamma``: 0 is the
    re-normalised mean, 1 the plain mean (whose scores are the mean of the stills')."""
    fused = (vectors * weights[:, None]).sum(axis=0) / weights.sum()
    length = float(np.linalg.norm(fused))
    return (fused * length ** (gamma - 1.0)).astype(np.float32)


#: A fusion: (still templates, their qualities, gallery) -> (each gallery entry's score,
#: how many comparisons per gallery template the bar must count).
Fusion = Callable[[Vectors, NDArray[np.float32], Vectors], tuple[NDArray[np.float32], int]]


def template_mean(gamma: float) -> Fusion:
    def fuse(t: Vectors, q: NDArray[np.float32], g: Vectors) -> tuple[Any, int]:
        return g @ _scaled_mean(t, np.ones(len(t), np.float32), gamma), 1

    return fuse


def quality_weighted(t: Vectors, q: NDArray[np.float32], g: Vectors) -> tuple[Any, int]:
    return g @ _scaled_mean(t, q, 0.0), 1


def score_max(t: Vectors, q: NDArray[np.float32], g: Vectors) -> tuple[Any, int]:
    return (t @ g.T).max(axis=0), len(t)  # k chances per template: bar for k x N


def score_max_naive(t: Vectors, q: NDArray[np.float32], g: Vectors) -> tuple[Any, int]:
    return (t @ g.T).max(axis=0), 1  # the same, with the single-still bar (not honest)


FUSIONS: dict[str, Fusion] = {
    "template mean": template_mean(0.0),
    "quality-weighted mean": quality_weighted,
    "score max (bar for kN)": score_max,
    "score max (bar for N)": score_max_naive,
    "score mean": template_mean(1.0),  # the plain mean template scores the mean score
}

#: Lengths tried for the fused template (``|mean| ** gamma``), to hold FPIR at the bar.
GAMMAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def fold_of(name: str) -> int:
    """Two folds of half B's people, to fit the fused template's length on one and see
    it on the other."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) // 2 % 2


def trials(
    d: dict[str, Any], fuse: Fusion, condition: str, k: int, people: NDArray[np.bool_],
    quality_floor: float,
) -> dict[str, NDArray[Any]]:  # fmt: skip
    """Per probe of k stills: searched, mate first, the mate's score, the best non-mated
    score (its own mate left out) and the comparisons per template its bar counts."""
    gallery = d["G"].copy()
    gallery[~d["gok"]] = 0.0  # a reference without a face scores 0 against everyone
    stills, quality = d["S"][condition], d["Q"][condition]
    rows: list[tuple[bool, bool, float, float, int]] = []
    for i in np.flatnonzero(people & d["gok"][: len(d["people"])]):
        for subset in itertools.combinations(range(STILLS), k):
            kept = [s for s in subset if quality[i, s] >= max(quality_floor, 1e-6)]
            if not kept:
                rows.append((False, False, -1.0, -1.0, 1))
                continue
            scores, per = fuse(stills[i, kept], quality[i, kept], gallery)
            top = int(np.argmax(scores))
            rows.append((True, top == i, float(scores[i]), float(np.delete(scores, i).max()), per))
    searched, first, mate, other, per = (np.array(c) for c in zip(*rows, strict=True))
    return {"searched": searched, "first": first, "mate": mate, "other": other, "per": per}


def rates(t: dict[str, NDArray[Any]], bars: dict[int, float]) -> dict[str, float]:
    """Rank-1, FNIR and FPIR at the bar, share not searched."""
    bar = np.array([bars[min(p, STILLS)] for p in t["per"]])
    hit = t["searched"] & t["first"] & (t["mate"] >= bar)
    return {
        "rank1": float(t["first"].mean()),
        "fnir": float(1 - hit.mean()),
        "fpir": float((t["searched"] & (t["other"] >= bar)).mean()),
        "unsearched": float(1 - t["searched"].mean()),
        "trials": float(len(bar)),
    }


def fnir_at_fpir(t: dict[str, NDArray[Any]], fpir: float) -> float:
    """FNIR at the score that gives this FPIR on these very probes (no bar: how well the
    fusion separates mates from the rest, whatever the rule)."""
    other = np.where(t["searched"], t["other"], -1.0)
    cut = float(np.quantile(other, 1 - fpir))
    return float(1 - (t["searched"] & t["first"] & (t["mate"] > cut)).mean())


def fit_gamma(
    d: dict[str, Any], people: NDArray[np.bool_], bars: dict[int, float], floor: float
) -> float:
    """The smallest length exponent at which fused probes (2 and 3 stills, clean and
    degraded) raise no more false candidates than single stills do on these people."""

    def fpir(fuse: Fusion, ks: tuple[int, ...]) -> float:
        hits = [rates(trials(d, fuse, c, k, people, floor), bars) for c in (CLEAN, DEGRADED)
                for k in ks]  # fmt: skip
        return sum(h["fpir"] * h["trials"] for h in hits) / sum(h["trials"] for h in hits)

    single = fpir(template_mean(0.0), (1,))
    for gamma in GAMMAS:
        if fpir(template_mean(gamma), (2, 3)) <= single:
            return gamma
    return GAMMAS[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gallery-size", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()

    started = time.perf_counter()
    d = lfw_templates(args.data, args.workers, args.gallery_size, args.cache)
    settings = Settings()
    model = shipped_open_set("dlib_resnet_v1")
    assert model is not None, "the shipped calibration is missing"
    n = len(d["G"])
    print(f"half B of LFW: {len(d['people'])} people with {STILLS + 1}+ images, gallery of "
          f"{n} ({int(d['gok'].sum())} with a face); target FPIR {settings.target_fpir:.0%}, "
          f"probe quality floor {settings.probe_quality_floor}; bar at N = "
          f"{max(DEFAULT_THRESHOLD, model.z_bar(settings.target_fpir, n)):.4f}")  # fmt: skip
    floor = settings.probe_quality_floor
    bars = {k: max(DEFAULT_THRESHOLD, model.z_bar(settings.target_fpir, n * k))
            for k in range(1, STILLS + 1)}  # fmt: skip
    everyone = np.ones(len(d["people"]), bool)
    folds = np.array([fold_of(p) for p in d["people"]])
    for condition in (CLEAN, DEGRADED):
        print(f"\n== {condition} stills" + ("" if condition == CLEAN else
              " (one CCTV degradation each, drawn per still)"))  # fmt: skip
        print(f"  {'fusion':24s} stills  rank-1   FNIR    FPIR    not searched  FNIR at "
              "FPIR 1% / 2% (no bar)  (trials)")  # fmt: skip
        for name, fuse in FUSIONS.items():
            for k in range(1, STILLS + 1):
                t = trials(d, fuse, condition, k, everyone, floor)
                r = rates(t, bars)
                print(f"  {name:24s} {k}      {r['rank1']:.4f}  {r['fnir']:.4f}  "
                      f"{r['fpir']:.4f}  {r['unsearched']:.4f}        "
                      f"{fnir_at_fpir(t, 0.01):.4f} / {fnir_at_fpir(t, 0.02):.4f}"
                      f"            ({r['trials']:.0f})")  # fmt: skip
    print("\n== the fused template's length |mean|^gamma (0: re-normalised, 1: plain mean), "
          "fitted on one fold of people so that fused probes raise no more false candidates "
          "than single stills, seen on the other")  # fmt: skip
    chosen = []
    for fit in (0, 1):
        gamma = fit_gamma(d, folds == fit, bars, floor)
        chosen.append(gamma)
        print(f"  fitted on fold {fit}: gamma {gamma}; on fold {1 - fit}:")
        for condition in (CLEAN, DEGRADED):
            for k in range(1, STILLS + 1):
                t = trials(d, template_mean(gamma), condition, k, folds != fit, floor)
                r = rates(t, bars)
                print(f"    {condition:9s} {k} stills: rank-1 {r['rank1']:.4f}  FNIR "
                      f"{r['fnir']:.4f}  FPIR {r['fpir']:.4f}  ({r['trials']:.0f})")  # fmt: skip
    print(f"  the larger, gamma {max(chosen)} (faces/probe_fusion.py ships {LENGTH_EXPONENT}"
          f"{'' if max(chosen) == LENGTH_EXPONENT else ': CHANGE IT'}):")  # fmt: skip
    for condition in (CLEAN, DEGRADED):
        for k in range(1, STILLS + 1):
            r = rates(trials(d, template_mean(max(chosen)), condition, k, everyone, floor), bars)
            print(f"    {condition:9s} {k} stills: rank-1 {r['rank1']:.4f}  FNIR "
                  f"{r['fnir']:.4f}  FPIR {r['fpir']:.4f}  ({r['trials']:.0f})")  # fmt: skip
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
