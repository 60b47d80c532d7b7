"""What every CLI command shares: the consoles, opening the app as the logged-in user, JSON output, dates."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from retroface.cli import session_file
from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from retroface.services import App

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document to stdout.")]
KeyFile = Annotated[
    Path | None,
    typer.Option("--key-file", help="HMAC signing key file (default $RETROFACE_AUDIT_KEY)."),
]
Threshold = Annotated[
    float | None, typer.Option(help="Cosine similarity a candidate must reach (default: settings).")
]
MaxCandidates = Annotated[
    int | None, typer.Option("--max-candidates", help="Candidates per face (default 10).")
]
#: Where new evidence came from and who supplied it: required wherever evidence enters a
#: case (search, video ingest), so every evidence item records both (probe_sources.py).
SourceType = Annotated[
    str,
    typer.Option(
        "--source-type",
        help="Where the evidence came from: cctv, body-worn-video, social-media, "
        "public-submission or other. A sketch, composite, artist's impression or "
        "substitute ('looks like') image is refused: search an image of the person sought.",
    ),
]
SuppliedBy = Annotated[
    str,
    typer.Option(
        "--supplied-by", help='Who supplied the evidence (free text, e.g. "DC Smith, Met Police").'
    ),
]


class State:
    home: Path | None = None
    workers: int | None = None
    detector: str | None = None
    embedder: str | None = None


state = State()


def open_cli_app(*, identify: bool = True) -> App:
    from retroface.services import open_app  # noqa: PLC0415 - loaded only by commands that open the app
    from retroface.settings import Settings  # noqa: PLC0415 - loaded only by commands that open the app

    settings = Settings.from_env()
    if state.home is not None:
        settings = settings.with_(home=state.home)
    if state.workers is not None:
        if state.workers < 1:
            raise InvalidInputError("--workers must be at least 1")
        settings = settings.with_(workers=state.workers)
    if state.detector is not None:
        settings = settings.with_(detector=state.detector)
    if state.embedder is not None:
        settings = settings.with_(embedder=state.embedder)
    application = open_app(settings)
    if identify:
        application.principal = session_file.resolve_principal(application)
    return application


def emit_json(model: BaseModel | list[BaseModel]) -> None:
    if isinstance(model, list):
        sys.stdout.write("[" + ",".join(m.model_dump_json() for m in model) + "]\n")
    else:
        sys.stdout.write(model.model_dump_json(indent=2) + "\n")


def parse_day(value: str, option: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise InvalidInputError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from exc


def parse_until(value: str) -> datetime:
    """YYYY-MM-DD means the end of that day (UTC); an ISO time without zone is UTC."""
    return parse_moment(value, "--until", end_of_day=True)


def parse_moment(value: str, option: str, *, end_of_day: bool = False) -> datetime:
    """A date (its start, or its end with ``end_of_day``) or an ISO time; no zone means UTC."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"{option} {value!r} is not a date (YYYY-MM-DD) or ISO time"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
