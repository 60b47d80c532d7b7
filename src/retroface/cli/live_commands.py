"""`retroface live` (run a camera against a watchlist) and `retroface lfr` (its records)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli.context import JsonFlag, emit_json, err, open_cli_app, out, parse_moment
from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from retroface.services.live.deployments import LiveAlertOut, LiveDeploymentOut
    from retroface.services.live.run import AlertSink, LiveStatus

lfr_app = typer.Typer(
    help="Live deployments: authorise, list alerts, adjudicate, publish.", no_args_is_help=True
)


class TerminalSink:
    """Alerts on stderr as they happen (stdout stays for --json)."""

    def send(self, alert: LiveAlertOut) -> None:
        err.print(
            f"[bold red]ALERT[/bold red] {alert.id}: {alert.subject} score {alert.score:.3f} "
            f"at {alert.frame_time_s:.1f} s ({alert.latency_ms:.0f} ms after the frame)"
        )

    def close(self) -> None:
        return None


def live(
    source: Annotated[
        str,
        typer.Argument(
            help="rtsp://… or http(s)://… stream, /dev/videoN or camera:N, or a "
            "video file (played at its real frame rate)."
        ),
    ],
    deployment: Annotated[str, typer.Option("--deployment", help="The authorised deployment.")],
    alerts_jsonl: Annotated[
        Path | None, typer.Option(help="Also append each alert as a JSON line (no face crop).")
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(help="Also POST each alert as JSON (no face crop).")
    ] = None,
    max_seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    simulate_slow_ms: Annotated[
        float, typer.Option(hidden=True, help="Test hook: extra milliseconds per frame.")
    ] = 0.0,
    json_out: JsonFlag = False,
) -> None:
    """Compare every face in SOURCE with the deployment's watchlist; raise alerts; keep nothing
    of anyone else. Frames are dropped (and counted) rather than lag behind the stream."""
    from retroface.governance.output_files import refuse_inside_data_directory  # noqa: PLC0415 - loaded only by this command
    from retroface.services.live.alert_sinks import JsonLinesSink, WebhookSink  # noqa: PLC0415 - loaded only by this command
    from retroface.services.live.run import LiveOptions, run_live  # noqa: PLC0415 - loaded only by this command

    if simulate_slow_ms < 0:
        raise InvalidInputError("--simulate-slow-ms cannot be negative")
    application = open_cli_app()
    sinks: list[AlertSink] = [TerminalSink()]
    if alerts_jsonl is not None:
        refuse_inside_data_directory(alerts_jsonl, application.settings, "alerts file")
        sinks.append(JsonLinesSink(alerts_jsonl))
    if webhook is not None:
        sinks.append(WebhookSink(webhook))

    def show(status: LiveStatus) -> None:
        latency = (
            f"{status.last_alert_latency_ms:.0f} ms" if status.last_alert_latency_ms else "n/a"
        )
        err.print(
            f"{status.seconds:7.1f} s  {status.processed_fps:5.1f} frames/s  "
            f"dropped {status.frames_dropped}  faces {status.faces_seen}  "
            f"alerts {status.alerts}  last alert latency {latency}"
        )

    summary = run_live(
        application,
        deployment,
        source,
        sinks=sinks,
        options=LiveOptions(max_seconds=max_seconds, extra_delay_s=simulate_slow_ms / 1000),
        on_status=show,
    )
    if json_out:
        emit_json(summary)
        return
    p50 = f"{summary.alert_latency_ms_p50:.0f} ms" if summary.alert_latency_ms_p50 else "n/a"
    out.print(
        f"stopped: {summary.stopped_because}. {summary.seconds:.1f} s, "
        f"{summary.frames_processed} frames processed ({summary.processed_fps:.1f}/s), "
        f"{summary.frames_dropped} dropped, {summary.faces_seen} faces seen, "
        f"{summary.alerts} alerts (latency p50 {p50})"
    )
    if summary.source_error:
        err.print(f"retroface: warning: {summary.source_error}")


@lfr_app.command("create")
def lfr_create(
    deployment: Annotated[str, typer.Argument(help="An id for the deployment.")],
    watchlist: Annotated[str, typer.Option(help="A gallery marked as a live watchlist.")],
    purpose: Annotated[str, typer.Option(help="Why (the operational objective).")],
    location: Annotated[str, typer.Option(help="Where the camera is.")],
    starts: Annotated[str, typer.Option(help="Start: ISO time or YYYY-MM-DD (UTC).")],
    ends: Annotated[str, typer.Option(help="End: ISO time or YYYY-MM-DD (UTC).")],
    notice: Annotated[str, typer.Option(help="The public notice text shown at the location.")],
    threshold: Annotated[
        float | None, typer.Option(help="Alert threshold (default: the deployment's).")
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Days alerts are kept (default 31).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Authorise a live deployment (supervisor: you are its authorising officer)."""
    from retroface.services.live.deployments import create_live_deployment  # noqa: PLC0415 - loaded only by this command

    created = create_live_deployment(
        open_cli_app(),
        deployment,
        purpose=purpose,
        location=location,
        starts_at=parse_moment(starts, "--starts"),
        ends_at=parse_moment(ends, "--ends", end_of_day=True),
        watchlist=watchlist,
        public_notice=notice,
        threshold=threshold,
        alert_retention_days=retention_days,
    )
    if json_out:
        emit_json(created)
    else:
        _print_deployment(created)


