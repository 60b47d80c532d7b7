"""The degraded-probe protocol: are the deployment's decisions trustworthy on CCTV-grade faces?

From any folder-per-identity dataset: the first image of each enrolled
identity is its gallery reference; the second (where there is one) is a
mated probe, searched clean and after each CCTV degradation
(media/degrade.py); a share of identities is held out and their first image,
clean and degraded, is a non-mated probe; sightings in footage of people who
are not in the gallery are further non-mated probes. Galleries of several
sizes are drawn from the enrolled identities. Every probe is decided by the
deployment's own rule (quality floor, then the open-set bar for the target
FPIR at that gallery size; services/search/decision.py), and the figures are
FNIR and FPIR per gallery size, per condition and per matchability band, with
FNIR at a fixed FPIR and the error-versus-discard curve of the quality
measure. Nothing is stored: templates live in memory for the run.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from retroface.errors import InvalidInputError
from retroface.eval.open_set_rates import (
    ProbeOutcomes,
    error_versus_discard,
    fnir_at_fixed_fpir,
    quality_band,
    rates,
)
from retroface.faces.batch_runner import map_with_engine
from retroface.faces.degraded_probes import ProbeTask, analyse_degraded
from retroface.faces.video_analysis import plan_segments, run_segment
from retroface.governance.output_files import check_output_folder
from retroface.governance.roles import Action
from retroface.media.degrade import Degradation, default_degradations
from retroface.media.video_reader import SamplingPolicy, probe_video
from retroface.services.app import App
from retroface.services.deployment.decision_rule import DecisionRule, decision_rule
from retroface.services.evaluation.identification import record_evaluation
from retroface.services.galleries.enrol_plan import plan_enrollment
from retroface.services.progress import Progress, SilentProgress
from retroface.services.video.ingest import footage_spec

FOOTAGE = "footage"
#: The FPIR at which the model's own FNIR is reported (the deployment default's target).
FIXED_FPIR = 0.01


@dataclass
class ProtocolProbe:
    truth: str | None  # None: not enrolled
    condition: str
    template: np.ndarray | None
    quality: float
    parts: dict[str, float] = field(default_factory=dict)
    #: A sighting's views' agreement (1 for a single image): its bar rises with it.
    agreement: float = 1.0


@dataclass
class DegradedScores:
    """Every template the protocol made, in memory."""

    gallery_names: list[str]
    gallery: np.ndarray
    probes: list[ProtocolProbe]
    dataset_sha256: str
    model: str
    held_out: int


class RateRow(BaseModel):
    gallery_size: int
    group: str  # "all", a condition, or "quality a-b"
    mated: int
    non_mated: int
    fnir: float | None
    fpir: float | None
    not_searched: float
    fnir_at_fixed_fpir: float | None = None


class DegradedEval(BaseModel):
    dataset: str
    dataset_sha256: str
    model: str
    target_fpir: float
    decision_rule: str
    probe_quality_floor: float
    identities_enrolled: int
    identities_held_out: int
    footage_sightings: int
    probes_without_face: int
    rows: list[RateRow]
    error_versus_discard: list[tuple[float, float]]
    report_files: list[str] = []


def score_degraded(
    app: App,
    dataset: Path,
    *,
    degradations: list[Degradation] | None = None,
    footage: list[Path] | None = None,
    held_out_share: float = 0.3,
    progress: Progress | None = None,
) -> DegradedScores:
    """Templates of the gallery references and of every clean, degraded and footage probe."""
    progress = progress or SilentProgress()
    if not dataset.is_dir():
        raise InvalidInputError(f"{dataset}: not a folder of identity folders")
    if not 0.0 < held_out_share < 1.0:
        raise InvalidInputError("the held-out share is in (0, 1)")
    by_subject: dict[str, list[Path]] = defaultdict(list)
    for item in plan_enrollment([dataset]):
        by_subject[item.subject].append(item.path)
    names = sorted(by_subject)
    ranked = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
    held_out = set(ranked[: max(1, round(held_out_share * len(names)))])
    enrolled = [n for n in names if n not in held_out]
    if not enrolled:
        raise InvalidInputError(f"{dataset}: no identity left to enrol")
    chosen = tuple(default_degradations() if degradations is None else degradations)
    tasks = [ProbeTask(by_subject[n][0], ()) for n in enrolled]
    probe_of: list[str | None] = []
    for n in enrolled:
        if len(by_subject[n]) > 1:
            tasks.append(ProbeTask(by_subject[n][1], chosen))
            probe_of.append(n)
    for n in sorted(held_out):
        tasks.append(ProbeTask(by_subject[n][0], chosen))
        probe_of.append(None)
    files = [p for n in names for p in by_subject[n]]
    digest = hashlib.sha256(
        "\n".join(f"{p.relative_to(dataset)}:{p.stat().st_size}" for p in files).encode()
    ).hexdigest()

    progress.start("Analysing", len(tasks))
    results = []
    for result in map_with_engine(
        analyse_degraded, tasks, app.engine_spec, app.settings.workers, engine=app.engine
    ):
        results.append(result)
        progress.advance()
    progress.finish()

    gallery_names, gallery = [], []
    for name, result in zip(enrolled, results[: len(enrolled)], strict=True):
        if result.views and result.views[0].template is not None:
            gallery_names.append(name)
            gallery.append(result.views[0].template)
    if not gallery:
        raise InvalidInputError(f"{dataset}: no face found in any reference image")
    probes = [
        ProtocolProbe(truth, view.condition, view.template, view.quality, view.parts)
        for truth, result in zip(probe_of, results[len(enrolled) :], strict=True)
        for view in result.views
    ]
    probes.extend(_footage_probes(app, footage or [], progress))
    return DegradedScores(
        gallery_names, np.stack(gallery), probes, digest, app.engine.model.tag, len(held_out)
    )


def _footage_probes(app: App, videos: list[Path], progress: Progress) -> list[ProtocolProbe]:
    """Sightings in footage of people not in the gallery: each is a non-mated probe."""
    spec = footage_spec(app.engine_spec, app.settings)
    policy = SamplingPolicy.parse(app.settings.video_sampling)
    out = []
    for video in videos:
        info = probe_video(video)
        tasks = plan_segments(
            video,
            info.duration_s,
            policy,
            app.settings.video_segment_s,
            template_jitters=app.engine_spec.jitters,
            template_mirror=app.engine_spec.mirror,
        )
        progress.start(f"Footage {video.name}", len(tasks))
        for task in tasks:
            for sighting in run_segment(spec, task).sightings:
                best = sighting.best.face.quality
                out.append(
                    ProtocolProbe(
                        None,
                        FOOTAGE,
                        sighting.template,
                        best.overall,
                        dict(best.parts),
                        sighting.agreement,
                    )
                )
            progress.advance()
        progress.finish()
    return out


def decide(
    rule: DecisionRule, scores: DegradedScores, gallery_rows: np.ndarray
) -> tuple[ProbeOutcomes, np.ndarray, list[ProtocolProbe]]:
    """Search every probe with a face against the gallery rows given, under ``rule``."""
    column = {name: i for i, name in enumerate(scores.gallery_names)}
    in_gallery = set(gallery_rows.tolist())
    probes = [
        p
        for p in scores.probes
        if p.template is not None and (p.truth is None or column.get(p.truth, -1) in in_gallery)
    ]
    if not probes:
        raise InvalidInputError("no probe had a detectable face")
    matrix = np.stack([p.template for p in probes if p.template is not None])
    sims = matrix @ scores.gallery[gallery_rows].T
    best = sims.argmax(axis=1)
    top = sims[np.arange(len(probes)), best]
    quality = np.array([p.quality for p in probes])
    searched = np.array(
        [bool(rule.justification) or p.quality >= rule.quality_floor for p in probes]
    )
    if rule.open_set is not None:
        mu, sigma = rule.open_set.stats(matrix)
        z = rule.open_set.z_bar(rule.target_fpir, len(gallery_rows))
        scale = np.array([rule.open_set.fusion_scale(p.agreement) for p in probes])
        bar = np.maximum(rule.floor, (mu + z * sigma) / scale)
    else:
        bar = np.full(len(probes), rule.floor)
    outcomes = ProbeOutcomes(
        top_score=top.astype(np.float64),
        top_subject=gallery_rows[best].astype(np.int64),
        truth=np.array([column[p.truth] if p.truth is not None else -1 for p in probes]),
        bar=bar.astype(np.float64),
        searched=searched,
    )
    return outcomes, quality, probes


def evaluate_degraded(
    app: App,
    dataset: Path,
    *,
    gallery_sizes: list[int] | None = None,
    degradations: list[Degradation] | None = None,
    footage: list[Path] | None = None,
    held_out_share: float = 0.3,
    seed: int = 0,
    progress: Progress | None = None,
    report_dir: Path | None = None,
    force: bool = False,
) -> DegradedEval:
    """The protocol's figures; with ``report_dir``, a CSV and plots there as well.

    ``gallery_sizes``: subject counts (0 or more than there are: every enrolled identity).
    Role: supervisor, admin or auditor. Writes ``evaluation.run`` (aggregates only).
    """
    app.require(Action.EVALUATION_RUN)
    if report_dir is not None:
        check_output_folder(report_dir, app.settings, "evaluation report", None, force=force)
    scores = score_degraded(
        app,
        dataset,
        degradations=degradations,
        footage=footage,
        held_out_share=held_out_share,
        progress=progress,
    )
    with app.unit_of_work() as uow:
        rule = decision_rule(app, uow, app.settings.threshold, None)
    total = len(scores.gallery_names)
    sizes = sorted({min(s, total) if s > 0 else total for s in (gallery_sizes or [100, 1000, 0])})
    rng = np.random.default_rng(seed)
    order = rng.permutation(total)
    rows: list[RateRow] = []
    edc: list[tuple[float, float]] = []
    for size in sizes:
        outcomes, quality, probes = decide(rule, scores, np.sort(order[:size]))
        groups: dict[str, np.ndarray] = {"all": np.ones(len(probes), bool)}
        for condition in dict.fromkeys(p.condition for p in probes):
            groups[condition] = np.array([p.condition == condition for p in probes])
        for band in dict.fromkeys(sorted(quality_band(q) for q in quality)):
            groups[f"quality {band}"] = np.array([quality_band(q) == band for q in quality])
        for name, select in groups.items():
            r = rates(outcomes, select)
            rows.append(
                RateRow(
                    gallery_size=size,
                    group=name,
                    mated=r.mated,
                    non_mated=r.non_mated,
                    fnir=r.fnir,
                    fpir=r.fpir,
                    not_searched=r.not_searched,
                    fnir_at_fixed_fpir=fnir_at_fixed_fpir(outcomes, FIXED_FPIR, select),
                )
            )
        if size == sizes[-1]:
            edc = error_versus_discard(outcomes, quality, app.settings.threshold)
    report = DegradedEval(
        dataset=str(dataset),
        dataset_sha256=scores.dataset_sha256,
        model=scores.model,
        target_fpir=rule.target_fpir,
        decision_rule=str(rule.parameters()["decision_rule"]),
        probe_quality_floor=rule.quality_floor,
        identities_enrolled=total,
        identities_held_out=scores.held_out,
        footage_sightings=sum(1 for p in scores.probes if p.condition == FOOTAGE),
        probes_without_face=sum(1 for p in scores.probes if p.template is None),
        rows=rows,
        error_versus_discard=edc,
    )
    if report_dir is not None:
        from retroface.eval.degraded_report import write_degraded_report  # noqa: PLC0415 - matplotlib only when a report is asked for

        report.report_files = [
            str(f) for f in write_degraded_report(report_dir, report.model_dump(), app.now())
        ]
    record_evaluation(
        app,
        "degraded",
        dataset,
        scores.dataset_sha256,
        **_summary(report),
    )
    return report


def _summary(report: DegradedEval) -> dict[str, Any]:
    return {
        "target_fpir": report.target_fpir,
        "figures": [
            {"gallery_size": r.gallery_size, "fnir": r.fnir, "fpir": r.fpir}
            for r in report.rows
            if r.group == "all"
        ],
    }
