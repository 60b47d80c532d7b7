"""retroface's Typer application. Each command is one call into ``services``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli import render, session_file
from retroface.cli.case_commands import case_app
from retroface.cli.context import (
    JsonFlag,
    KeyFile,
    MaxCandidates,
    Threshold,
    emit_json,
    err,
    open_cli_app,
    out,
    parse_day,
    state,
)
from retroface.cli.eval_commands import eval_app
from retroface.cli.gallery_commands import gallery_app
from retroface.cli.governance_commands import deployment_app, report_app, retention_app, review_app
from retroface.cli.key_commands import keys_app
from retroface.cli.live_commands import lfr_app, live
from retroface.cli.maintenance_commands import backup_app, doctor
from retroface.cli.progress_bar import RichProgress
from retroface.cli.server_commands import apikey_app, serve
from retroface.cli.video_commands import video_app
from retroface.errors import InvalidInputError, RetrofaceError
from retroface.faces.model_cards import model_cards
from retroface.governance.roles import Role

if TYPE_CHECKING:
    from retroface.services.results import SearchReport

# Each command imports the services it calls: loading them all here (and the libraries behind
# them: the database, the face engine, FAISS, the PDF writer) would make --help and every short
# command pay for every one of them (bench/cli_start.py measures it).

app = typer.Typer(
    help="retroface: accountable retrospective face search. Candidates are investigative "
    "leads, not identifications.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(gallery_app, name="gallery")
app.add_typer(case_app, name="case")
app.add_typer(video_app, name="video")
for sub_app, sub_name in (
    (deployment_app, "deployment"),
    (review_app, "review"),
    (retention_app, "retention"),
    (report_app, "report"),
):
    app.add_typer(sub_app, name=sub_name)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
user_app = typer.Typer(help="Users and roles (admin).", no_args_is_help=True)
app.add_typer(user_app, name="user")
user_app.add_typer(apikey_app, name="apikey")
app.add_typer(eval_app, name="eval")
app.add_typer(keys_app, name="keys")
app.command()(serve)
app.command()(live)
app.add_typer(lfr_app, name="lfr")
app.command()(doctor)
app.add_typer(backup_app, name="backup")


@app.callback()
def _global(
    home: Annotated[
        Path | None,
        typer.Option(help="Data directory (default $RETROFACE_HOME or ./retroface-data)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: all cores).")
    ] = None,
    detector: Annotated[
        str | None,
        typer.Option(
            help="Face detector: hog, cnn, cnn-onnx or cascade (default $RETROFACE_DETECTOR or cascade)."
        ),
    ] = None,
    embedder: Annotated[
        str | None,
        typer.Option(
            help="Embedder: dlib, onnx or onnx:PATH to a model file (default $RETROFACE_EMBEDDER or onnx)."
        ),
    ] = None,
) -> None:
    state.home = home
    state.workers = workers
    state.detector = detector
    state.embedder = embedder


@app.command()
def init(
    admin: Annotated[
        str | None, typer.Option(help="Create the first user, an admin, with this name.")
    ] = None,
) -> None:
    """Create the data directory and database, and optionally the first admin."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    application = open_cli_app(identify=False)
    if admin is not None:
        user_service.bootstrap_admin(application, admin, session_file.ask_password())
        out.print(f"Created admin {admin}; log in with 'retroface login {admin}'")
    out.print(f"retroface data directory ready: {application.settings.home.resolve()}")


@app.command()
def models(json_out: JsonFlag = False) -> None:
    """Model cards of the detector and embedder backends."""
    cards = model_cards()
    if json_out:
        sys.stdout.write(json.dumps([c.as_dict() for c in cards], indent=2) + "\n")
        return
    from retroface.faces.engine_description import describe  # noqa: PLC0415 - loaded only by this command
    from retroface.services.app import engine_spec_of  # noqa: PLC0415 - loaded only by this command
    from retroface.settings import Settings  # noqa: PLC0415 - loaded only by this command

    engine = describe(engine_spec_of(Settings.from_env()))
    out.print(
        f"[bold]engine[/bold] (these settings; recorded with every template and search): {engine}"
    )
    for card in cards:
        out.print(f"[bold]{card.key}[/bold] ({card.kind}): {card.name}")
        for label in (
            "source",
            "licence",
            "input",
            "training_data",
            "published_accuracy",
            "measured_accuracy",
            "notes",
        ):
            value = getattr(card, label)
            if value:
                out.print(f"  {label.replace('_', ' ')}: {value}", markup=False)


@app.command()
def login(username: str) -> None:
    """Log in; the session lasts 8 hours and is kept in the data directory."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    application = open_cli_app(identify=False)
    token, principal = user_service.login(application, username, session_file.ask_password())
    session_file.save_token(application, token)
    out.print(f"Logged in as {principal.username} ({principal.role.value})")


@app.command()
def logout() -> None:
    """End the saved session."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    application = open_cli_app(identify=False)
    token = session_file.read_token(application)
    if token:
        user_service.logout(application, token)
    session_file.forget_token(application)
    out.print("Logged out")


