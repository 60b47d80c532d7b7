"""retroface's Typer application. Each command is one call into ``services``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli import render, session_file
from retroface.cli.audit_commands import audit_app
from retroface.cli.case_commands import case_app
from retroface.cli.context import (
    JsonFlag,
    MaxCandidates,
    SourceType,
    SuppliedBy,
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

#: The exit status of a search that stopped to list the faces of an image for the operator
#: to choose one (nothing was searched); 1 is any other error.
FACE_CHOICE_NEEDED_EXIT = 3

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
            help="Face detector: hog, cnn, cnn-onnx, cascade, coarse-cascade or blazeface (default $RETROFACE_DETECTOR or coarse-cascade)."
        ),
    ] = None,
    embedder: Annotated[
        str | None,
        typer.Option(
            help="Embedder: dlib, onnx, onnx8 or onnx:PATH to a model file (default $RETROFACE_EMBEDDER or onnx8)."
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
        name = user_service.bootstrap_admin(
            application, admin, session_file.ask_password()
        ).username
        out.print(f"Created admin {name}; log in with 'retroface login {name}'")
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
def login(
    username: str,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input."
        ),
    ] = False,
) -> None:
    """Log in; the session lasts 8 hours and is kept for your own account only (in
    $XDG_CONFIG_HOME or ~/.config/retroface/sessions/), one per data directory."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    application = open_cli_app(identify=False)
    password = session_file.password_from_stdin() if password_stdin else session_file.ask_password()
    token, principal = user_service.login(application, username, password)
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


