"""Do the decisions hold their stated error rates at any gallery size and probe quality?

On LFW (every identity's first image is its reference; the second image of each
identity with two or more is a probe, clean and after each CCTV degradation of
media/degrade.py), identities are split in two halves by a hash of the name:

* half A fits the decision rule: the cohort statistics (faces/open_set.py), the
  impostor tail (A's probes against A's other people) and the matchability model
  (faces/matchability.py: does a mated probe of A clear the bar of a 1,000-template
  gallery at FPIR 1%?);
* half B tests it: 30% of B's probe identities are held out (non-mated probes:
  not in any gallery), the rest are mated; galleries of 100 and 1,000 subjects
  and of every LFW identity but the held-out ones.

Printed: FPIR (target 1%) and FNIR at each gallery size, per degradation and
per matchability band, with the old fixed threshold for comparison; the
matchability model's error-versus-discard figures. With ``--write-calibration``
the fitted rule is written as the shipped calibration file.

Footage is measured through the product: ``--footage`` enrols 1,000 LFW identities and
the Hamilton clip's three reference photos with the real enrolment service and searches
``covent_garden_crowd.mp4`` (every sighting non-mated) and ``short_hamilton_clip.mp4``
(Miranda, Lacamoire and Obama mated, everyone else non-mated) with the real search.

Usage: python bench/trust.py [--data ../shared/data] [--workers 2] [--cache FILE]
       [--write-calibration FILE] [--footage | --footage-only]
The cache (``--cache``) holds LFW templates: it is written once, outside any data
directory, for re-running the analysis; delete it after use.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from retroface.faces import EngineSpec
from retroface.faces.batch_runner import map_with_engine
from retroface.faces.degraded_probes import ProbeTask, analyse_degraded
from retroface.faces.engine_description import describe
from retroface.faces.open_set import OpenSetModel, model_to_document
from retroface.faces.open_set_fit import fit_decision_rule
from retroface.media.degrade import default_degradations
from retroface.settings import DEFAULT_THRESHOLD

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TARGET = 0.01
#: Probe quality floors compared (the deployment's default is one of them).
FLOORS = (0.0, 0.1, 0.2, 0.3, 0.4)


def in_half_a(name: str) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2 == 0


def lfw_templates(data: Path, workers: int, cache: Path | None) -> dict[str, Any]:
    if cache is not None and cache.is_file():
        with cache.open("rb") as handle:
            cached: dict[str, Any] = pickle.load(handle)
        return cached
    lfw = data / "lfw"
    by: dict[str, list[Path]] = {}
    for folder in sorted(p for p in lfw.iterdir() if p.is_dir()):
        by[folder.name] = sorted(folder.glob("*.jpg"))
    names = [n for n in sorted(by) if by[n]]
    multi = [n for n in names if len(by[n]) >= 2]
    degradations = tuple(default_degradations())
    tasks = [ProbeTask(by[n][0], ()) for n in names] + [
        ProbeTask(by[n][1], degradations) for n in multi
    ]
    started = time.perf_counter()
    results = list(map_with_engine(analyse_degraded, tasks, EngineSpec(), workers, chunk=8))
    print(f"analysed {len(tasks)} LFW files in {time.perf_counter() - started:.0f} s", flush=True)
    conditions = ["clean"] + [d.name for d in degradations]
    gallery = np.zeros((len(names), 128), np.float32)
    gallery_ok = np.zeros(len(names), bool)
    for i, result in enumerate(results[: len(names)]):
        if result.views and result.views[0].template is not None:
            gallery[i], gallery_ok[i] = result.views[0].template, True
    probes = np.zeros((len(multi), len(conditions), 128), np.float32)
    probe_ok = np.zeros((len(multi), len(conditions)), bool)
    parts: list[list[dict[str, float]]] = [[{} for _ in conditions] for _ in multi]
    for i, result in enumerate(results[len(names) :]):
        for view in result.views:
            if view.template is not None:
                j = conditions.index(view.condition)
                probes[i, j], probe_ok[i, j], parts[i][j] = view.template, True, view.parts
    out = {"names": names, "multi": multi, "conds": conditions, "G": gallery, "gok": gallery_ok,
           "P": probes, "pok": probe_ok, "pparts": parts}  # fmt: skip
    if cache is not None:
        with cache.open("wb") as handle:
            pickle.dump(out, handle)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--write-calibration", type=Path)
    parser.add_argument("--footage", action="store_true")
    parser.add_argument("--footage-only", action="store_true", help="only the footage part")
    args = parser.parse_args()
    if args.footage_only:
        lfw = args.data / "lfw"
        people = sorted(p.name for p in lfw.iterdir() if p.is_dir() and any(p.glob("*.jpg")))
        footage_through_the_product(args.data, people)
        return

    d = lfw_templates(args.data, args.workers, args.cache)
    names, multi, conditions = d["names"], d["multi"], d["conds"]
    gallery, gallery_ok, probes, probe_ok = d["G"], d["gok"], d["P"], d["pok"]
    column = {n: i for i, n in enumerate(names)}
    half_a = np.array([in_half_a(n) for n in names])
    probe_owner = np.array([column[n] for n in multi])
    rows = [(i, j) for i in range(len(multi)) for j in range(len(conditions)) if probe_ok[i, j]]
    flat = np.stack([probes[i, j] for i, j in rows])
    owner = np.array([probe_owner[i] for i, _ in rows])
    condition = np.array([j for _, j in rows])
    parts = [d["pparts"][i][j] for i, j in rows]
    print(f"LFW: {gallery_ok.sum()} references, {len(flat)} probe views with a face "
          f"({(~probe_ok).sum()} without), conditions {conditions}")  # fmt: skip

    # -- fit on half A (the function 'eval calibrate' fits with), raw scores and T-norm
    a_gallery = half_a & gallery_ok
    ids = np.arange(len(names))
    in_a = half_a[owner]
    a_parts = [p for p, a in zip(parts, in_a, strict=True) if a]
    fitted = {
        normalise: fit_decision_rule(
            tag_of_default_model(), gallery[a_gallery], ids[a_gallery], flat[in_a], owner[in_a],
            a_parts, normalise=normalise,
        )
        for normalise in (False, True)
    }  # fmt: skip
    model, matchability = fitted[False]
    tail = model.tail
    print(f"raw-score tail: measured to survival 1e{tail.log10_survival[-1]:.2f} at "
          f"{tail.z[-1]:.3f}, extended with slope {tail.slope:.1f} per unit score")  # fmt: skip
    print(f"matchability model: {matchability.weights} + {matchability.intercept:.3f}")

    # -- test on half B
    rng = np.random.default_rng(0)
    b_probe_owners = np.array(sorted({o for o in probe_owner if not half_a[o] and gallery_ok[o]}))
    rng.shuffle(b_probe_owners)
    held = set(b_probe_owners[: len(b_probe_owners) * 3 // 10].tolist())
    mated_owners = b_probe_owners[len(b_probe_owners) * 3 // 10 :]
    b_others = np.array([i for i in ids if not half_a[i] and gallery_ok[i] and i not in held
                         and i not in set(mated_owners.tolist())])  # fmt: skip
    everyone = np.array([i for i in ids if gallery_ok[i] and i not in held])
    quality = np.array([matchability.probability(p) for p in parts])
    is_b = ~half_a[owner]
    galleries: list[np.ndarray] = []
    for size in (100, 1000, len(everyone)):
        if size == len(everyone):
            rows_g = everyone
        else:
            k = min(len(mated_owners), size // 2)
            rows_g = np.concatenate(
                [mated_owners[:k], rng.choice(b_others, size - k, replace=False)]
            )
        galleries.append(rows_g)
        members = set(rows_g.tolist())
        non_mated = is_b & np.array([o in held for o in owner])
        mated = is_b & np.array([o in members for o in owner])
        sims = flat @ gallery[rows_g].T
        best = sims.argmax(axis=1)
        top_score = sims[np.arange(len(flat)), best]
        right = rows_g[best] == owner
        print(f"\n== gallery of {len(rows_g)} subjects: {mated.sum()} mated, {non_mated.sum()} "
              f"non-mated probe views; target FPIR {TARGET:.0%}")  # fmt: skip
        for normalise, (candidate, _) in fitted.items():
            mu, sigma = candidate.stats(flat)
            bar = np.maximum(DEFAULT_THRESHOLD, mu + candidate.z_bar(TARGET, len(rows_g)) * sigma)
            hit = top_score >= bar
            print(f"  {'T-norm scores' if normalise else 'raw scores (shipped)':22s} every probe "
                  f"searched: FPIR {hit[non_mated].mean():.4f}  FNIR "
                  f"{1 - (hit & right)[mated].mean():.4f}")  # fmt: skip
        mu, sigma = model.stats(flat)
        bar = np.maximum(DEFAULT_THRESHOLD, mu + model.z_bar(TARGET, len(rows_g)) * sigma)
        for floor in FLOORS:
            searched = quality >= floor
            hit = searched & (top_score >= bar)
            print(f"  rule, quality floor {floor:.1f}: FPIR {hit[non_mated].mean():.4f}  "
                  f"FNIR {1 - (hit & right)[mated].mean():.4f}  not searched "
                  f"{1 - searched[mated | non_mated].mean():.3f}")  # fmt: skip
        fixed = top_score >= DEFAULT_THRESHOLD
        print(f"  fixed threshold {DEFAULT_THRESHOLD}: FPIR {fixed[non_mated].mean():.4f}  "
              f"FNIR {1 - (fixed & right)[mated].mean():.4f}")  # fmt: skip
        hit = top_score >= bar
        for j, name in enumerate(conditions):
            sel = condition == j
            print(f"    {name:18s} FPIR {hit[non_mated & sel].mean():.4f} "
                  f"(fixed {fixed[non_mated & sel].mean():.4f})  FNIR "
                  f"{1 - (hit & right)[mated & sel].mean():.4f} "
                  f"(fixed {1 - (fixed & right)[mated & sel].mean():.4f})  "
                  f"mean quality {quality[mated & sel].mean():.2f}")  # fmt: skip
        for low, high in ((0, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 1.01)):
            band = (quality >= low) & (quality < high)
            nm, m = non_mated & band, mated & band
            print(f"    quality {low:.1f}-{min(high, 1):.1f}: FPIR "
                  f"{hit[nm].mean() if nm.any() else float('nan'):.4f} ({nm.sum()})  FNIR "
                  f"{1 - (hit & right)[m].mean() if m.any() else float('nan'):.4f} ({m.sum()})")  # fmt: skip
    # Error versus discard on B's mated probes at the largest gallery.
    order = np.argsort(quality[mated])
    misses = ~(hit & right)[mated][order]
    print("\nerror versus discard (FNIR of the rest, lowest matchability dropped first):")
    for share in (0.0, 0.1, 0.2, 0.3, 0.5):
        kept = misses[round(share * len(misses)) :]
        print(f"  discard {share:.0%}: FNIR {kept.mean():.4f}")

    view_quality = {row: q for row, q in zip(rows, quality, strict=True)}
    fused_sightings(d, view_quality, probe_owner, held, half_a, galleries, model)

    if args.write_calibration:
        write_calibration(args.write_calibration, model, matchability, args.data)
    if args.footage:
        footage_through_the_product(args.data, names)


#: Degradations a sighting's frames of one moment differ by (the moderate ones).
SIGHTING_CONDITIONS = ("clean", "downscale:24", "gaussian_blur:1.5", "motion_blur:7", "jpeg:30",
                       "low_light:0.3")  # fmt: skip
#: Exponents of the sighting bar compared: bar / agreement^gamma (0: the bar of one image).
SIGHTING_GAMMAS = (0.0, 0.5, 0.75, 1.0)


def fused_sightings(
    d: dict[str, Any],
    view_quality: dict[tuple[int, int], float],
    probe_owner: np.ndarray,
    held: set[int],
    half_a: np.ndarray,
    galleries: list[np.ndarray],
    model: OpenSetModel,
    views: int = 3,
    draws: int = 4,
) -> None:
    """Sighting-like templates from half B's probe photos: ``views`` copies of one photo
    under different moderate degradations (frames of one moment differ so), weighted by
    matchability and re-normalised as the tracker fuses a sighting's best views. Printed:
    FPIR and FNIR at each gallery size with the sighting bar at several exponents, next
    to the photos' own single views (what the calibration holds)."""
    from retroface.faces.probe_fusion import fused_direction

    conditions, probes, probe_ok = d["conds"], d["P"], d["pok"]
    columns = [conditions.index(c) for c in SIGHTING_CONDITIONS if c in conditions]
    rng = np.random.default_rng(5)
    fused, agreement, owners, singles, single_owners = [], [], [], [], []
    for i in range(len(probes)):
        if half_a[probe_owner[i]]:
            continue
        have = [j for j in columns if probe_ok[i, j]]
        singles += [probes[i, j] for j in have]
        single_owners += [probe_owner[i]] * len(have)
        if len(have) < views:
            continue
        for _ in range(draws):
            pick = rng.choice(have, views, replace=False)
            weights = np.array([max(view_quality[(i, int(j))], 0.05) for j in pick])
            template, agrees = fused_direction(probes[i, pick], weights)
            fused.append(template)
            agreement.append(agrees)
            owners.append(probe_owner[i])
    matrix, agrees_all = np.stack(fused), np.array(agreement)
    owner, single_owner = np.array(owners), np.array(single_owners)
    print(f"\nsighting-like fused templates (half B, {views} views of one photo under "
          f"{', '.join(SIGHTING_CONDITIONS)}; {draws} draws a photo): {len(matrix)}, views' "
          f"agreement 5/50/95%: "
          + "/".join(f"{v:.4f}" for v in np.quantile(agrees_all, [0.05, 0.5, 0.95])))  # fmt: skip
    gallery = d["G"]
    for rows_g in galleries:
        members = set(rows_g.tolist())
        base = model.z_bar(TARGET, len(rows_g))  # raw scores: the bar before the floor
        line = [f"  N={len(rows_g):5d}"]
        for label, m, o, a in (("one view", np.stack(singles), single_owner, None),
                               ("fused", matrix, owner, agrees_all)):  # fmt: skip
            sims = m @ gallery[rows_g].T
            best = sims.argmax(axis=1)
            top = sims[np.arange(len(m)), best]
            right = rows_g[best] == o
            non_mated = np.array([x in held for x in o])
            mated = np.array([x in members for x in o])
            for gamma in (0.0,) if a is None else SIGHTING_GAMMAS:
                bar = np.maximum(DEFAULT_THRESHOLD, base / (1.0 if a is None else a**gamma))
                hit = top >= bar
                name = label if a is None else f"{label} gamma {gamma}"
                line.append(f"{name}: FPIR {hit[non_mated].mean():.4f} FNIR "
                            f"{1 - (hit & right)[mated].mean():.4f}")  # fmt: skip
        print(" | ".join(line))


