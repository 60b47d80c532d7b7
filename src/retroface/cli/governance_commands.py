"""``retroface deployment|review|retention|report``: the safeguards' own commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli import render
from retroface.cli.context import JsonFlag, KeyFile, emit_json, open_cli_app, out, parse_day
from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from retroface.services.results import DeploymentStatus

deployment_app = typer.Typer(
    help="Deployment safeguards: DPIA, policy, threshold floor, EU mode (admin).",
    no_args_is_help=True,
)
calibration_app = typer.Typer(
    help="Signed calibration records behind the threshold floor and the model (admin).",
    no_args_is_help=True,
)
deployment_app.add_typer(calibration_app, name="calibration")
review_app = typer.Typer(
    help="Human review of candidates (reviewers; supervisors resolve disagreements).",
    no_args_is_help=True,
)
retention_app = typer.Typer(help="Retention and deletion schedule.", no_args_is_help=True)
report_app = typer.Typer(
    help="Transparency statistics, the DPIA pack and case reports.", no_args_is_help=True
)


def _show(status: DeploymentStatus, json_out: bool = False) -> None:
    if json_out:
        emit_json(status)
    else:
        render.render_deployment(out, status)


@deployment_app.command("show")
def deployment_show(json_out: JsonFlag = False) -> None:
    """Show the registered DPIA and policy, the threshold floor, EU mode, and whether searching is allowed."""
    from retroface.services.deployment import rules as deployment_service  # noqa: PLC0415 - loaded only by this command

    _show(deployment_service.deployment_status(open_cli_app()), json_out)


@deployment_app.command("dpia")
def deployment_dpia(
    identifier: Annotated[str, typer.Option("--id", help="The DPIA's document id.")],
    version: Annotated[str, typer.Option(help="Its version.")],
    approved: Annotated[str, typer.Option(help="Approval date, YYYY-MM-DD.")],
    review_due: Annotated[str, typer.Option(help="Review date, YYYY-MM-DD.")],
) -> None:
    """Register the DPIA searching is done under (searching is refused without one in date)."""
    from retroface.services.deployment import rules as deployment_service  # noqa: PLC0415 - loaded only by this command
    from retroface.services.deployment.rules import DpiaRecord  # noqa: PLC0415 - loaded only by this command

    record = DpiaRecord(
        identifier,
        version,
        parse_day(approved, "--approved"),
        parse_day(review_due, "--review-due"),
    )
    _show(deployment_service.register_dpia(open_cli_app(), record))


@deployment_app.command("policy")
def deployment_policy(
    reference: Annotated[str, typer.Argument(help="URL or id of the published policy.")],
    title: Annotated[str, typer.Option(help="Its title.")] = "",
) -> None:
    """Register the published policy document on face search."""
    from retroface.services.deployment import rules as deployment_service  # noqa: PLC0415 - loaded only by this command

    _show(deployment_service.register_policy(open_cli_app(), reference, title))


@deployment_app.command("threshold-floor")
def deployment_threshold_floor(floor: float) -> None:
    """Set the lowest threshold any search may use."""
    from retroface.services.deployment import rules as deployment_service  # noqa: PLC0415 - loaded only by this command

    _show(deployment_service.set_threshold_floor(open_cli_app(), floor))


@calibration_app.command("register")
def calibration_register(
    record: Annotated[Path, typer.Argument(help="A record written by 'eval calibrate'.")],
    key_file: KeyFile = None,
    json_out: JsonFlag = False,
) -> None:
    """Check a calibration record's signature and register it for the running model."""
    from retroface.services.deployment.calibrations import register_calibration  # noqa: PLC0415 - loaded only by this command

    try:
        document = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{record}: not a readable calibration record ({exc})") from exc
    if not isinstance(document, dict):
        raise InvalidInputError(f"{record}: not a calibration record")
    registered = register_calibration(open_cli_app(), document, key_file)
    if json_out:
        emit_json(registered)
    else:
        out.print(
            f"registered calibration {registered.id}: model {registered.model}, threshold "
            f"{registered.threshold:.4f} at target FPIR {registered.target_fpir:g}"
            + (f" (worst group {registered.worst_group})" if registered.worst_group else "")
        )


@calibration_app.command("list")
def calibration_list(json_out: JsonFlag = False) -> None:
    """The registered calibration records (the shipped default is not listed)."""
    from retroface.services.deployment.calibrations import list_calibrations  # noqa: PLC0415 - loaded only by this command

    records = list_calibrations(open_cli_app())
    if json_out:
        emit_json(records)
        return
    if not records:
        out.print("no calibration registered; the default model runs on its shipped calibration")
    for r in records:
        out.print(
            f"{r.id}  {r.model}  threshold {r.threshold:.4f}  target FPIR {r.target_fpir:g}  "
            f"dataset {r.dataset_sha256[:12]}  by {r.registered_by}"
        )


@deployment_app.command("eu-mode")
def deployment_eu_mode(state: Annotated[str, typer.Argument(help="on | off")]) -> None:
    """EU mode: searches without a judicial authorisation are suspended after 48 hours."""
    from retroface.services.deployment import rules as deployment_service  # noqa: PLC0415 - loaded only by this command

    if state.lower() not in {"on", "off"}:
        raise InvalidInputError(f"eu-mode takes 'on' or 'off', not {state!r}")
    _show(deployment_service.set_eu_mode(open_cli_app(), state.lower() == "on"))


