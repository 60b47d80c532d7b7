"""Audit checkpoints as use cases: write one, check the log against them, post them elsewhere.

A checkpoint (governance/audit_checkpoint.py, which explains the design) is
written on demand (``retroface audit checkpoint``), after every audit export,
every ``checkpoint_interval_s`` while the server runs (:class:`CheckpointSchedule`)
and when it shuts down. Each is appended to the checkpoint file and, when
``checkpoint_webhook`` is set, POSTed there from a background thread: a slow or
failing receiver never holds up the writer; a failure is logged and audited
(``audit.checkpoint_webhook_failed``).

:func:`read_checkpoints` then :meth:`CheckpointLog.check` give the
:class:`AnchorStatus` that ``audit verify`` and doctor report. With no key
configured the chain is *unanchored*: a warning, never a failure, so an
installation without checkpoints keeps working.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from retroface.errors import InvalidInputError, RetrofaceError
from retroface.governance.audit_checkpoint import (
    CHECKPOINT_ACTION,
    FAILED_ACTION,
    append_checkpoint,
    check_checkpoints,
    check_locations,
    head_at,
    key_id,
    load_private_key,
    parse_public_key,
    public_key_text,
    read_lines,
    signed_checkpoint,
    write_new_key_file,
)
from retroface.governance.output_files import refuse_inside_data_directory
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.settings import Settings
from retroface.store.models import AuditEvent

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger("retroface.audit")

#: Seconds a webhook POST may take; the writer never waits for it.
WEBHOOK_TIMEOUT_S = 5.0
#: A checkpoint event younger than this may not have its line in the file yet.
LINE_GRACE = timedelta(seconds=60)
UNANCHORED = (
    "unanchored: no checkpoint key is configured (RETROFACE_CHECKPOINT_KEY_FILE, or "
    "RETROFACE_CHECKPOINT_PUBLIC_KEY to check): deleting the log's tail, or rewriting it "
    "and recomputing its hashes, would go unnoticed"
)


class CheckpointOut(BaseModel):
    """A checkpoint just written: the head it signs, where it went."""

    event_id: int
    event_hash: str
    events: int
    at: str
    key_id: str
    file: str
    reason: str
    webhook: bool


class CheckpointProblemOut(BaseModel):
    #: truncated, deleted, rewritten, count, bad-signature, malformed or missing-line.
    kind: str
    #: The checkpoint file's line (0: a checkpoint the log records that the file lacks).
    line: int
    event_id: int | None
    detail: str


class AnchorStatus(BaseModel):
    """The audit log against its signed checkpoints."""

    #: A key to check checkpoints with is configured.
    configured: bool
    #: At least one checkpoint verified and no checkpoint shows tampering.
    anchored: bool
    checkpoint_file: str | None = None
    key_id: str | None = None
    #: Checkpoints whose signature verified and whose event is in the log unchanged.
    checkpoints: int = 0
    last_checkpoint_event_id: int | None = None
    last_checkpoint_at: str | None = None
    #: Events after the last checkpoint's: not anchored yet.
    events_since_checkpoint: int | None = None
    problems: list[CheckpointProblemOut] = []
    warnings: list[str] = []


class CheckpointKeyOut(BaseModel):
    path: str
    public_key: str
    key_id: str
    checkpoint_file: str


# --- keys -----------------------------------------------------------------------------------


def generate_checkpoint_key(path: Path, settings: Settings) -> CheckpointKeyOut:
    """A new Ed25519 key file (0600) outside the data directory; never over an existing file."""
    refuse_inside_data_directory(path, settings, "checkpoint key")
    public = write_new_key_file(path)
    checkpoints = settings.with_(checkpoint_key_file=path).checkpoint_path
    assert checkpoints is not None
    return CheckpointKeyOut(
        path=str(path),
        public_key=public_key_text(public),
        key_id=key_id(public),
        checkpoint_file=str(settings.checkpoint_file or checkpoints),
    )


def _verifying_key(settings: Settings) -> Ed25519PublicKey | None:
    """The public key checkpoints are checked with: configured, or derived from the key file."""
    configured = (
        parse_public_key(settings.checkpoint_public_key) if settings.checkpoint_public_key else None
    )
    if settings.checkpoint_key_file is None:
        return configured
    derived = load_private_key(settings.checkpoint_key_file).public_key()
    if configured is not None and key_id(configured) != key_id(derived):
        raise InvalidInputError(
            "RETROFACE_CHECKPOINT_PUBLIC_KEY is not the public key of "
            f"RETROFACE_CHECKPOINT_KEY_FILE ({settings.checkpoint_key_file})"
        )
    return derived


# --- writing --------------------------------------------------------------------------------


def checkpoint_audit(app: App) -> CheckpointOut:
    """Write a checkpoint now (``retroface audit checkpoint``): auditors, or the admin's job."""
    app.require(Action.AUDIT_CHECKPOINT)
    written = write_checkpoint(app, "on-demand")
    assert written is not None
    return written