@lfr_app.command("list")
def lfr_list(json_out: JsonFlag = False) -> None:
    """Live deployments, earliest first."""
    from retroface.services.live.deployments import list_live_deployments  # noqa: PLC0415 - loaded only by this command

    deployments = list_live_deployments(open_cli_app())
    if json_out:
        emit_json(deployments)
        return
    for d in deployments:
        _print_deployment(d)


@lfr_app.command("alerts")
def lfr_alerts(
    deployment: str,
    pending: Annotated[bool, typer.Option(help="Only alerts not yet adjudicated.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """A deployment's alerts, newest first (face crops are in the web UI's queue)."""
    from retroface.services.live.deployments import list_live_alerts  # noqa: PLC0415 - loaded only by this command

    alerts = list_live_alerts(open_cli_app(), deployment, pending_only=pending)
    if json_out:
        emit_json(alerts)
        return
    for a in alerts:
        decided = (
            f"{a.outcome}, {'engaged' if a.engaged else 'not engaged'} ({a.adjudicated_by})"
            if a.outcome
            else "awaiting adjudication"
        )
        out.print(
            f"{a.id}: {a.subject} score {a.score:.3f} at {a.frame_time_s:.1f} s "
            f"({a.frames} frames); {decided}"
        )


@lfr_app.command("adjudicate")
def lfr_adjudicate(
    alert: int,
    outcome: Annotated[str, typer.Option(help="true-alert, false-alert or unconfirmed.")],
    engaged: Annotated[
        bool, typer.Option("--engaged/--not-engaged", help="Did an officer engage the person?")
    ],
    note: Annotated[str, typer.Option(help="What happened (e.g. the result of engagement).")] = "",
    json_out: JsonFlag = False,
) -> None:
    """Record an officer's decision on one alert."""
    from retroface.services.live.deployments import adjudicate_alert  # noqa: PLC0415 - loaded only by this command

    decided = adjudicate_alert(open_cli_app(), alert, engaged=engaged, outcome=outcome, note=note)
    if json_out:
        emit_json(decided)
    else:
        out.print(f"alert {decided.id}: {decided.outcome}, engaged={decided.engaged}")


@lfr_app.command("report")
def lfr_report(deployment: str, json_out: JsonFlag = False) -> None:
    """The deployment's figures for publication: counts only, nobody named."""
    from retroface.services.live.deployments import live_publication  # noqa: PLC0415 - loaded only by this command

    record = live_publication(open_cli_app(), deployment)
    if json_out:
        emit_json(record)
        return
    for key, value in record.model_dump().items():
        out.print(f"{key.replace('_', ' ')}: {value}")


def _print_deployment(d: LiveDeploymentOut) -> None:
    out.print(
        f"{d.id}: {d.location} ({d.purpose}); {d.starts_at.isoformat()} to "
        f"{d.ends_at.isoformat()}; watchlist {d.watchlist} v{d.watchlist_version}; threshold "
        f"{d.threshold}; authorised by {d.authorised_by}; alerts kept "
        f"{d.alert_retention_days} days"
    )
