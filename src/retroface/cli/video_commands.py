"""``retroface video``: ingest footage into a case and find a person across it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retroface.cli import render
from retroface.cli.context import JsonFlag, Threshold, emit_json, err, open_cli_app, out
from retroface.cli.progress_bar import RichProgress
from retroface.services.video_ingest import IngestOptions, ingest_videos
from retroface.services.video_search import find_person

video_app = typer.Typer(help="Footage: ingest, and find people across it.", no_args_is_help=True)


@video_app.command("ingest")
def video_ingest(
    footage: Annotated[list[Path], typer.Argument(help="Video files or folders.")],
    case: Annotated[str, typer.Option("--case", help="Case reference.")],
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
    json_out: JsonFlag = False,
) -> None:
    """Scan footage into sightings (resumable: run it again after an interruption)."""
    report = ingest_videos(
        open_cli_app(),
        case,
        footage,
        IngestOptions(sampling=sampling, segment_s=segment_s, dask_address=dask),
        progress=RichProgress(err),
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
    report = find_person(open_cli_app(), case, gallery, subject, threshold=threshold)
    if json_out:
        emit_json(report)
    else:
        render.render_timeline(out, report)