def checkpoints_configured(settings: Settings) -> bool:
    return settings.checkpoint_key_file is not None


def write_checkpoint(
    app: App, reason: str, *, only_if_changed: bool = False
) -> CheckpointOut | None:
    """Record ``audit.checkpoint_written``, sign the head it makes, append the line after the
    commit, post it to the webhook in the background.

    No role check of its own: its callers check theirs (the on-demand command, an export),
    or act for no person (the server's schedule and shutdown). With ``only_if_changed``,
    nothing is written while the newest event is already a checkpoint's (an idle server
    adds no events). The design (which head is signed, and why the line is appended only
    after the commit) is in governance/audit_checkpoint.py.
    """
    settings = app.settings
    if settings.checkpoint_key_file is None:
        raise InvalidInputError(
            "no audit checkpoint key is configured: set RETROFACE_CHECKPOINT_KEY_FILE "
            "(make one with 'retroface audit checkpoint-key generate PATH')"
        )
    check_locations(settings)
    path = settings.checkpoint_path
    assert path is not None
    key = load_private_key(settings.checkpoint_key_file)
    kid = key_id(key.public_key())
    with app.unit_of_work() as uow:
        if only_if_changed and _newest_action(uow.session) == CHECKPOINT_ACTION:
            return None
        event = app.audit(
            uow,
            action=CHECKPOINT_ACTION,
            object_type="audit_log",
            object_id=kid,
            reason=reason,
            file=str(path.resolve()),
            key_id=kid,
        )
        head = head_at(uow.session, event)
        record = signed_checkpoint(head, app.now(), key)
        uow.commit()
    try:
        append_checkpoint(path, record)
    except OSError as exc:
        with app.unit_of_work() as uow:
            app.audit(
                uow,
                action=FAILED_ACTION,
                object_type="audit_log",
                object_id=kid,
                checkpoint_event_id=head.event_id,
                file=str(path.resolve()),
                error=exc.strerror or type(exc).__name__,
            )
            uow.commit()
        raise InvalidInputError(
            f"{path}: cannot append the audit checkpoint ({exc.strerror}); recorded as "
            f"{FAILED_ACTION}"
        ) from exc
    if settings.checkpoint_webhook:
        _post_in_background(app, settings.checkpoint_webhook, record)
    return CheckpointOut(
        event_id=head.event_id,
        event_hash=head.event_hash,
        events=head.events,
        at=str(record["at"]),
        key_id=kid,
        file=str(path),
        reason=reason,
        webhook=bool(settings.checkpoint_webhook),
    )


def _newest_action(session: Session) -> str | None:
    return session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1))


# --- the webhook ----------------------------------------------------------------------------

_deliveries: list[threading.Thread] = []
_deliveries_lock = threading.Lock()


def _post_in_background(app: App, url: str, record: dict[str, Any]) -> None:
    thread = threading.Thread(
        target=_post, args=(app, url, record), name="audit-checkpoint-webhook", daemon=True
    )
    with _deliveries_lock:
        _deliveries[:] = [t for t in _deliveries if t.is_alive()]
        _deliveries.append(thread)
    thread.start()


def _post(app: App, url: str, record: dict[str, Any]) -> None:
    import httpx  # noqa: PLC0415 - the HTTP client loads only where a webhook is configured

    host = urlsplit(url).hostname or "?"  # never the whole URL: it may carry a token
    status: int | None = None
    try:
        if urlsplit(url).scheme not in ("http", "https"):
            raise InvalidInputError("not an http(s) URL")
        response = httpx.post(url, json=record, timeout=WEBHOOK_TIMEOUT_S)
        status = response.status_code
        response.raise_for_status()
        return
    except (httpx.HTTPError, InvalidInputError) as exc:
        error = type(exc).__name__
    log.warning(
        "audit checkpoint (event %s) not delivered to the webhook at %s: %s",
        record["event_id"],
        host,
        error,
    )
    try:
        with app.unit_of_work() as uow:
            app.audit(
                uow,
                action="audit.checkpoint_webhook_failed",
                object_type="audit_log",
                object_id=str(record["event_id"]),
                host=host,
                error=error,
                status=status,
            )
            uow.commit()
    except (RetrofaceError, SQLAlchemyError) as exc:  # the process may be closing its database
        log.warning("the webhook failure could not be audited: %s", type(exc).__name__)


