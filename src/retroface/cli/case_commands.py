"""``retroface case ...``: open, authorise, record a judicial authorisation, show, close,
write the disclosure pack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retroface.cli import render
from retroface.cli.context import (
    JsonFlag,
    KeyFile,
    emit_json,
    open_cli_app,
    out,
    parse_until,
)
from retroface.governance.case_policy import LAWFUL_BASES, OFFENCE_CATEGORIES, SERIOUSNESS

case_app = typer.Typer(help="Cases and their authorisations.", no_args_is_help=True)


@case_app.command("open")
def case_open(
    reference: str,
    purpose: Annotated[str, typer.Option(help="Why the search is needed.")],
    basis: Annotated[str, typer.Option(help=f"Lawful basis: {', '.join(LAWFUL_BASES)}.")],
    offence: Annotated[
        str, typer.Option(help=f"Offence category: {', '.join(OFFENCE_CATEGORIES)}.")
    ],
    seriousness: Annotated[str, typer.Option(help=f"Seriousness: {', '.join(SERIOUSNESS)}.")],
) -> None:
    """Open a case as its requester (you, an operator); it needs an authorisation before any search."""
    from retroface.services.cases import manage as case_service  # noqa: PLC0415 - loaded only by this command

    detail = case_service.open_case(
        open_cli_app(),
        reference,
        purpose=purpose,
        lawful_basis=basis,
        offence=offence,
        seriousness=seriousness,
    )
    out.print(f"Opened case {detail.reference}; it needs an authorisation before searching")


@case_app.command("authorise")
def case_authorise(
    reference: str,
    until: Annotated[str, typer.Option(help="Last day (YYYY-MM-DD, UTC) or ISO time.")],
    gallery: Annotated[
        list[str] | None,
        typer.Option(help="A gallery the case may search (repeatable; default: any)."),
    ] = None,
    max_searches: Annotated[
        int | None, typer.Option(help="Most searches allowed under this authorisation.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(help="The authorising supervisor: you (must not be the requester)."),
    ] = None,
) -> None:
    """Record who authorised searching under a case: until when, which galleries, how many."""
    from retroface.services.cases import manage as case_service  # noqa: PLC0415 - loaded only by this command

    detail = case_service.authorise_case(
        open_cli_app(),
        reference,
        by=by,
        until=parse_until(until),
        galleries=gallery,
        max_searches=max_searches,
    )
    render.render_case(out, detail)


@case_app.command("judicial")
def case_judicial(
    reference: str,
    authorisation: Annotated[
        str, typer.Option(help="The judicial or administrative authorisation's reference.")
    ],
) -> None:
    """Record the judicial/administrative authorisation (needed within 48 h in EU mode)."""
    from retroface.services.cases import manage as case_service  # noqa: PLC0415 - loaded only by this command

    detail = case_service.record_judicial_authorisation(open_cli_app(), reference, authorisation)
    render.render_case(out, detail)


@case_app.command("assign")
def case_assign(
    reference: str,
    username: Annotated[str, typer.Argument(help="The person to add to the case's team.")],
) -> None:
    """Add a person to a case's team, so they may see and work on it (supervisor on the case)."""
    from retroface.services.cases import manage as case_service  # noqa: PLC0415 - loaded only by this command

    detail = case_service.assign_to_case(open_cli_app(), reference, username)
    out.print(f"{username} is on the team of case {detail.reference}")


@case_app.command("show")
def case_show(reference: str, json_out: JsonFlag = False) -> None:
    """Show a case and its authorisations."""
    from retroface.services.cases import manage as case_service  # noqa: PLC0415 - loaded only by this command

    detail = case_service.show_case(open_cli_app(), reference)
    if json_out:
        emit_json(detail)
    else:
        render.render_case(out, detail)


@case_app.command("close")
def case_close(
    reference: str, reason: Annotated[str, typer.Option(help="Why the case is closed.")]
) -> None:
    """Close a case: no more searches; every probe template of the case is deleted."""
    from retroface.services.cases import manage as case_service  # noqa: PLC0415 - loaded only by this command

    detail = case_service.close_case(open_cli_app(), reference, reason)
    out.print(f"Closed case {detail.reference}; its probe templates are deleted")


@case_app.command("disclosure-pack")
def case_disclosure_pack(
    reference: str,
    key_file: KeyFile = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write a plaintext copy here (outside the data directory; audited).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Write the case's disclosure pack (one zip: the report as PDF and HTML, the evidence
    hashes, the case's signed audit extract, the evidence images with every face but the
    candidates' probes blurred) inside the data directory: it holds faces."""
    from retroface.governance.audit_export import load_signing_key  # noqa: PLC0415 - loaded only by this command
    from retroface.services.cases.disclosure import disclosure_pack  # noqa: PLC0415 - loaded only by this command

    pack = disclosure_pack(
        open_cli_app(), reference, load_signing_key(key_file), out=out_file, force=force
    )
    if json_out:
        emit_json(pack)
        return
    out.print(
        f"{pack.candidates} candidates, {pack.evidence_files} evidence files, "
        f"{pack.redacted_images} images ({pack.faces_blurred} faces blurred), "
        f"{pack.audit_events} audit events; wrote {pack.path} (SHA-256 {pack.sha256})",
        markup=False,
    )
    if pack.out:
        out.print(f"copied to {pack.out}: it holds faces; delete it when done", markup=False)
    for missing in pack.missing:
        out.print(f"not included: {missing}", markup=False)
