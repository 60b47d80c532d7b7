"""What a deployment must have on record before anyone may search.

A DPIA (UK GDPR Art 35 / DPA 2018 s.64) and a published policy document
(College of Policing APP; Bridges v South Wales Police [2020] EWCA Civ 1058
found the absence of clear policy unlawful) must exist and be in date; an
admin sets a threshold floor that no operator may go below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from retroface.errors import AuthorisationError, InvalidInputError


@dataclass(frozen=True)
class DpiaRecord:
    identifier: str
    version: str
    approved_on: date
    review_due_on: date

    def as_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "version": self.version,
            "approved_on": self.approved_on.isoformat(),
            "review_due_on": self.review_due_on.isoformat(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> DpiaRecord:
        return cls(
            identifier=str(value["identifier"]),
            version=str(value["version"]),
            approved_on=date.fromisoformat(value["approved_on"]),
            review_due_on=date.fromisoformat(value["review_due_on"]),
        )


def checked_dpia(record: DpiaRecord, today: date) -> DpiaRecord:
    if not record.identifier.strip() or not record.version.strip():
        raise InvalidInputError("a DPIA needs an identifier and a version")
    if record.approved_on > today:
        raise InvalidInputError("the DPIA's approval date is in the future")
    if record.review_due_on <= record.approved_on:
        raise InvalidInputError("the DPIA's review date must come after its approval date")
    return DpiaRecord(
        record.identifier.strip(), record.version.strip(), record.approved_on, record.review_due_on
    )


def check_deployment_ready(dpia: DpiaRecord | None, policy: str | None, today: date) -> None:
    """Refuse searching until a DPIA and a policy document are on record and in date."""
    if dpia is None:
        raise AuthorisationError(
            "searching is refused: no DPIA is registered; an admin must run "
            "'retroface deployment dpia --id ID --version V --approved DATE --review-due DATE'"
        )
    if dpia.review_due_on < today:
        raise AuthorisationError(
            f"searching is refused: DPIA {dpia.identifier} v{dpia.version} was due for review "
            f"on {dpia.review_due_on}; register the reviewed DPIA"
        )
    if not policy:
        raise AuthorisationError(
            "searching is refused: no policy document is registered; an admin must run "
            "'retroface deployment policy REFERENCE'"
        )


def check_threshold(threshold: float, floor: float) -> float:
    """Operators may raise the threshold, never take it below the admin's floor."""
    if not -1.0 <= threshold <= 1.0:
        raise InvalidInputError(f"the threshold is a cosine similarity in [-1, 1], got {threshold}")
    if threshold < floor:
        raise AuthorisationError(
            f"threshold {threshold} is below the deployment's floor of {floor}; "
            "only an admin can lower the floor"
        )
    return threshold