@deployment_app.command("probe-retention")
def deployment_probe_retention(
    when: Annotated[str, typer.Argument(help="immediate | case-closure")],
) -> None:
    """When probe templates of faces without a candidate are deleted."""
    from retroface.services.deployment import rules as deployment_service  # noqa: PLC0415 - loaded only by this command

    _show(deployment_service.set_probe_retention(open_cli_app(), when))


@review_app.command("list")
def review_list(
    case: Annotated[str | None, typer.Option(help="Case reference.")] = None,
    search: Annotated[str | None, typer.Option(help="Search id.")] = None,
    pending: Annotated[
        bool, typer.Option(help="Only candidates still needing a decision.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Candidates of a case or search, with their reviews (this read is audited)."""
    from retroface.services.cases.review import review_queue  # noqa: PLC0415 - loaded only by this command

    items = review_queue(
        open_cli_app(), case_reference=case, search_id=search, pending_only=pending
    )
    if json_out:
        emit_json(list(items))
    else:
        render.render_review_queue(out, items)


@review_app.command("decide")
def review_decide(
    candidate: Annotated[int, typer.Argument(help="Candidate id (from 'review list').")],
    outcome: Annotated[str, typer.Option(help="possible-match | no-match | inconclusive")],
    reason: Annotated[str, typer.Option(help="What in the images supports the decision.")],
    note: Annotated[
        list[str] | None,
        typer.Option(
            help="A compared feature and its finding, FEATURE=FINDING, repeatable: features "
            "face-shape, hairline, eyebrows, eyes, nose, ears, mouth, marks; findings "
            "similar, different, not-visible (e.g. --note nose=similar --note ears=not-visible)."
        ),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Record your decision on a candidate; two reviewers agreeing on a possible match confirm it."""
    from retroface.services.cases.review import record_review  # noqa: PLC0415 - loaded only by this command

    item = record_review(open_cli_app(), candidate, outcome, reason, _feature_notes(note or []))
    if json_out:
        emit_json(item)
    else:
        render.render_review_queue(out, [item])


def _feature_notes(pairs: list[str]) -> dict[str, str]:
    """``--note nose=similar`` options as the notes' mapping (the service checks the words)."""
    notes: dict[str, str] = {}
    for pair in pairs:
        feature, sep, finding = pair.partition("=")
        if not sep or not feature.strip() or not finding.strip():
            raise InvalidInputError(f"--note {pair!r}: write FEATURE=FINDING, e.g. nose=similar")
        if feature.strip() in notes:
            raise InvalidInputError(f"--note: the feature {feature.strip()!r} is given twice")
        notes[feature.strip()] = finding.strip()
    return notes


@review_app.command("disputed")
def review_disputed(
    case: Annotated[str | None, typer.Option(help="Only this case.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Candidates two reviewers disagree on, awaiting a supervisor (supervisors; audited)."""
    from retroface.services.cases.resolution import disputed_queue  # noqa: PLC0415 - loaded only by this command

    items = disputed_queue(open_cli_app(), case_reference=case)
    if json_out:
        emit_json(list(items))
    else:
        render.render_disputed(out, items)


@review_app.command("resolve")
def review_resolve(
    candidate: Annotated[int, typer.Argument(help="Candidate id (from 'review disputed').")],
    outcome: Annotated[str, typer.Option(help="possible-match | no-match | inconclusive")],
    reason: Annotated[str, typer.Option(help="What in the images supports the resolution.")],
    json_out: JsonFlag = False,
) -> None:
    """Resolve a disputed candidate (supervisor, neither its searcher nor a reviewer): its
    final standing; a possible match is confirmed only with a reviewer who also said so."""
    from retroface.services.cases.resolution import resolve_review  # noqa: PLC0415 - loaded only by this command

    item = resolve_review(open_cli_app(), candidate, outcome, reason)
    if json_out:
        emit_json(item)
    else:
        render.render_review_queue(out, [item])


@retention_app.command("run")
def retention_run(json_out: JsonFlag = False) -> None:
    """Apply the retention schedule now (idempotent; safe from cron)."""
    from retroface.services.oversight.retention import run_retention  # noqa: PLC0415 - loaded only by this command

    report = run_retention(open_cli_app())
    if json_out:
        emit_json(report)
    else:
        out.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.model_dump().items()))


@report_app.command("transparency")
def report_transparency(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the .md and .csv.")] = Path(
        "."
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    """Write transparency statistics (Markdown + CSV) for searches in a period (outside the
    data directory)."""
    from retroface.services.oversight.reports import transparency_report  # noqa: PLC0415 - loaded only by this command

    result = transparency_report(
        open_cli_app(), parse_day(start, "--from"), parse_day(end, "--to"), out_dir, force=force
    )
    out.print(f"{result.searches} searches; wrote {', '.join(result.files)}")


@report_app.command("dpia")
def report_dpia(
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")] = Path(
        "dpia-evidence.md"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write the DPIA evidence pack (data flows, categories, retention, thresholds, models, audit head)."""
    from retroface.services.oversight.reports import dpia_report  # noqa: PLC0415 - loaded only by this command

    result = dpia_report(open_cli_app(), out_file, force=force)
    out.print(f"wrote {', '.join(result.files)}")


@report_app.command("case")
def report_case(reference: str, json_out: JsonFlag = False) -> None:
    """Write the case report (HTML + PDF, inside the data directory: it holds faces)."""
    from retroface.services.cases.report import case_report  # noqa: PLC0415 - loaded only by this command

    result = case_report(open_cli_app(), reference)
    if json_out:
        emit_json(result)
        return
    out.print(
        f"{result.candidates} candidates, {result.audit_events} audit events; "
        f"wrote {result.html} and {result.pdf}"
    )
