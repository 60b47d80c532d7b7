"""What a doctor check reports (a named finding, its count and its repair), and how a repair is audited."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, computed_field

from retroface.services.app import App
from retroface.store.unit_of_work import UnitOfWork

#: How long work must sit untouched before doctor treats it as left by a stopped process.
DEFAULT_STALE_AFTER = timedelta(minutes=60)
#: Ids or paths shown per finding (the count is always complete).
MAX_EXAMPLES = 10
INTERRUPTED = "interrupted"
INDEX_FILE = re.compile(r"^gallery-(\d+)-(.+)\.faiss$")

Status = Literal["ok", "problem", "not-applicable"]


class Finding(BaseModel):
    """One named check: what it found, and what ``--repair`` does (or why it cannot)."""

    name: str
    status: Status
    count: int = 0
    detail: str
    repair: str
    repaired: int = 0
    examples: list[str] = []


class DoctorReport(BaseModel):
    home: str
    database: str
    repair: bool
    stale_after_minutes: float
    findings: list[Finding]
    #: Findings still failing (after repair, when asked): the exit code is non-zero if any.
    problems: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.problems == 0


Repair = Callable[[], int]


def make_finding(
    name: str,
    problems: Sequence[object],
    *,
    ok: str,
    found: str,
    repair: str,
) -> Finding:
    """A finding from the list of problem ids/paths (empty = ok)."""
    return Finding(
        name=name,
        status="problem" if problems else "ok",
        count=len(problems),
        detail=found.format(n=len(problems)) if problems else ok,
        repair=repair,
        examples=[str(p) for p in list(problems)[:MAX_EXAMPLES]],
    )


def record_repair(uow: UnitOfWork, app: App, name: str, count: int, **details: Any) -> None:
    app.audit(
        uow,
        action="maintenance.repaired",
        object_type="doctor_finding",
        object_id=name,
        repaired=count,
        **details,
    )
