"""A rich progress bar on stderr (stdout stays clean for --json)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    """Throughput: files per second, or for footage the real-time factor."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        if not speed:
            return Text("")
        if task.fields.get("unit") == "s of video":
            return Text(f"{speed:.1f}x real time")
        return Text(f"{speed:.1f}/s")


class RichProgress:
    """Implements services.progress.Progress; silent when stderr is not a terminal."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        self.finish()
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
            disable=not self._console.is_terminal,
        )
        self._bar.start()
        unit = "s of video" if "video" in description.lower() else "files"
        self._task = self._bar.add_task(description, total=total, unit=unit)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, steps)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None
