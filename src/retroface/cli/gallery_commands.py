"""``retroface gallery ...``: watchlists, their entries' provenance, caps, versions and erasure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retroface.cli import render
from retroface.cli.context import JsonFlag, emit_json, err, open_cli_app, out, parse_day
from retroface.cli.progress_bar import RichProgress
from retroface.errors import InvalidInputError
from retroface.services.galleries.watchlist_terms import (
    DEFAULT_RETENTION_CLASS,
    SubjectProvenance,
    holding_bases,
    retention_classes,
    subject_categories,
)

gallery_app = typer.Typer(help="Galleries (watchlists) of known identities.", no_args_is_help=True)


@gallery_app.command("create")
def gallery_create(
    name: str,
    description: Annotated[str, typer.Option(help="What the gallery holds.")] = "",
    max_subjects: Annotated[
        int | None, typer.Option(help="Cap on active subjects (default: the deployment's).")
    ] = None,
) -> None:
    """Create an empty gallery."""
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    summary = gallery_service.create_gallery(
        open_cli_app(), name, description, max_subjects=max_subjects
    )
    out.print(f"Created gallery {summary.name} (cap {summary.max_subjects} subjects)")


@gallery_app.command("set-cap")
def gallery_set_cap(name: str, max_subjects: int) -> None:
    """Change the most active subjects a gallery may hold."""
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    summary = gallery_service.set_gallery_cap(open_cli_app(), name, max_subjects)
    out.print(f"Gallery {summary.name}: cap {summary.max_subjects}, {summary.subjects} subjects")


@gallery_app.command("live-watchlist")
def gallery_live_watchlist(
    name: str, state: Annotated[str, typer.Argument(help="on | off")]
) -> None:
    """Mark a gallery as a watchlist live deployments may use (its live cap applies)."""
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    if state.lower() not in {"on", "off"}:
        raise InvalidInputError("give 'on' or 'off'")
    summary = gallery_service.set_live_watchlist(open_cli_app(), name, state.lower() == "on")
    out.print(
        f"Gallery {summary.name}: live watchlist {state.lower()}, cap {summary.max_subjects}, "
        f"{summary.subjects} subjects"
    )


@gallery_app.command("list")
def gallery_list(json_out: JsonFlag = False) -> None:
    """List galleries with their sizes."""
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    galleries = gallery_service.list_galleries(open_cli_app())
    if json_out:
        emit_json(list(galleries))
    else:
        render.render_galleries(out, galleries)


@gallery_app.command("show")
def gallery_show(name: str, json_out: JsonFlag = False) -> None:
    """Show a gallery's subjects."""
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    detail = gallery_service.show_gallery(open_cli_app(), name)
    if json_out:
        emit_json(detail)
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
    provenance_csv: Annotated[
        Path | None,
        typer.Option(
            "--provenance",
            help="CSV with one row per new subject: subject, category, source_system, "
            "record_id, holding_basis [, taken_on, date_of_birth, under_18_reason, "
            "retention_class, labels].",
        ),
    ] = None,
    category: Annotated[
        str | None, typer.Option(help=f"Category: {', '.join(subject_categories())}.")
    ] = None,
    source_system: Annotated[
        str | None, typer.Option(help="System the image comes from (e.g. custody).")
    ] = None,
    record_id: Annotated[str | None, typer.Option(help="The record id in that system.")] = None,
    holding_basis: Annotated[
        str | None, typer.Option(help=f"Why it may be held: {', '.join(holding_bases())}.")
    ] = None,
    taken_on: Annotated[str | None, typer.Option(help="Date the photo was taken.")] = None,
    date_of_birth: Annotated[str | None, typer.Option(help="YYYY-MM-DD, if known.")] = None,
    under_18_reason: Annotated[
        str | None, typer.Option(help="Required to list a person under 18.")
    ] = None,
    retention: Annotated[
        str, typer.Option(help=f"Review class: {', '.join(retention_classes())}.")
    ] = DEFAULT_RETENTION_CLASS,
    label: Annotated[
        list[str] | None,
        typer.Option(help="Operator-supplied demographic label key=value (repeatable)."),
    ] = None,
    quality_override: Annotated[
        str | None,
        typer.Option(
            help="Enrol faces below the reference quality floor too, for this recorded reason."
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address (tcp://host:8786): analyse the images on its workers, "
            "which must see the same paths."
        ),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Enroll reference images (resumable: re-running skips what is already enrolled).

    A new subject needs its provenance: the options for one subject, or
    --provenance for many.
    """
    from retroface.services.galleries.enrol import enroll as enroll_service  # noqa: PLC0415 - loaded only by this command
    from retroface.services.galleries.provenance import parse_labels, read_provenance_csv  # noqa: PLC0415 - loaded only by this command

    given: SubjectProvenance | dict[str, SubjectProvenance] | None = None
    if provenance_csv is not None:
        given = read_provenance_csv(provenance_csv)
    elif category or source_system or record_id or holding_basis:
        given = SubjectProvenance(
            category=category or "",
            source_system=source_system or "",
            record_id=record_id or "",
            holding_basis=holding_basis or "",
            taken_on=parse_day(taken_on, "--taken-on") if taken_on else None,
            date_of_birth=parse_day(date_of_birth, "--date-of-birth") if date_of_birth else None,
            under_18_reason=under_18_reason,
            retention_class=retention,
            labels=parse_labels(";".join(label or [])),
        )
    report = enroll_service(
        open_cli_app(),
        name,
        paths,
        subject=subject,
        provenance=given,
        progress=RichProgress(err),
        quality_override=quality_override,
        dask_address=dask,
    )
    if json_out:
        emit_json(report)
    else:
        render.render_enroll(out, report)


@gallery_app.command("manifest")
def gallery_manifest(
    name: str,
    version: Annotated[int | None, typer.Option(help="Gallery version (default: current).")] = None,
) -> None:
    """Print (as JSON) who was searchable in a gallery at a version: ids and source records."""
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    emit_json(gallery_service.gallery_manifest(open_cli_app(), name, version))


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
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    _confirm(final and not yes, f"Permanently delete every image and template of {subject!r}?")
    action = gallery_service.remove_subject(open_cli_app(), name, subject, final=final)
    if action == "subject.purged":
        out.print(f"Deleted the images and templates of {subject} (final)")
    else:
        out.print(f"Removed {subject} from search; 'gallery restore-subject' undoes this")


@gallery_app.command("restore-subject")
def gallery_restore_subject(name: str, subject: str) -> None:
    """Undo a (non-final) removal."""
    from retroface.services.galleries import manage as gallery_service  # noqa: PLC0415 - loaded only by this command

    gallery_service.restore_subject(open_cli_app(), name, subject)
    out.print(f"Restored {subject} in {name}")


@gallery_app.command("erase-subject")
def gallery_erase_subject(
    name: str,
    subject: str,
    request: Annotated[str, typer.Option(help="Reference of the erasure request.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person everywhere they are listed (same source record), for good."""
    from retroface.services.galleries.erase import erase_subject  # noqa: PLC0415 - loaded only by this command

    _confirm(not yes, f"Erase {subject!r} from every gallery, for good?")
    report = erase_subject(open_cli_app(), name, subject, request)
    out.print(
        f"Erased subject(s) {', '.join(map(str, report.subject_ids))}: "
        f"{report.images_deleted} images, {report.templates_deleted} templates deleted"
    )


@gallery_app.command("duplicates")
def gallery_duplicates(
    name: str,
    target_fpir: Annotated[
        float,
        typer.Option(
            help="Chance that a subject with no other record is reported anyway; a gallery "
            "of N subjects gives about N x this many false pairs."
        ),
    ] = 1e-4,
    json_out: JsonFlag = False,
) -> None:
    """Find records that look like one person (aliases, duplicates): each pair is a lead for a
    person to decide with `gallery duplicate-decide`, never merged automatically."""
    from retroface.services.galleries.duplicates import find_duplicates  # noqa: PLC0415 - loaded only by this command

    report = find_duplicates(
        open_cli_app(), name, target_fpir=target_fpir, progress=RichProgress(err)
    )
    if json_out:
        emit_json(report)
    else:
        render.render_duplicates(out, report)


@gallery_app.command("duplicate-decide")
def gallery_duplicate_decide(
    name: str,
    subject_a: Annotated[str, typer.Argument(help="The record that continues (for a merge).")],
    subject_b: Annotated[str, typer.Argument(help="The other record of the pair.")],
    decision: Annotated[str, typer.Option(help="merge (b into a) or distinct.")],
    reason: Annotated[str, typer.Option(help="What the images show (recorded).")],
) -> None:
    """Decide a reported pair: merge the second record into the first, or mark them distinct."""
    from retroface.services.galleries.duplicates import decide_duplicate  # noqa: PLC0415 - loaded only by this command

    done = decide_duplicate(open_cli_app(), name, subject_a, subject_b, decision, reason)
    out.print(
        f"Decision {done.id}: {done.subject_a} and {done.subject_b} {done.decision}"
        + (f" ({done.moved_images} image(s) moved)" if done.decision == "merge" else "")
        + f"; gallery version {done.gallery_version}"
    )


@gallery_app.command("duplicate-undo")
def gallery_duplicate_undo(
    decision_id: int,
    reason: Annotated[str, typer.Option(help="Why the decision is withdrawn (recorded).")],
) -> None:
    """Withdraw a duplicate decision: a merge's images go back and the record returns."""
    from retroface.services.galleries.duplicates import undo_duplicate_decision  # noqa: PLC0415 - loaded only by this command

    done = undo_duplicate_decision(open_cli_app(), decision_id, reason)
    out.print(
        f"Withdrew decision {done.id} ({done.decision}) on {done.subject_a} / {done.subject_b}"
    )


def _confirm(ask: bool, question: str) -> None:
    if ask and not typer.confirm(question, err=True):
        raise InvalidInputError("nothing deleted")
