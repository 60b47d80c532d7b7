"""`retroface eval`: measure accuracy and group differentials before a threshold is used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from retroface.cli.context import JsonFlag, KeyFile, emit_json, err, open_cli_app, out
from retroface.cli.progress_bar import RichProgress
from retroface.errors import InvalidInputError

eval_app = typer.Typer(
    help="Accuracy and bias measurement on labelled datasets.", no_args_is_help=True
)


Dataset = Annotated[Path, typer.Argument(help="A folder with one folder of images per identity.")]
Enrol = Annotated[int, typer.Option(help="Images per identity enrolled; the rest are probes.")]
HeldOut = Annotated[
    float, typer.Option(help="Share of identities never enrolled (non-mated probes).")
]
GroupLabels = Annotated[
    Path | None, typer.Option("--labels", help="CSV subject,group supplied by the operator.")
]
ReportDir = Annotated[
    Path | None,
    typer.Option(
        help="Folder for the plots (PNG), their numbers (CSV) and an index.html: new or "
        "empty, outside the data directory."
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Replace what is already there.")]


def _report_written(files: list[str]) -> None:
    pages = [f for f in files if f.endswith("index.html")]
    if pages:
        out.print(f"plots and numbers: {len(files)} files; open {pages[0]}")


@eval_app.command("identification")
def eval_identification(
    dataset: Dataset,
    enrol: Enrol = 1,
    held_out: HeldOut = 0.25,
    labels: GroupLabels = None,
    threshold: Annotated[
        float | None, typer.Option(help="Working threshold (default: settings).")
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    report_dir: ReportDir = None,
    force: Force = False,
    json_out: JsonFlag = False,
) -> None:
    """Closed- and open-set 1:N accuracy: CMC, FNIR at FPIR 0.3/1/10% (95% bootstrap
    intervals), and per-group error rates at the working threshold."""
    from retroface.services.evaluation.identification import evaluate_identification  # noqa: PLC0415 - loaded only by this command

    report = evaluate_identification(
        open_cli_app(),
        dataset,
        enrol=enrol,
        held_out_share=held_out,
        labels=labels,
        threshold=threshold,
        bootstrap=bootstrap,
        progress=RichProgress(err),
        report_dir=report_dir,
        force=force,
    )
    if json_out:
        emit_json(report)
        return
    out.print(
        f"{report.identities_enrolled} identities enrolled, {report.identities_held_out} held out; "
        f"{report.mated_probes} mated and {report.non_mated_probes} non-mated probes "
        f"({report.images_without_face} images without a face); model {report.model}"
    )
    for rank, ci in report.cmc.items():
        out.print(f"rank-{rank} identification: {ci.value:.3f} (95% CI {ci.low:.3f}-{ci.high:.3f})")
    for point in report.fnir_at_fpir:
        ci = point.fnir
        out.print(
            f"FNIR at FPIR {point.fpir:.1%}: {ci.value:.3f} (95% CI {ci.low:.3f}-{ci.high:.3f}), "
            f"threshold {point.threshold:.4f}"
        )
    out.print(
        f"at threshold {report.threshold}: FNIR {report.fnir_at_threshold:.3f}, "
        f"FPIR {report.fpir_at_threshold:.3f}"
    )
    for g in report.groups:
        out.print(
            f"group {g.group}: FNIR {g.fnir:.3f} ({g.mated} mated), "
            f"FPIR {g.fpir:.3f} ({g.non_mated} non-mated)"
        )
    if report.groups:
        out.print(
            f"worst/best group: FNIR {report.fnir_worst_to_best or 'n/a'}, "
            f"FPIR {report.fpir_worst_to_best or 'n/a'} ({report.note})"
        )
    _report_written(report.report_files)


@eval_app.command("degraded")
def eval_degraded(
    dataset: Dataset,
    footage: Annotated[
        list[Path] | None,
        typer.Option(
            help="Footage of people not in the dataset: its sightings are non-mated probes."
        ),
    ] = None,
    gallery_sizes: Annotated[
        str, typer.Option(help="Gallery sizes in subjects, comma-separated (0: every identity).")
    ] = "100,1000,0",
    degradations: Annotated[
        str,
        typer.Option(
            help="kind:level,... of downscale (inter-eye px), gaussian_blur (sigma px), "
            "motion_blur (px), jpeg (quality), low_light (light share); 'default': two each."
        ),
    ] = "default",
    held_out: Annotated[
        float, typer.Option(help="Share of identities held out as non-mated probes.")
    ] = 0.3,
    report_dir: ReportDir = None,
    force: Force = False,
    json_out: JsonFlag = False,
) -> None:
    """CCTV-grade probes: FNIR and FPIR under the deployment's decision rule per gallery size,
    degradation and quality band, FNIR at FPIR 1%, and the quality measure's error-versus-
    discard curve."""
    from retroface.media.degrade import parse_degradations  # noqa: PLC0415 - loaded only by this command
    from retroface.services.evaluation.degraded import evaluate_degraded  # noqa: PLC0415 - loaded only by this command

    try:
        sizes = [int(v) for v in gallery_sizes.split(",") if v.strip()]
        chosen = parse_degradations(degradations)
    except ValueError as exc:
        raise InvalidInputError(f"bad option: {exc}") from None
    report = evaluate_degraded(
        open_cli_app(),
        dataset,
        gallery_sizes=sizes,
        degradations=chosen,
        footage=footage,
        held_out_share=held_out,
        progress=RichProgress(err),
        report_dir=report_dir,
        force=force,
    )
    if json_out:
        emit_json(report)
        return
    out.print(
        f"{report.identities_enrolled} identities enrolled, {report.identities_held_out} held "
        f"out, {report.footage_sightings} footage sightings; model {report.model}; "
        f"{report.decision_rule}, target FPIR {report.target_fpir:g}"
    )
    for row in report.rows:
        fnir = "n/a" if row.fnir is None else f"{row.fnir:.3f}"
        fpir = "n/a" if row.fpir is None else f"{row.fpir:.3f}"
        out.print(
            f"N={row.gallery_size:<6} {row.group:<22} FNIR {fnir} ({row.mated}) "
            f"FPIR {fpir} ({row.non_mated}) not searched {row.not_searched:.3f}",
            highlight=False,
        )
    _report_written(report.report_files)


@eval_app.command("verification")
def eval_verification(
    pairs: Annotated[
        Path | None, typer.Option(help="CSV file_x,file_y,same (paths relative to the CSV).")
    ] = None,
    lfw: Annotated[
        Path | None,
        typer.Option(help="An LFW folder (with pairs.txt, or lfw_pairs.txt beside it)."),
    ] = None,
    report_dir: ReportDir = None,
    force: Force = False,
    json_out: JsonFlag = False,
) -> None:
    """1:1 accuracy on labelled pairs: 10-fold accuracy and TAR at FAR 0.1% and 0.01%."""
    from retroface.services.evaluation.verification import evaluate_verification  # noqa: PLC0415 - loaded only by this command

    report = evaluate_verification(
        open_cli_app(),
        pairs_csv=pairs,
        lfw_dir=lfw,
        progress=RichProgress(err),
        report_dir=report_dir,
        force=force,
    )
    if json_out:
        emit_json(report)
        return
    out.print(
        f"{report.pairs} pairs ({report.genuine} genuine, {report.impostor} impostor used; "
        f"{report.pairs_without_face} without a face); model {report.model}"
    )
    out.print(f"10-fold accuracy: {report.accuracy:.4f} ± {report.accuracy_std:.4f}")
    for p in report.tar_at_far:
        caveat = (
            " (too few impostor pairs to measure this FAR)" if p.far * p.impostor_pairs < 1 else ""
        )
        out.print(f"TAR at FAR {p.far:g}: {p.tar:.4f} at threshold {p.threshold:.4f}{caveat}")
    _report_written(report.report_files)


@eval_app.command("calibrate")
def eval_calibrate(
    dataset: Dataset,
    target_fpir: Annotated[
        float, typer.Option(help="False-positive identification rate to meet in every group.")
    ],
    record: Annotated[Path, typer.Option("--out", help="Where to write the signed record.")],
    labels: GroupLabels = None,
    enrol: Enrol = 1,
    held_out: HeldOut = 0.25,
    key_file: KeyFile = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    open_set: Annotated[
        bool,
        typer.Option(
            help="Also fit the per-search decision rule and the matchability model on the "
            "dataset's degraded probes (a second, longer pass)."
        ),
    ] = True,
) -> None:
    """Choose the lowest threshold meeting the target FPIR in the worst group; write it as a
    signed calibration record for 'deployment calibration register' (outside the data
    directory)."""
    from retroface.governance.audit_export import load_signing_key  # noqa: PLC0415 - loaded only by this command
    from retroface.governance.output_files import check_output_file  # noqa: PLC0415 - loaded only by this command
    from retroface.services.evaluation.calibrate import calibrate  # noqa: PLC0415 - loaded only by this command

    key = load_signing_key(key_file)
    application = open_cli_app()
    # Before the run, not after it: a refused path must not cost the whole measurement.
    check_output_file(record, application.settings, "calibration record", force=force)
    document = calibrate(
        application,
        dataset,
        target_fpir=target_fpir,
        key=key,
        labels=labels,
        enrol=enrol,
        held_out_share=held_out,
        open_set=open_set,
        progress=RichProgress(err),
    )
    _write_record(record, document)
    figures = document["figures"]
    out.print(
        f"threshold {document['threshold']:.4f} meets FPIR {target_fpir:g}"
        + (f" in the worst group ({document['worst_group']})" if document["worst_group"] else "")
        + f": FPIR {figures['fpir']:.4f}, FNIR {figures['fnir']:.4f} over "
        f"{figures['mated_probes']} mated and {figures['non_mated_probes']} non-mated probes; "
        f"model {document['model']}; record {document['id']} written to {record}"
    )


def _write_record(path: Path, document: dict[str, object]) -> None:
    """Whole or not at all: a half-written record would fail its signature check later."""
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot write the record ({exc.strerror})") from exc
