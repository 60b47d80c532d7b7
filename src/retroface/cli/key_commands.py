"""`retroface keys`: encryption at rest (admin), and opening a sealed face file (its readers)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli.context import JsonFlag, emit_json, open_cli_app, out, state
from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from retroface.services.operations import keys

keys_app = typer.Typer(
    help="Encryption at rest: templates, index files and face files (admin).",
    no_args_is_help=True,
)


def _say(message: str) -> None:
    out.print(message, markup=False)


def _show(status: keys.KeyStatus) -> None:
    if status.state == "plaintext":
        out.print("not encrypted: templates and face files are stored in clear")
    else:
        out.print(
            f"{status.state}: {status.algorithm}, data key {status.key_id}, "
            f"wrapped by key-encryption key {status.kek_id}"
        )
    for label, counts in (
        ("templates", status.templates),
        ("index files", status.index_files),
        ("face files", status.files),
    ):
        out.print(
            f"  {label}: {counts.current_key} under the current key, "
            f"{counts.older_key} under an older key, {counts.plaintext} in clear"
        )
    for note in status.notes:
        out.print(f"  note: {note}", markup=False)


@keys_app.command("status")
def keys_status(json_out: JsonFlag = False) -> None:
    """Whether this data directory is encrypted, its key ids, and what is sealed."""
    from retroface.services.operations import keys  # noqa: PLC0415 - loaded only by this command

    status = keys.key_status(open_cli_app())
    if json_out:
        emit_json(status)
        return
    _show(status)


@keys_app.command("generate")
def keys_generate(
    path: Annotated[Path, typer.Argument(help="New key file (outside the data directory).")],
) -> None:
    """Write a new random key-encryption key file (mode 0600) for RETROFACE_KEY_FILE."""
    from retroface.services.operations import keys  # noqa: PLC0415 - loaded only by this command
    from retroface.settings import Settings  # noqa: PLC0415 - loaded only by this command

    home = state.home or Settings.from_env().home
    keys.write_new_key_file(path, home)
    out.print(f"wrote a new key to {path}: keep it (and a copy) outside the data directory")


@keys_app.command("init")
def keys_init(json_out: JsonFlag = False) -> None:
    """Encrypt this data directory with the configured key (RETROFACE_KEY_FILE or
    RETROFACE_MASTER_KEY), sealing everything stored so far; run again to resume."""
    from retroface.services.operations import keys  # noqa: PLC0415 - loaded only by this command

    report = keys.encrypt_data_directory(open_cli_app(), progress=None if json_out else _say)
    if json_out:
        emit_json(report)
        return
    out.print(
        f"sealed {report.templates_sealed} templates, {report.index_files_sealed} index files "
        f"and {report.files_sealed} face files"
    )
    _show(report.status)


@keys_app.command("rotate")
def keys_rotate(
    new_key_file: Annotated[
        Path | None,
        typer.Option("--new-key-file", help="Re-wrap the data key with the key in this file."),
    ] = None,
    new_data_key: Annotated[
        bool,
        typer.Option("--new-data-key", help="Re-encrypt everything with a fresh data key."),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Rotate the key-encryption key (cheap) or the data key (re-encrypts; resumable)."""
    from retroface.services.operations import keys  # noqa: PLC0415 - loaded only by this command
    from retroface.store.data_protection import load_key_encryption_key  # noqa: PLC0415 - loaded only by this command

    if (new_key_file is None) == (not new_data_key):
        raise InvalidInputError("give exactly one of --new-key-file PATH and --new-data-key")
    application = open_cli_app()
    if new_key_file is not None:
        new_kek = load_key_encryption_key(new_key_file, None)
        assert new_kek is not None
        report = keys.rotate_key_encryption_key(application, new_kek)
    else:
        report = keys.rotate_data_key(application, progress=None if json_out else _say)
    if json_out:
        emit_json(report)
        return
    if new_key_file is not None:
        out.print(
            f"the data key is now wrapped by the key in {new_key_file}: set "
            "RETROFACE_KEY_FILE to it for every retroface process (the old key no longer works)"
        )
    else:
        out.print(
            f"re-encrypted {report.templates_sealed} templates, {report.index_files_sealed} "
            f"index files and {report.files_sealed} face files; the old data key is gone"
        )
    _show(report.status)


@keys_app.command("decrypt")
def keys_decrypt(
    path: Annotated[Path, typer.Argument(help="A contact sheet or case report in the data dir.")],
    out_file: Annotated[Path, typer.Option("--out", help="Plaintext copy to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a plaintext copy of a sealed contact sheet or case report (for those allowed to
    read it; audited: the copy is outside the data directory's protection)."""
    from retroface.services.biometrics.sealed_files import decrypt_protected_file  # noqa: PLC0415 - loaded only by this command

    written = decrypt_protected_file(open_cli_app(), path, out_file, force=force)
    out.print(f"wrote {written}: it holds faces; delete it when done")
