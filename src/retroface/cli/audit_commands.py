"""``retroface audit``: verify the chain and its checkpoints, export it signed, checkpoint it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli.context import JsonFlag, KeyFile, emit_json, open_cli_app, out, state

if TYPE_CHECKING:
    from retroface.services.oversight.audit_checkpoints import AnchorStatus

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
checkpoint_key_app = typer.Typer(
    help="The Ed25519 key that signs audit checkpoints (kept outside the data directory).",
    no_args_is_help=True,
)
audit_app.add_typer(checkpoint_key_app, name="checkpoint-key")

Force = Annotated[bool, typer.Option("--force", help="Replace an existing file.")]


def _say(message: str) -> None:
    out.print(message, markup=False)


def _anchor_lines(anchor: AnchorStatus) -> None:
    for problem in anchor.problems:
        _say(f"checkpoint problem ({problem.kind}): {problem.detail}")
    if anchor.anchored:
        _say(
            f"anchored: {anchor.checkpoints} signed checkpoint(s) in {anchor.checkpoint_file}, "
            f"the last at {anchor.last_checkpoint_at} (event {anchor.last_checkpoint_event_id}); "
            f"{anchor.events_since_checkpoint} event(s) since (not anchored yet)"
        )
    for warning in anchor.warnings:
        _say(f"warning: {warning}")


@audit_app.command("verify")
def audit_verify(json_out: JsonFlag = False) -> None:
    """Check the hash chain and every signed checkpoint; exit 1 and name what was tampered
    with (a bad event, a truncated or re-chained log, an altered checkpoint)."""
    from retroface.services.oversight import audit_log as audit_service  # noqa: PLC0415 - loaded only by this command

    status = audit_service.verify_audit(open_cli_app())
    if json_out:
        emit_json(status)
    else:
        if status.first_bad_id is not None:
            _say(f"audit chain BROKEN at event {status.first_bad_id}: {status.reason}")
        elif status.ok:
            _say(f"audit chain intact: {status.events} events, head {status.head[:16]}")
        else:
            _say(f"audit log TAMPERED: {status.events} events left; {status.reason}")
        _anchor_lines(status.anchor)
    if not status.ok:
        raise typer.Exit(code=1)


@audit_app.command("export")
def audit_export(
    out_file: Annotated[
        Path, typer.Argument(help="JSON-lines file to write (outside the data directory).")
    ],
    key_file: KeyFile = None,
    force: Force = False,
) -> None:
    """Write the whole log as JSON lines with an HMAC-SHA256 signature line; then a signed
    checkpoint, where a checkpoint key is configured."""
    from retroface.governance.audit_export import load_signing_key  # noqa: PLC0415 - loaded only by this command
    from retroface.services.oversight import audit_log as audit_service  # noqa: PLC0415 - loaded only by this command
    from retroface.services.oversight.audit_checkpoints import wait_for_webhooks  # noqa: PLC0415 - loaded only by this command

    result = audit_service.export_audit(
        open_cli_app(), out_file, load_signing_key(key_file), force=force
    )
    _say(f"exported {result.events} events to {result.path}; head {result.head[:16]}")
    if result.checkpoint is not None:
        _say(f"checkpoint at event {result.checkpoint.event_id} in {result.checkpoint.file}")
        wait_for_webhooks()


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
    _say(f"signature {verdict}: {result.events} events, head {result.head[:16]}")
    if not result.signature_valid:
        raise typer.Exit(code=1)


@audit_app.command("checkpoint")
def audit_checkpoint(json_out: JsonFlag = False) -> None:
    """Sign the chain head now with RETROFACE_CHECKPOINT_KEY_FILE and append it to the
    checkpoint file (auditor or admin; safe from cron)."""
    from retroface.services.oversight.audit_checkpoints import (  # noqa: PLC0415 - loaded only by this command
        checkpoint_audit,
        wait_for_webhooks,
    )

    written = checkpoint_audit(open_cli_app())
    if json_out:
        emit_json(written)
    else:
        _say(
            f"checkpoint: event {written.event_id} of {written.events}, head "
            f"{written.event_hash[:16]}, key {written.key_id}, appended to {written.file}"
        )
    if written.webhook:
        wait_for_webhooks()


@checkpoint_key_app.command("generate")
def checkpoint_key_generate(
    path: Annotated[
        Path, typer.Argument(help="New key file (outside the data directory; mode 0600).")
    ],
    json_out: JsonFlag = False,
) -> None:
    """Write a new Ed25519 private key for RETROFACE_CHECKPOINT_KEY_FILE and print its public
    key (give that to whoever checks the checkpoints: RETROFACE_CHECKPOINT_PUBLIC_KEY)."""
    from retroface.services.oversight.audit_checkpoints import generate_checkpoint_key  # noqa: PLC0415 - loaded only by this command
    from retroface.settings import Settings  # noqa: PLC0415 - loaded only by this command

    settings = Settings.from_env()
    if state.home is not None:
        settings = settings.with_(home=state.home)
    generated = generate_checkpoint_key(path, settings)
    if json_out:
        emit_json(generated)
        return
    _say(f"wrote a new checkpoint key to {generated.path} (key id {generated.key_id})")
    _say(f"public key: {generated.public_key}")
    _say(
        f"set RETROFACE_CHECKPOINT_KEY_FILE={generated.path}; checkpoints go to "
        f"{generated.checkpoint_file} unless RETROFACE_CHECKPOINT_FILE names another file "
        "(outside the data directory)"
    )
