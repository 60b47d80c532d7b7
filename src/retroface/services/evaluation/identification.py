"""Measure 1:N accuracy and demographic differentials on a labelled dataset, before use.

A force must know the accuracy and bias of its system at the threshold it
runs (Bridges, para 199; NIST IR 8280). This evaluates the deployment's own
engine on a folder-per-identity dataset: the first ``enrol`` images of each
enrolled identity form an in-memory gallery, the rest are mated probes, and
a share of identities is held out entirely as non-mated probes (distractors).
Groups come only from the operator's labels CSV (``subject,group``): no
group is ever inferred from an image. Nothing is stored: templates live in
memory for the length of the evaluation.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from retroface.errors import InvalidInputError
from retroface.eval.identification import (
    FPIR_POINTS,
    Interval,
    fnir_at,
    fpir_at,
    identification_metrics,
)
from retroface.eval.results import (
    FnirPoint,
    GroupRates,
    IdentificationEval,
    IntervalOut,
    ScoredDataset,
)
from retroface.faces import analyse_files
from retroface.governance.output_files import check_output_folder
from retroface.governance.roles import Action
from retroface.media.csv_sheets import read_sheet
from retroface.services.app import App
from retroface.services.galleries.enrol_plan import plan_enrollment
from retroface.services.progress import Progress, SilentProgress

REPORTED_RANKS = (1, 5, 10, 20)


def _interval(i: Interval) -> IntervalOut:
    return IntervalOut(value=i.value, low=i.low, high=i.high)


def largest_face_templates(
    app: App, files: list[Path], progress: Progress | None = None
) -> dict[Path, np.ndarray]:
    """Each file's largest face, embedded by the deployment's engine, in memory only; files
    with no detectable face are simply absent (an evaluation counts them, never guesses)."""
    progress = progress or SilentProgress()
    progress.start("Embedding", len(files))
    found: dict[Path, np.ndarray] = {}
    for result in analyse_files(
        files,
        app.engine_spec,
        app.limits,
        app.settings.workers,
        engine=app.engine if len(files) <= 4 else None,
    ):
        progress.advance()
        if result.faces:
            found[result.path] = result.faces[0].embedding  # faces come largest first
    progress.finish()
    return found


def read_group_labels(path: Path) -> dict[str, str]:
    rows = read_sheet(path, "labels", ("subject", "group"))
    return {r["subject"].strip(): r["group"].strip() for r in rows if r["subject"].strip()}


def _ratio(values: list[float]) -> float | None:
    """Worst over best group; None with fewer than two groups or a best group at zero."""
    if len(values) < 2 or min(values) <= 0:
        return None
    return max(values) / min(values)


def score_dataset(
    app: App,
    dataset: Path,
    *,
    enrol: int = 1,
    held_out_share: float = 0.25,
    progress: Progress | None = None,
) -> ScoredDataset:
    """Enrol the first ``enrol`` images of each kept identity, score every other image."""
    if enrol < 1:
        raise InvalidInputError("enrol at least one image per identity")
    if not 0.0 <= held_out_share < 1.0:
        raise InvalidInputError("the held-out share is in [0, 1)")
    if not dataset.is_dir():
        raise InvalidInputError(f"{dataset}: not a folder of identity folders")
    planned = plan_enrollment([dataset])
    by_subject: dict[str, list[Path]] = defaultdict(list)
    for item in planned:
        by_subject[item.subject].append(item.path)
    names = sorted(by_subject)
    # Held out by a hash of the name: stable, and not the alphabetically last people.
    held_out = set(
        sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[
            : round(held_out_share * len(names))
        ]
    )
    enrolled = [n for n in names if n not in held_out and len(by_subject[n]) > enrol]
    if not enrolled:
        raise InvalidInputError(f"{dataset}: no identity has more than {enrol} images to enrol")
    files = [p for n in names for p in by_subject[n]]
    digest = hashlib.sha256(
        "\n".join(f"{p.relative_to(dataset)}:{p.stat().st_size}" for p in files).encode()
    ).hexdigest()

    template_of = largest_face_templates(app, files, progress)

    column = {n: i for i, n in enumerate(enrolled)}
    gallery = [
        (column[n], template_of[p])
        for n in enrolled
        for p in by_subject[n][:enrol]
        if p in template_of
    ]
    if not gallery:
        raise InvalidInputError(f"{dataset}: no face found in any enrolment image")
    cols = np.array([c for c, _ in gallery])
    vectors = np.stack([v for _, v in gallery])

    def subject_scores(probes: list[tuple[str, np.ndarray]]) -> np.ndarray:
        out = np.full((len(probes), len(enrolled)), -1.0)
        for row, (_, probe) in enumerate(probes):
            np.maximum.at(out[row], cols, vectors @ probe)
        return out

    mated = [
        (n, template_of[p]) for n in enrolled for p in by_subject[n][enrol:] if p in template_of
    ]
    non_mated = [
        (n, template_of[p]) for n in sorted(held_out) for p in by_subject[n] if p in template_of
    ]
    return ScoredDataset(
        dataset=dataset,
        dataset_sha256=digest,
        model=app.engine.model.tag,
        enrolled=enrolled,
        held_out=held_out,
        files=len(files),
        embedded=len(template_of),
        mated_names=[n for n, _ in mated],
        mated_scores=subject_scores(mated),
        mated_truth=np.array([column[n] for n, _ in mated], dtype=int),
        non_mated_names=[n for n, _ in non_mated],
        non_mated_scores=subject_scores(non_mated),
    )


def group_rates(
    scored: ScoredDataset, group_of: dict[str, str], threshold: float
) -> list[GroupRates]:
    """FNIR and FPIR of each operator-labelled group at one threshold."""
    rates: list[GroupRates] = []
    n_top = scored.non_mated_top
    for group in sorted(set(group_of.values())):
        mi = np.array([group_of.get(n) == group for n in scored.mated_names], dtype=bool)
        ni = np.array([group_of.get(n) == group for n in scored.non_mated_names], dtype=bool)
        rates.append(
            GroupRates(
                group=group,
                mated=int(mi.sum()),
                non_mated=int(ni.sum()),
                fnir=fnir_at(scored.mated_scores[mi], scored.mated_truth[mi], threshold)
                if mi.any()
                else 0.0,
                fpir=fpir_at(n_top[ni], threshold) if ni.any() else 0.0,
            )
        )
    return rates


def evaluate_identification(
    app: App,
    dataset: Path,
    *,
    enrol: int = 1,
    held_out_share: float = 0.25,
    labels: Path | None = None,
    threshold: float | None = None,
    bootstrap: int = 1000,
    progress: Progress | None = None,
    report_dir: Path | None = None,
    force: bool = False,
) -> IdentificationEval:
    """The figures; with ``report_dir``, also plots, their CSVs and an index.html there (a
    new or empty folder outside the data directory; a used one only with ``force``).

    Role: supervisor, admin or auditor. Writes ``evaluation.run`` (aggregate figures only).
    """
    app.require(Action.EVALUATION_RUN)
    if report_dir is not None:
        check_output_folder(report_dir, app.settings, "evaluation report", None, force=force)
    scored = score_dataset(
        app, dataset, enrol=enrol, held_out_share=held_out_share, progress=progress
    )
    m_scores, m_truth = scored.mated_scores, scored.mated_truth
    metrics = identification_metrics(
        m_scores, m_truth, scored.non_mated_scores, bootstrap=bootstrap
    )
    working = app.settings.threshold if threshold is None else threshold
    n_top = scored.non_mated_top
    groups = group_rates(scored, read_group_labels(labels), working) if labels else []
    report = IdentificationEval(
        dataset=str(dataset),
        dataset_sha256=scored.dataset_sha256,
        model=scored.model,
        identities_enrolled=len(scored.enrolled),
        identities_held_out=len(scored.held_out),
        mated_probes=len(scored.mated_names),
        non_mated_probes=len(scored.non_mated_names),
        images_without_face=scored.files - scored.embedded,
        cmc={r: _interval(metrics.cmc[r]) for r in REPORTED_RANKS if r in metrics.cmc},
        fnir_at_fpir=[
            FnirPoint(
                fpir=x,
                fnir=_interval(metrics.fnir_at_fpir[x]),
                threshold=metrics.thresholds_at_fpir[x],
            )
            for x in FPIR_POINTS
        ],
        threshold=working,
        fnir_at_threshold=fnir_at(m_scores, m_truth, working),
        fpir_at_threshold=fpir_at(n_top, working),
        groups=groups,
        fnir_worst_to_best=_ratio([g.fnir for g in groups if g.mated]),
        fpir_worst_to_best=_ratio([g.fpir for g in groups if g.non_mated]),
    )
    if report_dir is not None:
        # Plotting loads matplotlib (0.3 s): only for the runs that ask for plots, not at
        # every command's start.
        from retroface.eval.report import write_identification_report  # noqa: PLC0415 - matplotlib only when a report is asked for

        files = write_identification_report(report_dir, report, scored, app.now().isoformat())
        report.report_files = [str(f) for f in files]
    record_evaluation(
        app,
        "identification",
        dataset,
        scored.dataset_sha256,
        mated_probes=report.mated_probes,
        non_mated_probes=report.non_mated_probes,
        threshold=report.threshold,
        fnir=report.fnir_at_threshold,
        fpir=report.fpir_at_threshold,
    )
    return report


def record_evaluation(
    app: App, kind: str, source: Path, dataset_sha256: str | None, **figures: object
) -> None:
    """Audit an evaluation: which data, which engine, what it found (aggregates, never faces)."""
    with app.unit_of_work() as uow:
        app.audit(
            uow,
            action="evaluation.run",
            object_type="evaluation",
            object_id=kind,
            source=str(source),
            dataset_sha256=dataset_sha256,
            engine=app.engine_description,
            **figures,
        )
        uow.commit()