def wait_for_webhooks(timeout_s: float = WEBHOOK_TIMEOUT_S + 1.0) -> None:
    """Let posts under way finish (a command or a server about to exit), up to ``timeout_s``."""
    with _deliveries_lock:
        pending = list(_deliveries)
    for thread in pending:
        thread.join(timeout=timeout_s)


# --- checking -------------------------------------------------------------------------------


@dataclass
class CheckpointLog:
    """The checkpoint file as read *before* the log is (see ``check_checkpoints``)."""

    key: Ed25519PublicKey | None
    path: Path | None
    lines: list[str]
    warnings: list[str] = field(default_factory=list)

    def check(self, session: Session, now: datetime) -> AnchorStatus:
        """The log in ``session`` against these checkpoints, at the time ``now``."""
        if self.key is None:
            return AnchorStatus(configured=False, anchored=False, warnings=self.warnings)
        report = check_checkpoints(
            session,
            self.lines,
            self.key,
            file=str(self.path.resolve()) if self.path else None,
            settled_before=now - LINE_GRACE,
        )
        problems = [
            CheckpointProblemOut(kind=p.kind, line=p.line, event_id=p.event_id, detail=p.detail)
            for p in report.problems
        ]
        warnings = list(self.warnings)
        if report.last is None and not problems:
            warnings.append(
                f"unanchored: no checkpoint in {self.path} yet "
                "('retroface audit checkpoint' writes one)"
            )
        return AnchorStatus(
            configured=True,
            anchored=report.last is not None and not problems,
            checkpoint_file=str(self.path) if self.path else None,
            key_id=key_id(self.key),
            checkpoints=report.checkpoints,
            last_checkpoint_event_id=report.last.event_id if report.last else None,
            last_checkpoint_at=report.last.at if report.last else None,
            events_since_checkpoint=report.events_since_last,
            problems=problems,
            warnings=warnings,
        )


def read_checkpoints(settings: Settings) -> CheckpointLog:
    """The key to check with and the checkpoint file's lines (read before the log is)."""
    key = _verifying_key(settings)
    path = settings.checkpoint_path
    if key is None:
        return CheckpointLog(None, path, [], [UNANCHORED])
    if path is None:
        return CheckpointLog(
            key,
            None,
            [],
            ["unanchored: no checkpoint file is configured (RETROFACE_CHECKPOINT_FILE)"],
        )
    return CheckpointLog(key, path, read_lines(path))


# --- the server's schedule ------------------------------------------------------------------


class CheckpointSchedule:
    """A checkpoint every ``checkpoint_interval_s`` from a background thread while the server
    runs, and one when it stops; recorded as ``actor`` (no person acts)."""

    def __init__(self, app: App, *, actor: str = "retroface-server") -> None:
        self.app = replace(app, principal=None, settings=app.settings.with_(actor=actor))
        self.interval_s = app.settings.checkpoint_interval_s
        self.written = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_server(cls, app: App) -> CheckpointSchedule | None:
        """The schedule, or None (and a warning in the log) where no key is configured."""
        if not checkpoints_configured(app.settings):
            log.warning("audit checkpoints are not configured: %s", UNANCHORED)
            return None
        return cls(app)

    def start(self) -> None:
        if self.interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.write("schedule")

    def write(self, reason: str) -> CheckpointOut | None:
        """One checkpoint (none while nothing changed); a failure is logged, never raised,
        so the server keeps running and the next interval tries again."""
        try:
            written = write_checkpoint(self.app, reason, only_if_changed=True)
        except (RetrofaceError, SQLAlchemyError) as exc:
            self.failures += 1
            log.warning("audit checkpoint (%s) failed: %s", reason, exc)
            return None
        if written is not None:
            self.written += 1
        return written

    def stop(self) -> None:
        """End the schedule, write the shutdown checkpoint, let its webhook post finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.write("shutdown")
        wait_for_webhooks()