@app.command()
def whoami() -> None:
    """Show who commands run as."""
    principal = open_cli_app().principal
    if principal is None:
        raise InvalidInputError("not logged in")
    out.print(f"{principal.username} ({principal.role.value})")


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="operator, reviewer, supervisor, auditor or admin.")],
    display_name: Annotated[str, typer.Option(help="Full name.")] = "",
    trained_on: Annotated[
        str | None, typer.Option(help="Reviewers: date face-comparison training was completed.")
    ] = None,
) -> None:
    """Add a user (admin only); the password is read from a prompt or $RETROFACE_NEW_PASSWORD."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    application = open_cli_app()
    password = os.environ.get("RETROFACE_NEW_PASSWORD") or session_file.ask_password(
        "New user's password: "
    )
    trained = parse_day(trained_on, "--trained-on") if trained_on else None
    user = user_service.add_user(
        application,
        username,
        role,
        password,
        display_name=display_name,
        training_completed_on=trained,
    )
    out.print(f"Added {user.username} ({user.role})")


@user_app.command("list")
def user_list(json_out: JsonFlag = False) -> None:
    """List users (admin only)."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    users = user_service.list_users(open_cli_app())
    if json_out:
        emit_json(list(users))
        return
    for u in users:
        out.print(f"{u.username}  {u.role}  {'active' if u.active else 'inactive'}")


@app.command()
def search(
    evidence: Annotated[list[Path], typer.Argument(help="Evidence images, videos or folders.")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    gallery: Annotated[str, typer.Option("--gallery", help="Gallery to search.")],
    threshold: Threshold = None,
    max_candidates: MaxCandidates = None,
    probe_label: Annotated[
        list[str] | None,
        typer.Option(help="Operator-supplied label of the probe person, key=value (statistics)."),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Search every face in the evidence against a gallery under an authorised case."""
    from retroface.services.galleries.provenance import parse_labels  # noqa: PLC0415 - loaded only by this command
    from retroface.services.search.photos import search as search_service  # noqa: PLC0415 - loaded only by this command

    report = search_service(
        open_cli_app(),
        case,
        gallery,
        evidence,
        threshold=threshold,
        max_candidates=max_candidates,
        probe_labels=parse_labels(";".join(probe_label or [])),
        progress=RichProgress(err),
    )
    _finish_search_output(report, json_out)


@app.command()
def verify(
    first: Path,
    second: Path,
    case: Annotated[
        str, typer.Option("--case", help="Case reference (authorised; counts as a search).")
    ],
    threshold: Threshold = None,
    json_out: JsonFlag = False,
) -> None:
    """1:1: compare the main face in two images, under an authorised case."""
    from retroface.services.search.verify import verify as verify_service  # noqa: PLC0415 - loaded only by this command

    report = verify_service(open_cli_app(), case, first, second, threshold=threshold)
    if json_out:
        emit_json(report)
    else:
        render.render_verify(out, report)


@app.command()
def quickstart(
    known: Annotated[
        Path, typer.Argument(help="Folder per identity, or files named after the person.")
    ],
    evidence: Annotated[list[Path], typer.Argument(help="Images or folders to search.")],
    threshold: Threshold = None,
    max_candidates: MaxCandidates = None,
    json_out: JsonFlag = False,
) -> None:
    """Enroll KNOWN into a demo gallery and search EVIDENCE under a demo case, in one go."""
    from retroface.services.quickstart import quickstart as quickstart_service  # noqa: PLC0415 - loaded only by this command

    enrolled, report = quickstart_service(
        open_cli_app(identify=False),
        known,
        evidence,
        threshold=threshold,
        max_candidates=max_candidates,
        progress=RichProgress(err),
    )
    if not json_out:
        render.render_enroll(out, enrolled)
    _finish_search_output(report, json_out)


@audit_app.command("verify")
def audit_verify(json_out: JsonFlag = False) -> None:
    """Check the hash chain; exit 1 and name the first bad event if it was tampered with."""
    from retroface.services.oversight import audit_log as audit_service  # noqa: PLC0415 - loaded only by this command

    status = audit_service.verify_audit(open_cli_app())
    if json_out:
        emit_json(status)
    elif status.ok:
        out.print(f"audit chain intact: {status.events} events, head {status.head[:16]}")
    else:
        out.print(f"audit chain BROKEN at event {status.first_bad_id}: {status.reason}")
    if not status.ok:
        raise typer.Exit(code=1)


@audit_app.command("export")
def audit_export(
    out_file: Annotated[Path, typer.Argument(help="JSON-lines file to write.")],
    key_file: KeyFile = None,
) -> None:
    """Write the whole log as JSON lines with an HMAC-SHA256 signature line."""
    from retroface.governance.audit_export import load_signing_key  # noqa: PLC0415 - loaded only by this command
    from retroface.services.oversight import audit_log as audit_service  # noqa: PLC0415 - loaded only by this command

    result = audit_service.export_audit(open_cli_app(), out_file, load_signing_key(key_file))
    out.print(f"exported {result.events} events to {result.path}; head {result.head[:16]}")


@audit_app.command("check-export")
def audit_check_export(
    export_file: Annotated[Path, typer.Argument(help="A file written by 'audit export'.")],
    key_file: KeyFile = None,
) -> None:
    """Check an export's signature (exit 1 if it does not verify)."""
    from retroface.governance.audit_export import load_signing_key  # noqa: PLC0415 - loaded only by this command
    from retroface.services.oversight import audit_log as audit_service  # noqa: PLC0415 - loaded only by this command

    result = audit_service.check_export(export_file, load_signing_key(key_file))
    verdict = "valid" if result.signature_valid else "INVALID"
    out.print(f"signature {verdict}: {result.events} events, head {result.head[:16]}")
    if not result.signature_valid:
        raise typer.Exit(code=1)


def _finish_search_output(report: SearchReport, json_out: bool) -> None:
    if json_out:
        emit_json(report)
    else:
        render.render_search(out, report)
    if report.errors:
        raise typer.Exit(code=1)


def run() -> None:
    """Console entry point: user errors become one line on stderr and exit code 1."""
    try:
        app()  # standalone: usage errors and Ctrl-C are handled by Typer itself
    except RetrofaceError as exc:
        err.print(f"retroface: error: {exc}", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    run()
