"""Who may be put on a watchlist, on what record, and for how long.

Bridges v South Wales Police [2020] EWCA Civ 1058 found "who can be put on
a watchlist" left to officers' discretion unlawful, so entries are allowed
only in fixed categories, each with its provenance and the lawful basis for
holding the image. Children are listed only with a supervisor's recorded
reason, and every entry has a review date (MoPI-style retention).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.case_policy import check_choice

SUBJECT_CATEGORIES: dict[str, str] = {
    "wanted": "Wanted by the police or the courts",
    "suspect": "Suspected of an offence under investigation",
    "missing-or-vulnerable": "A missing or vulnerable person",
    "risk-of-harm": "A risk of harm to themselves or to others",
    "demo": "Demonstration data (demo deployments only)",
}

HOLDING_BASES: dict[str, str] = {
    "custody-image": "Custody photograph taken under PACE 1984 s.64A",
    "court-order": "Image supplied with a warrant or court order",
    "missing-person-report": "Image supplied with a missing-person report",
    "consent": "Given with the person's consent",
    "demo": "Public test data (demo deployments only)",
}

#: Days from listing to the date the entry must be reviewed (or it leaves search).
RETENTION_CLASSES: dict[str, int] = {
    "review-90-days": 90,
    "review-1-year": 365,
    "review-6-years": 6 * 365,
}
DEFAULT_RETENTION_CLASS = "review-1-year"

#: Values that mark demonstration data; refused outside a demo deployment.
DEMO_ONLY = "demo"
ADULT_AGE = 18


@dataclass(frozen=True)
class SubjectProvenance:
    """Where a watchlist entry came from and why it may be held."""

    category: str
    source_system: str
    record_id: str
    holding_basis: str
    taken_on: date | None = None
    date_of_birth: date | None = None
    under_18_reason: str | None = None
    retention_class: str = DEFAULT_RETENTION_CLASS
    labels: dict[str, str] = field(default_factory=dict)

    def review_due(self, listed_on: date) -> date:
        return listed_on + timedelta(days=RETENTION_CLASSES[self.retention_class])


def renewed_review_date(
    review_due_on: date | None, retention_class: str | None, today: date
) -> date | None:
    """Restoring an expired entry is a supervisor's review: it runs a fresh retention period.

    None when the entry's review date has not passed (nothing to renew).
    """
    if review_due_on is None or review_due_on >= today:
        return None
    days = RETENTION_CLASSES.get(retention_class or "", RETENTION_CLASSES[DEFAULT_RETENTION_CLASS])
    return today + timedelta(days=days)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def checked_provenance(
    provenance: SubjectProvenance, today: date, *, demo_deployment: bool
) -> SubjectProvenance:
    """Normalised provenance, or an error naming the missing or forbidden part."""
    category = check_choice(provenance.category, SUBJECT_CATEGORIES, "watchlist category")
    basis = check_choice(provenance.holding_basis, HOLDING_BASES, "holding basis")
    retention = check_choice(provenance.retention_class, RETENTION_CLASSES, "retention class")
    if DEMO_ONLY in (category, basis) and not demo_deployment:
        raise InvalidInputError("the 'demo' category and holding basis exist only for quickstart")
    for label, value in (
        ("source system", provenance.source_system),
        ("record id", provenance.record_id),
    ):
        if not value.strip():
            raise InvalidInputError(f"a watchlist entry needs its {label} (provenance)")
    for label, day in (
        ("image date", provenance.taken_on),
        ("date of birth", provenance.date_of_birth),
    ):
        if day is not None and day > today:
            raise InvalidInputError(f"the {label} {day} is in the future")
    reason = (provenance.under_18_reason or "").strip() or None
    if provenance.date_of_birth is not None and age_on(provenance.date_of_birth, today) < ADULT_AGE:
        if reason is None:
            raise AuthorisationError(
                f"record {provenance.record_id}: the person is under {ADULT_AGE}; listing a "
                "child needs a supervisor's recorded reason (--under-18-reason)"
            )
    else:
        reason = None
    return replace(
        provenance,
        category=category,
        holding_basis=basis,
        retention_class=retention,
        source_system=provenance.source_system.strip(),
        record_id=provenance.record_id.strip(),
        under_18_reason=reason,
        labels=checked_labels(provenance.labels),
    )


def checked_labels(labels: dict[str, Any]) -> dict[str, str]:
    """Operator-supplied demographic labels: short key=value text, never inferred from images."""
    clean: dict[str, str] = {}
    for key, value in labels.items():
        k, v = str(key).strip().lower(), str(value).strip()
        if not k or not v or len(k) > 32 or len(v) > 64:
            raise InvalidInputError(
                f"a label must be key=value (key ≤32, value ≤64 chars): {key!r}"
            )
        clean[k] = v
    return clean


def check_capacity(gallery_name: str, active_subjects: int, cap: int) -> None:
    if active_subjects >= cap:
        raise AuthorisationError(
            f"gallery {gallery_name!r} holds {active_subjects} subjects, its cap; a supervisor "
            "must remove entries or raise the cap ('retroface gallery set-cap')"
        )