def tag_of_default_model() -> str:
    from retroface.services.deployment.calibrations import shipped_calibration

    return shipped_calibration().model


def write_calibration(path: Path, model: OpenSetModel, matchability: Any, data: Path) -> None:
    document = {
        "provenance": {
            "dataset": "LFW (deep-funneled), identities in half A (sha256(name) even)",
            "dataset_note": "first image of each identity as reference; second image of "
            "each identity with two or more as probe, clean and degraded (media/degrade.py "
            "defaults)",
            "engine": describe(EngineSpec()),
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python bench/trust.py --write-calibration " + str(path),
        },
        "open_set": model_to_document(model),
        "matchability": {
            "intercept": matchability.intercept,
            "weights": matchability.weights,
            "reference": matchability.reference,
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


#: Who is on screen when in the Hamilton clip, checked by eye (tests/services/video/
#: test_footage.py): (first second, last second, reference photo's subject).
HAMILTON_CAST = (
    (0.0, 0.75, "lin-manuel-miranda"),
    (0.75, 1.5, "alex-lacamoire"),
    (2.7, 7.15, "lin-manuel-miranda"),
    (7.15, 9.3, "obama"),
)


def footage_through_the_product(data: Path, names: list[str]) -> None:
    """Enrol 1,000 LFW identities and the Hamilton clip's three reference photos, and
    search both clips with the real services (``quickstart``: gallery, case,
    authorisation, enrolment, search, audit). No one in the crowd clip is enrolled; in
    the Hamilton clip a candidate is right only if it names who is on screen then."""
    import tempfile

    from retroface.services.app import open_app
    from retroface.services.quickstart import quickstart
    from retroface.settings import Settings

    clips = [data / "video" / "covent_garden_crowd.mp4", data / "video" / "short_hamilton_clip.mp4"]
    examples = data / "face_recognition" / "examples"
    cast = {"lin-manuel-miranda": "lin-manuel-miranda.png", "alex-lacamoire": "alex-lacamoire.png",
            "obama": "obama.jpg"}  # fmt: skip
    chosen = sorted(np.random.default_rng(1).choice(names, 1000, replace=False).tolist())
    with tempfile.TemporaryDirectory() as scratch:
        known = Path(scratch) / "known"
        for name in chosen:
            (known / name).mkdir(parents=True)
            first = sorted((data / "lfw" / name).glob("*.jpg"))[0]
            (known / name / first.name).symlink_to(first)
        for name, photo in cast.items():
            (known / name).mkdir(parents=True)
            (known / name / photo).symlink_to(examples / photo)
        app = open_app(Settings(home=Path(scratch) / "data"))
        started = time.perf_counter()
        enrolled, report = quickstart(app, known, clips)
        print(f"\nquickstart: enrolled {enrolled.enrolled} identities (LFW and the Hamilton "
              f"cast) and searched both clips in {time.perf_counter() - started:.0f} s")  # fmt: skip
        for clip in clips:
            probes = [p for p in report.probes if Path(p.source).name == clip.name]
            led = [p for p in probes if p.candidates]
            right = [p for p in led if _on_screen(clip, p) == p.candidates[0].subject]
            print(f"{clip.name}: {len(probes)} sightings, "
                  f"{sum(1 for p in probes if not p.searched)} too poor to search, "
                  f"{len(led)} with a candidate: {len(right)} right, "
                  f"{len(led) - len(right)} false")  # fmt: skip
            for p in probes:
                top = p.candidates[0] if p.candidates else None
                print(f"  {p.first_s:5.2f}-{p.last_s:5.2f} s quality {p.quality:.2f} "
                      f"bar {p.bar} expected FPIR {p.expected_fpir} on screen "
                      f"{_on_screen(clip, p) or 'nobody enrolled'}: "
                      + (f"{top.subject} {top.score:.4f}" if top else "no candidate"))  # fmt: skip
        app.close()


def _on_screen(clip: Path, probe: Any) -> str | None:
    """The enrolled person on screen during a sighting (None: nobody enrolled)."""
    if clip.name != "short_hamilton_clip.mp4":
        return None
    middle = (probe.first_s + probe.last_s) / 2
    return next((who for a, b, who in HAMILTON_CAST if a <= middle < b), None)


if __name__ == "__main__":
    main()
