"""Measure 1:1 verification on labelled pairs: k-fold accuracy and TAR at fixed FAR.

Pairs come from a CSV (``file_x,file_y,same``; paths relative to the CSV)
or from LFW's ``pairs.txt`` (its own ten folds). Each image's largest face
is embedded by the deployment's engine, in memory only; a pair whose image
has no detectable face is counted and left out, never guessed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retroface.errors import InvalidInputError
from retroface.eval.identification import tar_at_far
from retroface.eval.lfw_protocol import read_lfw_pairs
from retroface.eval.results import TarPoint, VerificationEval
from retroface.eval.verification import k_fold_accuracy
from retroface.governance.output_files import check_output_folder
from retroface.governance.roles import Action
from retroface.media.csv_sheets import read_sheet
from retroface.services.app import App
from retroface.services.evaluation.identification import largest_face_templates, record_evaluation
from retroface.services.progress import Progress

FAR_POINTS = (1e-3, 1e-4)
_TRUE = {"1", "true", "yes", "same", "y"}
_FALSE = {"0", "false", "no", "different", "n"}


Pair = tuple[Path, Path, bool, int]  # first, second, same person, fold


def read_pairs_csv(path: Path) -> list[Pair]:
    rows = read_sheet(path, "pairs", ("file_x", "file_y", "same"))
    pairs: list[Pair] = []
    for i, row in enumerate(rows):
        label = row["same"].strip().lower()
        if label not in _TRUE | _FALSE:
            raise InvalidInputError(f"{path}, row {i + 2}: 'same' must be 1/0 or true/false")
        first, second = (path.parent / row["file_x"].strip(), path.parent / row["file_y"].strip())
        pairs.append((first, second, label in _TRUE, i % 10))
    return pairs


def evaluate_verification(
    app: App,
    *,
    pairs_csv: Path | None = None,
    lfw_dir: Path | None = None,
    progress: Progress | None = None,
    report_dir: Path | None = None,
    force: bool = False,
) -> VerificationEval:
    """k-fold accuracy (threshold fitted on the other folds) and TAR at FAR 0.1% and 0.01%;
    with ``report_dir`` (a new or empty folder outside the data directory; a used one only
    with ``force``), plots, their CSVs and an index.html there.

    Role: supervisor, admin or auditor. Writes ``evaluation.run`` (aggregate figures only).
    """
    app.require(Action.EVALUATION_RUN)
    if report_dir is not None:
        check_output_folder(report_dir, app.settings, "evaluation report", None, force=force)
    if (pairs_csv is None) == (lfw_dir is None):
        raise InvalidInputError("give either a pairs CSV or an LFW folder")
    if lfw_dir is not None:
        source = lfw_dir
        pairs_file = lfw_dir / "pairs.txt"
        if not pairs_file.is_file():
            pairs_file = lfw_dir.parent / "lfw_pairs.txt"
        pairs = [(p.first, p.second, p.same, p.fold) for p in read_lfw_pairs(pairs_file, lfw_dir)]
    else:
        assert pairs_csv is not None
        source, pairs = pairs_csv, read_pairs_csv(pairs_csv)
    files = sorted({p for first, second, _, _ in pairs for p in (first, second)})
    template = largest_face_templates(app, files, progress)
    usable = [(a, b, same, fold) for a, b, same, fold in pairs if a in template and b in template]
    if not usable:
        raise InvalidInputError(f"{source}: no pair has a detectable face in both images")
    scores = np.array([float(template[a] @ template[b]) for a, b, _, _ in usable])
    same = np.array([s for _, _, s, _ in usable], dtype=bool)
    folds = np.array([f for _, _, _, f in usable])
    folded = k_fold_accuracy(scores, same, folds)
    points = []
    for far in FAR_POINTS:
        tar, threshold = tar_at_far(scores[same], scores[~same], far)
        points.append(
            TarPoint(far=far, tar=tar, threshold=threshold, impostor_pairs=int((~same).sum()))
        )
    report = VerificationEval(
        source=str(source),
        model=app.engine.model.tag,
        pairs=len(pairs),
        pairs_without_face=len(pairs) - len(usable),
        genuine=int(same.sum()),
        impostor=int((~same).sum()),
        accuracy=folded.mean,
        accuracy_std=folded.std,
        tar_at_far=points,
    )
    if report_dir is not None:
        # Plotting loads matplotlib (0.3 s): only for the runs that ask for plots, not at
        # every command's start.
        from retroface.eval.report import write_verification_report  # noqa: PLC0415 - matplotlib only when a report is asked for

        files = write_verification_report(
            report_dir, report, scores[same], scores[~same], app.now().isoformat()
        )
        report.report_files = [str(f) for f in files]
    record_evaluation(
        app, "verification", source, None, pairs=report.pairs, accuracy=report.accuracy
    )
    return report
