"""retroface's Typer application. Each command is one call into ``services``."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console

from retroface.cli import render, session_file
from retroface.cli.progress_bar import RichProgress
from retroface.errors import InvalidInputError, RetrofaceError
from retroface.services import App, open_app
from retroface.services import audit_log as audit_service
from retroface.services import cases as case_service
from retroface.services import galleries as gallery_service
from retroface.services import users as user_service
from retroface.services.enrollment import enroll as enroll_service
from retroface.services.model_info import list_model_cards
from retroface.services.quickstart import quickstart as quickstart_service
from retroface.services.results import SearchReport
from retroface.services.search import search as search_service
from retroface.services.users import Role
from retroface.services.verify import verify as verify_service
from retroface.settings import Settings

app = typer.Typer(
    help="retroface: accountable retrospective face search. Candidates are investigative "
    "leads, not identifications.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
gallery_app = typer.Typer(help="Galleries of known identities.", no_args_is_help=True)
case_app = typer.Typer(help="Cases and their authorisations.", no_args_is_help=True)
app.add_typer(gallery_app, name="gallery")
app.add_typer(case_app, name="case")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
user_app = typer.Typer(help="Users and roles (admin).", no_args_is_help=True)
app.add_typer(user_app, name="user")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document to stdout.")]
Threshold = Annotated[
    float | None, typer.Option(help="Cosine similarity a candidate must reach (default: settings).")
]
MaxCandidates = Annotated[
    int | None, typer.Option("--max-candidates", help="Candidates per face (default 10).")
]


class _State:
    home: Path | None = None
    workers: int | None = None


_state = _State()


@app.callback()
def _global(
    home: Annotated[
        Path | None,
        typer.Option(help="Data directory (default $RETROFACE_HOME or ./retroface-data)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: all cores).")
    ] = None,
) -> None:
    _state.home = home
    _state.workers = workers


def _open(*, identify: bool = True) -> App:
    settings = Settings.from_env()
    if _state.home is not None:
        settings = settings.with_(home=_state.home)
    if _state.workers is not None:
        if _state.workers < 1:
            raise InvalidInputError("--workers must be at least 1")
        settings = settings.with_(workers=_state.workers)
    application = open_app(settings)
    if identify:
        application.principal = session_file.resolve_principal(application)
    return application


def _emit_json(model: BaseModel | list[BaseModel]) -> None:
    if isinstance(model, list):
        sys.stdout.write("[" + ",".join(m.model_dump_json() for m in model) + "]\n")
    else:
        sys.stdout.write(model.model_dump_json(indent=2) + "\n")


def _parse_day(value: str, option: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise InvalidInputError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from exc


def _parse_until(value: str) -> datetime:
    """YYYY-MM-DD means the end of that day (UTC); an ISO time without zone is UTC."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"--until {value!r} is not a date (YYYY-MM-DD) or ISO time"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def init(
    admin: Annotated[
        str | None, typer.Option(help="Create the first user, an admin, with this name.")
    ] = None,
) -> None:
    """Create the data directory and database, and optionally the first admin."""
    application = _open(identify=False)
    if admin is not None:
        user_service.bootstrap_admin(application, admin, session_file.ask_password())
        out.print(f"Created admin {admin}; log in with 'retroface login {admin}'")
    out.print(f"retroface data directory ready: {application.settings.home.resolve()}")


@app.command()
def models(json_out: JsonFlag = False) -> None:
    """Model cards of the detector and embedder backends."""
    cards = list_model_cards()
    if json_out:
        sys.stdout.write(json.dumps([c.as_dict() for c in cards], indent=2) + "\n")
        return
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
    application = _open(identify=False)
    token, principal = user_service.login(application, username, session_file.ask_password())
    session_file.save_token(application, token)
    out.print(f"Logged in as {principal.username} ({principal.role.value})")


@app.command()
def logout() -> None:
    """End the saved session."""
    application = _open(identify=False)
    token = session_file.read_token(application)
    if token:
        user_service.logout(application, token)
    session_file.forget_token(application)
    out.print("Logged out")


@app.command()
def whoami() -> None:
    """Show who commands run as."""
    principal = _open().principal
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
    application = _open()
    password = os.environ.get("RETROFACE_NEW_PASSWORD") or session_file.ask_password(
        "New user's password: "
    )
    trained = _parse_day(trained_on, "--trained-on") if trained_on else None
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
    users = user_service.list_users(_open())
    if json_out:
        _emit_json(list(users))
        return
    for u in users:
        out.print(f"{u.username}  {u.role}  {'active' if u.active else 'inactive'}")


@gallery_app.command("create")
def gallery_create(
    name: str, description: Annotated[str, typer.Option(help="What the gallery holds.")] = ""
) -> None:
    """Create an empty gallery."""
    summary = gallery_service.create_gallery(_open(), name, description)
    out.print(f"Created gallery {summary.name}")


@gallery_app.command("list")
def gallery_list(json_out: JsonFlag = False) -> None:
    """List galleries with their sizes."""
    galleries = gallery_service.list_galleries(_open())
    if json_out:
        _emit_json(list(galleries))
    else:
        render.render_galleries(out, galleries)


@gallery_app.command("show")
def gallery_show(name: str, json_out: JsonFlag = False) -> None:
    """Show a gallery's subjects."""
    detail = gallery_service.show_gallery(_open(), name)
    if json_out:
        _emit_json(detail)
    else:
        render.render_gallery(out, detail)


