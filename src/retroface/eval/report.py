"""An evaluation's figures as a folder a reviewer can open: plots, their numbers, one page.

The folder holds aggregate numbers only (rates, score histograms), never a
template or an image, so it may be shared with an oversight body.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retroface.eval.curves import identification_error_curve, roc_points, score_histogram
from retroface.eval.identification import cmc_curve, true_ranks
from retroface.eval.plots import (
    write_cmc,
    write_identification_tradeoff,
    write_roc_det,
    write_score_distributions,
)
from retroface.eval.results import IdentificationEval, ScoredDataset, VerificationEval
from retroface.eval.summary_page import SummaryTable, write_summary_page


def write_identification_report(
    out_dir: Path, report: IdentificationEval, scored: ScoredDataset, created_at: str
) -> list[Path]:
    """CMC, FNIR/FPIR trade-off and score distributions, with an index.html."""
    ranks = true_ranks(scored.mated_scores, scored.mated_truth)
    mated_true = scored.mated_scores[np.arange(len(scored.mated_truth)), scored.mated_truth]
    files = [
        *write_cmc(out_dir, cmc_curve(ranks, 20)),
        *write_identification_tradeoff(
            out_dir,
            identification_error_curve(
                scored.mated_scores, scored.mated_truth, scored.non_mated_top
            ),
        ),
        *write_score_distributions(
            out_dir, score_histogram(mated_true, scored.non_mated_top), report.threshold
        ),
    ]
    facts = [
        ("dataset", report.dataset),
        ("dataset SHA-256", report.dataset_sha256),
        ("model", report.model),
        ("written", created_at),
        ("identities enrolled / held out", f"{report.identities_enrolled} / "
         f"{report.identities_held_out}"),
        ("mated / non-mated probes", f"{report.mated_probes} / {report.non_mated_probes}"),
        ("images without a face", str(report.images_without_face)),
        ("working threshold", f"{report.threshold:.4f}"),
        ("FNIR / FPIR at it", f"{report.fnir_at_threshold:.4f} / {report.fpir_at_threshold:.4f}"),
    ]  # fmt: skip
    tables = [
        SummaryTable(
            "Rank-r identification rate (95% bootstrap interval)",
            ["rank", "rate", "low", "high"],
            [[str(r), f"{c.value:.4f}", f"{c.low:.4f}", f"{c.high:.4f}"] for r, c in report.cmc.items()],
        ),
        SummaryTable(
            "FNIR at fixed FPIR (NIST FRTE 1:N)",
            ["FPIR", "FNIR", "low", "high", "threshold"],
            [
                [f"{p.fpir:g}", f"{p.fnir.value:.4f}", f"{p.fnir.low:.4f}", f"{p.fnir.high:.4f}",
                 f"{p.threshold:.4f}"]
                for p in report.fnir_at_fpir
            ],
        ),
    ]  # fmt: skip
    if report.groups:
        tables.append(
            SummaryTable(
                f"Per group at the working threshold ({report.note})",
                ["group", "mated", "non-mated", "FNIR", "FPIR"],
                [
                    [g.group, str(g.mated), str(g.non_mated), f"{g.fnir:.4f}", f"{g.fpir:.4f}"]
                    for g in report.groups
                ],
            )
        )
    images = [p.name for p in files if p.suffix == ".png"]
    page = write_summary_page(out_dir, "1:N identification", facts, tables, images)
    return [*files, page]


def write_verification_report(
    out_dir: Path,
    report: VerificationEval,
    genuine: np.ndarray,
    impostor: np.ndarray,
    created_at: str,
) -> list[Path]:
    """ROC, DET and score distributions of genuine and impostor pairs, with an index.html."""
    files = [
        *write_roc_det(out_dir, roc_points(genuine, impostor)),
        *write_score_distributions(out_dir, score_histogram(genuine, impostor), None),
    ]
    facts = [
        ("pairs", report.source),
        ("model", report.model),
        ("written", created_at),
        ("genuine / impostor pairs used", f"{report.genuine} / {report.impostor}"),
        ("pairs without a face", str(report.pairs_without_face)),
        ("10-fold accuracy", f"{report.accuracy:.4f} ± {report.accuracy_std:.4f}"),
    ]
    tables = [
        SummaryTable(
            "TAR at fixed FAR",
            ["FAR", "TAR", "threshold", "impostor pairs"],
            [
                [f"{p.far:g}", f"{p.tar:.4f}", f"{p.threshold:.4f}", str(p.impostor_pairs)]
                for p in report.tar_at_far
            ],
        )
    ]
    images = [p.name for p in files if p.suffix == ".png"]
    page = write_summary_page(out_dir, "1:1 verification", facts, tables, images)
    return [*files, page]
