"""``retroface doctor`` and ``retroface backup create|verify|restore`` (admin).

Each command is one call into ``services.operations.doctor`` or ``services.operations.backup``;
the exit code is 1 while a problem remains (doctor) or a backup does not
verify, so both can run from cron and alert.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli import session_file
from retroface.cli.context import JsonFlag, emit_json, open_cli_app, out, state
from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from retroface.services.operations.backup import BackupCheck
    from retroface.services.operations.doctor import DoctorReport
    from retroface.settings import Settings

#: services.operations.doctor.DEFAULT_STALE_AFTER in minutes, written out: importing it would
#: load the doctor (and the database) for every command's --help. tests/cli/test_cli_start.py
#: checks that the two agree.
DEFAULT_STALE_AFTER_MINUTES = 60.0

backup_app = typer.Typer(
    help="Backups of the data directory: create, verify, restore (admin). "
    "A backup holds every biometric: store it like the data directory.",
    no_args_is_help=True,
)


def _settings(home: Path | None = None) -> Settings:
    from retroface.settings import Settings  # noqa: PLC0415 - loaded only by the commands that use it

    settings = Settings.from_env()
    chosen = home or state.home
    return settings.with_(home=chosen) if chosen is not None else settings


def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what is repairable (each fix is audited).")
    ] = False,
    stale_after: Annotated[
        float,
        typer.Option(
            "--stale-after",
            help="Minutes without progress after which a running job or search, a temp file "
            "or an unreferenced upload counts as left behind by a stopped process.",
        ),
    ] = DEFAULT_STALE_AFTER_MINUTES,
    json_out: JsonFlag = False,
) -> None:
    """Check that the database, the index files and the data directory agree (exit 1 if not).

    Without --repair nothing is changed. Run repairs while no server or job is running.
    """
    from retroface.services.operations.doctor import run_doctor  # noqa: PLC0415 - loaded only by this command

    settings = _settings()
    if settings.database_url is None and not settings.sqlite_path.exists():
        raise InvalidInputError(
            f"{settings.home}: no retroface data directory here (no {settings.sqlite_path.name}); "
            "give --home or set RETROFACE_HOME"
        )
    if stale_after < 0:
        raise InvalidInputError("--stale-after cannot be negative")
    report = run_doctor(open_cli_app(), repair=repair, stale_after=timedelta(minutes=stale_after))
    if json_out:
        emit_json(report)
    else:
        _render_doctor(report)
    if not report.ok:
        raise typer.Exit(code=1)


def _render_doctor(report: DoctorReport) -> None:
    out.print(f"retroface doctor: {report.home} ({report.database})", markup=False)
    for f in report.findings:
        label = {"ok": "ok", "problem": "PROBLEM", "not-applicable": "n/a"}[f.status]
        count = f" ({f.count})" if f.status == "problem" else ""
        out.print(f"  {label:<8} {f.name}{count}: {f.detail}", markup=False)
        if f.repaired:
            out.print(f"           repaired {f.repaired}", markup=False)
        if f.status == "problem":
            for example in f.examples:
                out.print(f"           - {example}", markup=False)
            out.print(f"           repair: {f.repair}", markup=False)
    if report.ok:
        out.print("no problems found")
    else:
        hint = "" if report.repair else "; 'retroface doctor --repair' fixes the repairable ones"
        out.print(f"{report.problems} problem(s){hint}", markup=False)


@backup_app.command("create")
def backup_create(
    destination: Annotated[
        Path,
        typer.Argument(help="A new or empty folder, or an archive file ending .tar or .tar.gz."),
    ],
    json_out: JsonFlag = False,
) -> None:
    """Snapshot the database (SQLite online backup) and copy the data directory, with a
    manifest of SHA-256 hashes. PostgreSQL deployments: use pg_dump."""
    from retroface.services.operations.backup import create_backup  # noqa: PLC0415 - loaded only by this command

    report = create_backup(open_cli_app(), destination)
    if json_out:
        emit_json(report)
        return
    kind = "archive" if report.archive else "folder"
    out.print(
        f"backup {kind} {report.path}: {report.files} files, {report.bytes} bytes, schema "
        f"{report.alembic_revision}, {report.audit_events} audit events",
        markup=False,
    )
    out.print(f"manifest sha256 {report.manifest_sha256} (recorded in the audit log)")
    for item in report.left_out:
        out.print(f"  left out {item}", markup=False)
    out.print("It holds biometric data: store it like the data directory (owner-only, 0600).")


@backup_app.command("verify")
def backup_verify(
    source: Annotated[Path, typer.Argument(help="A backup folder or archive.")],
    json_out: JsonFlag = False,
) -> None:
    """Re-hash every file against the manifest; exit 1 naming any missing, extra or changed."""
    from retroface.services.operations.backup import verify_backup  # noqa: PLC0415 - loaded only by this command

    check = verify_backup(source)
    if json_out:
        emit_json(check)
    else:
        _render_check(check)
    if not check.ok:
        raise typer.Exit(code=1)


def _render_check(check: BackupCheck) -> None:
    from retroface.services.operations.backup import describe_problems  # noqa: PLC0415 - loaded only by backup verify

    verdict = "verifies" if check.ok else "does NOT verify"
    out.print(
        f"backup {check.path} {verdict}: {check.files} files, {check.bytes} bytes, made by "
        f"{check.created_by} at {check.created_at:%Y-%m-%d %H:%M:%S} UTC with retroface "
        f"{check.retroface_version}, schema {check.alembic_revision}",
        markup=False,
    )
    out.print(f"manifest sha256 {check.manifest_sha256}")
    for label, names in (("missing", check.missing), ("extra", check.extra)):
        for name in names:
            out.print(f"  {label}: {name}", markup=False)
    for name in check.changed:
        out.print(f"  changed: {name}", markup=False)
    if not check.ok and not (check.missing or check.extra or check.changed):
        out.print(f"  {describe_problems(check)}", markup=False)
    if not check.revision_known:
        out.print("  made by a newer retroface: upgrade before restoring")


@backup_app.command("restore")
def backup_restore(
    source: Annotated[Path, typer.Argument(help="A backup folder or archive.")],
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Data directory to restore into (default: the global one)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace a non-empty data directory (it is moved aside, not deleted)."
        ),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Verify, then restore into a temp folder renamed into place; audited in the restored
    database as RETROFACE_USER, who must be one of its admins."""
    from retroface.services.operations.backup import restore_backup  # noqa: PLC0415 - loaded only by this command

    report = restore_backup(_settings(home), source, session_file.resolve_principal, force=force)
    if json_out:
        emit_json(report)
        return
    out.print(
        f"restored {report.files} files ({report.bytes} bytes) into {report.home}; schema "
        f"{report.alembic_revision}",
        markup=False,
    )
    if report.moved_aside:
        out.print(f"the previous data directory was moved to {report.moved_aside}", markup=False)
    if report.paths_repointed:
        out.print(f"{report.paths_repointed} uploaded file path(s) now point into {report.home}")
    if report.erasures_replayed:
        out.print(
            f"{report.erasures_replayed} person(s) erased since the backup was made were "
            "erased again (audited as subject.erasure_replayed)"
        )
    if not report.replaced_database:
        made = report.backup_created_at.isoformat() if report.backup_created_at else "then"
        out.print(
            f"warning: no database was replaced, so erasures made after the backup ({made}) "
            "are not known here: re-apply them from your erasure records before searching",
            markup=False,
        )
    out.print("log in again: sessions are not part of a backup")