@user_app.command("deactivate")
def user_deactivate(
    username: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Stop an account (admin only): no more log-ins; its sessions and API keys end now."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    user = user_service.deactivate_user(open_cli_app(), username, reason)
    out.print(f"Deactivated {user.username}; their sessions and API keys have ended")


@user_app.command("reactivate")
def user_reactivate(username: str) -> None:
    """Let a deactivated account log in again (admin only)."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    user = user_service.reactivate_user(open_cli_app(), username)
    out.print(f"Reactivated {user.username} ({user.role})")


@user_app.command("role")
def user_role(
    username: str,
    role: Annotated[Role, typer.Argument(help="operator, reviewer, supervisor, auditor or admin.")],
    trained_on: Annotated[
        str | None, typer.Option(help="Reviewers: date face-comparison training was completed.")
    ] = None,
) -> None:
    """Change an account's role (admin only); it holds from the account's next request."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    trained = parse_day(trained_on, "--trained-on") if trained_on else None
    user = user_service.change_role(open_cli_app(), username, role, training_completed_on=trained)
    out.print(f"{user.username} is now {user.role}")


@user_app.command("reset-password")
def user_reset_password(username: str) -> None:
    """Set a new password for an account (admin only) and end its sessions; the password is
    read from a prompt or $RETROFACE_NEW_PASSWORD."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    application = open_cli_app()
    password = os.environ.get("RETROFACE_NEW_PASSWORD") or session_file.ask_password(
        f"New password for {username}: "
    )
    user = user_service.reset_password(application, username, password)
    out.print(f"New password set for {user.username}; their log-in sessions have ended")


@user_app.command("revoke-sessions")
def user_revoke_sessions(username: str) -> None:
    """End every log-in session and API key of an account now (admin only)."""
    from retroface.services.access import users as user_service  # noqa: PLC0415 - loaded only by this command

    revoked = user_service.revoke_sessions(open_cli_app(), username)
    out.print(
        f"Ended {revoked.sessions} session(s) and {revoked.api_keys} API key(s) of "
        f"{revoked.username}"
    )


@app.command()
def search(
    evidence: Annotated[list[Path], typer.Argument(help="Evidence images, videos or folders.")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    gallery: Annotated[str, typer.Option("--gallery", help="Gallery to search.")],
    source_type: SourceType,
    supplied_by: SuppliedBy,
    threshold: Threshold = None,
    max_candidates: MaxCandidates = None,
    one_person: Annotated[
        bool,
        typer.Option(
            "--one-person",
            help="The images are stills of one unknown person (other cameras or moments), "
            "one face each: search them as one fused probe with one candidate list.",
        ),
    ] = False,
    probe_label: Annotated[
        list[str] | None,
        typer.Option(help="Operator-supplied label of the probe person, key=value (statistics)."),
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(
            "--fps",
            help="Frame rate of raw H.264/H.265 streams among the evidence (.264, .h265...), "
            "which carry no timestamps: frame i is read as i/FPS seconds, and recorded as "
            "such (as `video ingest --fps`). Files with timestamps ignore it.",
        ),
    ] = None,
    low_quality_reason: Annotated[
        str | None,
        typer.Option(
            help="Search faces too poor to search reliably too, for this recorded reason "
            "(audited; their candidates carry a low-quality warning)."
        ),
    ] = None,
    face: Annotated[
        int | None,
        typer.Option(
            "--face",
            min=1,
            help="Search only face N of the image (its number in the listing a search of "
            "an image with several faces prints). One image only.",
        ),
    ] = None,
    box: Annotated[
        str | None,
        typer.Option(
            "--box",
            help="Search only the detected face that overlaps this box most: x,y,w,h in "
            "pixels. One image only.",
        ),
    ] = None,
    all_faces: Annotated[
        bool,
        typer.Option(
            "--all-faces",
            help="Search every face of the evidence, bystanders too: only with --all-faces-reason.",
        ),
    ] = False,
    all_faces_reason: Annotated[
        str | None,
        typer.Option(help="Why every face must be searched (recorded with the search, audited)."),
    ] = None,
    mark: Annotated[
        str | None,
        typer.Option(
            "--mark",
            help="A face the detector missed, marked by hand: its box x,y,w,h (with --eyes). "
            "One image only.",
        ),
    ] = None,
    eyes: Annotated[
        str | None,
        typer.Option("--eyes", help="The marked face's two eye centres: x1,y1,x2,y2 in pixels."),
    ] = None,
    nose: Annotated[
        str | None,
        typer.Option(
            "--nose",
            help="The marked face's nose tip: x,y (optional; needed for a face more than a "
            "quarter turn from upright, to tell the eyes apart).",
        ),
    ] = None,
    mouth: Annotated[
        str | None,
        typer.Option("--mouth", help="The marked face's mouth corners: x1,y1,x2,y2 (optional)."),
    ] = None,
    enhance: Annotated[
        list[str] | None,
        typer.Option(
            "--enhance",
            help="Enhance the one image before its faces are found, one step per option, in "
            "order: OP, OP:VALUE or OP:NAME=VALUE,... e.g. 'clahe:clip=2.0,tile=8', "
            "'gamma:0.8'. Operations: crop, rotate, mirror, brightness, contrast, gamma, "
            "equalise, clahe, denoise, sharpen, deinterlace, upscale. The original is kept "
            "and hashed; each step is recorded and audited; candidates are flagged enhanced.",
        ),
    ] = None,
    enhance_file: Annotated[
        Path | None,
        typer.Option(
            "--enhance-file",
            help='The enhancement steps as a JSON list of {"op": NAME, PARAM: VALUE} objects '
            "(instead of --enhance).",
        ),
    ] = None,
    keep_enhanced: Annotated[
        bool,
        typer.Option(
            "--keep-enhanced",
            help="Also keep the enhanced image in the data directory as a second evidence "
            "file of the case (by default it is only re-created from the original and the steps).",
        ),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Search the chosen face of the evidence against a gallery under an authorised case.

    An image with several faces and no choice is listed, not searched (exit 3):
    choose with --face or --box, mark a missed face with --mark and --eyes,
    or search every face with --all-faces and a reason."""
    from retroface.faces.face_choice import face_choice_from  # noqa: PLC0415 - loaded only by this command
    from retroface.services.galleries.provenance import parse_labels  # noqa: PLC0415 - loaded only by this command
    from retroface.services.search.enhanced_probe import probe_enhancement_from  # noqa: PLC0415 - loaded only by this command
    from retroface.services.search.photos import search as search_service  # noqa: PLC0415 - loaded only by this command
    from retroface.services.search.probe_faces import FaceChoiceNeededError  # noqa: PLC0415 - loaded only by this command

    if all_faces != (all_faces_reason is not None):
        raise InvalidInputError(
            "--all-faces needs --all-faces-reason TEXT (recorded and audited)"
            if all_faces
            else "--all-faces-reason goes with --all-faces"
        )
    choice = face_choice_from(
        face=face,
        box=box,
        all_faces_reason=all_faces_reason,
        mark=mark,
        eyes=eyes,
        nose=nose,
        mouth=mouth,
    )
    if all_faces and choice.all_faces_reason is None:
        raise InvalidInputError("--all-faces-reason must say why (it is recorded and audited)")
    enhancement = probe_enhancement_from(enhance, steps_file=enhance_file, keep_copy=keep_enhanced)
    try:
        report = search_service(
            open_cli_app(),
            case,
            gallery,
            evidence,
            threshold=threshold,
            max_candidates=max_candidates,
            probe_labels=parse_labels(";".join(probe_label or [])),
            progress=RichProgress(err),
            low_quality_justification=low_quality_reason,
            source_type=source_type,
            supplied_by=supplied_by,
            one_person=one_person,
            face_choice=choice,
            enhancement=enhancement,
            fps=fps,
        )
    except FaceChoiceNeededError as needed:
        if json_out:  # the listing on stdout, what it means on stderr
            emit_json(needed.listing)
            err.print(f"retroface: {needed}", markup=False)
        else:
            render.render_probe_faces(out, needed.listing)
        raise typer.Exit(code=FACE_CHOICE_NEEDED_EXIT) from None
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