@gallery_app.command("enroll")
def gallery_enroll(
    name: Annotated[str, typer.Argument(help="Gallery to enroll into.")],
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Folder per identity (DIR/<subject>/*.jpg), or files named after the person."
        ),
    ],
    subject: Annotated[
        str | None, typer.Option(help="Enroll every image given as this one subject.")
    ] = None,
    category: Annotated[
        str | None, typer.Option(help="Category recorded for new subjects.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Enroll reference images (resumable: re-running skips what is already enrolled)."""
    report = enroll_service(
        _open(), name, paths, subject=subject, category=category, progress=RichProgress(err)
    )
    if json_out:
        _emit_json(report)
    else:
        render.render_enroll(out, report)


@gallery_app.command("remove-subject")
def gallery_remove_subject(
    name: str,
    subject: str,
    final: Annotated[
        bool, typer.Option("--final", help="Delete the subject's images and templates for good.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Take a subject out of search (reversible), or delete their data with --final."""
    if (
        final
        and not yes
        and not typer.confirm(
            f"Permanently delete every image and template of {subject!r} in {name!r}?", err=True
        )
    ):
        raise InvalidInputError("nothing deleted")
    action = gallery_service.remove_subject(_open(), name, subject, final=final)
    if action == "subject.purged":
        out.print(f"Deleted the images and templates of {subject} (final)")
    else:
        out.print(f"Removed {subject} from search; 'gallery restore-subject' undoes this")


@gallery_app.command("restore-subject")
def gallery_restore_subject(name: str, subject: str) -> None:
    """Undo a (non-final) removal."""
    gallery_service.restore_subject(_open(), name, subject)
    out.print(f"Restored {subject} in {name}")


@case_app.command("open")
def case_open(
    reference: str,
    purpose: Annotated[str, typer.Option(help="Why the search is needed.")],
    basis: Annotated[
        str, typer.Option(help=f"Lawful basis: {', '.join(case_service.lawful_bases())}.")
    ],
    offence: Annotated[str, typer.Option(help="Offence category.")],
    requester: Annotated[str | None, typer.Option(help="Who asks (default: you).")] = None,
) -> None:
    """Open a case; it needs an authorisation before any search."""
    detail = case_service.open_case(
        _open(),
        reference,
        purpose=purpose,
        lawful_basis=basis,
        offence=offence,
        requester=requester,
    )
    out.print(f"Opened case {detail.reference}; it needs an authorisation before searching")


@case_app.command("authorise")
def case_authorise(
    reference: str,
    until: Annotated[str, typer.Option(help="Last day (YYYY-MM-DD, UTC) or ISO time.")],
    by: Annotated[
        str | None,
        typer.Option(help="The authorising supervisor: you (must not be the requester)."),
    ] = None,
) -> None:
    """Record who authorised searching under a case, and until when."""
    detail = case_service.authorise_case(_open(), reference, by=by, until=_parse_until(until))
    render.render_case(out, detail)


@case_app.command("show")
def case_show(reference: str, json_out: JsonFlag = False) -> None:
    """Show a case and its authorisations."""
    detail = case_service.show_case(_open(), reference)
    if json_out:
        _emit_json(detail)
    else:
        render.render_case(out, detail)


@app.command()
def search(
    evidence: Annotated[list[Path], typer.Argument(help="Evidence images or folders.")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    gallery: Annotated[str, typer.Option("--gallery", help="Gallery to search.")],
    threshold: Threshold = None,
    max_candidates: MaxCandidates = None,
    json_out: JsonFlag = False,
) -> None:
    """Search every face in the evidence against a gallery under an authorised case."""
    report = search_service(
        _open(),
        case,
        gallery,
        evidence,
        threshold=threshold,
        max_candidates=max_candidates,
        progress=RichProgress(err),
    )
    _finish_search_output(report, json_out)


@app.command()
def verify(
    first: Path, second: Path, threshold: Threshold = None, json_out: JsonFlag = False
) -> None:
    """1:1: compare the main face in two images."""
    report = verify_service(_open(), first, second, threshold=threshold)
    if json_out:
        _emit_json(report)
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
    enrolled, report = quickstart_service(
        _open(identify=False),
        known,
        evidence,
        threshold=threshold,
        max_candidates=max_candidates,
        progress=RichProgress(err),
    )
    if not json_out:
        render.render_enroll(out, enrolled)
    _finish_search_output(report, json_out)


KeyFile = Annotated[
    Path | None, typer.Option("--key-file", help="HMAC key file (default $RETROFACE_AUDIT_KEY).")
]


@audit_app.command("verify")
def audit_verify(json_out: JsonFlag = False) -> None:
    """Check the hash chain; exit 1 and name the first bad event if it was tampered with."""
    status = audit_service.verify_audit(_open())
    if json_out:
        _emit_json(status)
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
    result = audit_service.export_audit(_open(), out_file, audit_service.load_signing_key(key_file))
    out.print(f"exported {result.events} events to {result.path}; head {result.head[:16]}")


@audit_app.command("check-export")
def audit_check_export(
    export_file: Annotated[Path, typer.Argument(help="A file written by 'audit export'.")],
    key_file: KeyFile = None,
) -> None:
    """Check an export's signature (exit 1 if it does not verify)."""
    result = audit_service.check_export(export_file, audit_service.load_signing_key(key_file))
    verdict = "valid" if result.signature_valid else "INVALID"
    out.print(f"signature {verdict}: {result.events} events, head {result.head[:16]}")
    if not result.signature_valid:
        raise typer.Exit(code=1)


def _finish_search_output(report: SearchReport, json_out: bool) -> None:
    if json_out:
        _emit_json(report)
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
