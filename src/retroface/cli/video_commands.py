"""``retroface video``: ingest footage into a case and find a person across it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retroface.cli import render
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
)
from retroface.cli.progress_bar import RichProgress

if TYPE_CHECKING:
    from retroface.services.results import ClusterReport

video_app = typer.Typer(help="Footage: ingest, and find people across it.", no_args_is_help=True)


@video_app.command("ingest")
def video_ingest(
    footage: Annotated[list[Path], typer.Argument(help="Video files or folders.")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    source_type: SourceType,
    supplied_by: SuppliedBy,
    sampling: Annotated[
        str | None,
        typer.Option(help="Frames to analyse: all, keyframes, every:N or fps:N (default fps:5)."),
    ] = None,
    segment_s: Annotated[
        float | None, typer.Option(help="Seconds of footage per unit of parallel work.")
    ] = None,
    dask: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786) to run on.")
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(
            "--fps",
            help="Frame rate of raw H.264/H.265 streams (.264, .h265...), which carry no "
            "timestamps: frame i is read as i/FPS seconds, and recorded as such. Required for "
            "them; files with timestamps ignore it.",
        ),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Scan footage into sightings (resumable: run it again after an interruption)."""
    from retroface.services.video.ingest import IngestOptions, ingest_videos  # noqa: PLC0415 - loaded only by this command

    report = ingest_videos(
        open_cli_app(),
        case,
        footage,
        IngestOptions(sampling=sampling, segment_s=segment_s, dask_address=dask, fps=fps),
        progress=RichProgress(err),
        source_type=source_type,
        supplied_by=supplied_by,
    )
    if json_out:
        emit_json(report)
    else:
        render.render_ingest(out, report)
    if report.errors:
        raise typer.Exit(1)


@video_app.command("find")
def video_find(
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    gallery: Annotated[str, typer.Option("--gallery", help="Gallery holding the person.")],
    subject: Annotated[str, typer.Option("--subject", help="The gallery subject to find.")],
    threshold: Threshold = None,
    json_out: JsonFlag = False,
) -> None:
    """Where and when a gallery subject appears in the case's ingested footage."""
    from retroface.services.search.footage import find_person  # noqa: PLC0415 - loaded only by this command

    report = find_person(open_cli_app(), case, gallery, subject, threshold=threshold)
    if json_out:
        emit_json(report)
    else:
        render.render_timeline(out, report)


@video_app.command("search")
def video_search(
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    gallery: Annotated[str, typer.Option("--gallery", help="Gallery to search.")],
    sighting: Annotated[
        list[int],
        typer.Option(
            "--sighting",
            help="A sighting of the case's footage to search (repeat for several; ids from "
            "'video clusters' or a footage search). The others are not searched.",
        ),
    ],
    one_person: Annotated[
        bool,
        typer.Option(
            "--one-person",
            help="The sightings are one unknown person: search them as one fused probe.",
        ),
    ] = False,
    threshold: Threshold = None,
    max_candidates: MaxCandidates = None,
    low_quality_reason: Annotated[
        str | None,
        typer.Option(help="Search sightings too poor to search reliably too, for this reason."),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Search only the chosen sightings of the case's ingested footage against a gallery."""
    from retroface.services.search.sightings import search_sightings  # noqa: PLC0415 - loaded only by this command

    report = search_sightings(
        open_cli_app(),
        case,
        gallery,
        sighting,
        threshold=threshold,
        max_candidates=max_candidates,
        low_quality_justification=low_quality_reason,
        one_person=one_person,
    )
    if json_out:
        emit_json(report)
    else:
        render.render_search(out, report)


def _clusters(report: ClusterReport, json_out: bool) -> None:
    if json_out:
        emit_json(report)
    else:
        render.render_clusters(out, report)


@video_app.command("cluster")
def video_cluster(
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    min_similarity: Annotated[
        float, typer.Option(help="Link two sightings above this cosine similarity.")
    ] = 0.92,
    json_out: JsonFlag = False,
) -> None:
    """Group the case's sightings into probable people (replaces earlier groups)."""
    from retroface.services.video import clusters as video_clusters  # noqa: PLC0415 - loaded only by this command

    _clusters(video_clusters.cluster_case(open_cli_app(), case, min_similarity), json_out)


@video_app.command("clusters")
def video_clusters_list(
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    json_out: JsonFlag = False,
) -> None:
    """Show the case's clusters, people in most files first."""
    from retroface.services.video import clusters as video_clusters  # noqa: PLC0415 - loaded only by this command

    _clusters(video_clusters.list_clusters(open_cli_app(), case), json_out)


@video_app.command("merge")
def video_merge(
    into: Annotated[int, typer.Argument(help="Cluster to keep.")],
    other: Annotated[int, typer.Argument(help="Cluster that is the same person.")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    json_out: JsonFlag = False,
) -> None:
    """Record that two clusters are one person."""
    from retroface.services.video import clusters as video_clusters  # noqa: PLC0415 - loaded only by this command

    _clusters(video_clusters.merge_clusters(open_cli_app(), case, into, other), json_out)


@video_app.command("split")
def video_split(
    cluster: Annotated[int, typer.Argument(help="Cluster to split.")],
    sighting: Annotated[list[int], typer.Option(help="Sighting to move out (repeatable).")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
    json_out: JsonFlag = False,
) -> None:
    """Record that some sightings of a cluster are someone else (they form a new cluster)."""
    from retroface.services.video import clusters as video_clusters  # noqa: PLC0415 - loaded only by this command

    _clusters(video_clusters.split_cluster(open_cli_app(), case, cluster, sighting), json_out)


@video_app.command("sheet")
def video_sheet(
    cluster: Annotated[int, typer.Argument(help="Cluster to show.")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
) -> None:
    """Write a contact sheet (PNG of the cluster's best views) inside the data directory."""
    from retroface.services.video import clusters as video_clusters  # noqa: PLC0415 - loaded only by this command

    path = video_clusters.contact_sheet(open_cli_app(), case, cluster)
    out.print(f"wrote {path}")
