"""The fixed lists a watchlist entry is described with, for interfaces to offer as choices."""

from __future__ import annotations

from retroface.governance.watchlist_policy import (
    DEFAULT_RETENTION_CLASS,
    HOLDING_BASES,
    RETENTION_CLASSES,
    SUBJECT_CATEGORIES,
    SubjectProvenance,
)

__all__ = [
    "DEFAULT_RETENTION_CLASS",
    "SubjectProvenance",
    "holding_bases",
    "retention_classes",
    "subject_categories",
]


def subject_categories() -> list[str]:
    return list(SUBJECT_CATEGORIES)


def holding_bases() -> list[str]:
    return list(HOLDING_BASES)


def retention_classes() -> list[str]:
    return list(RETENTION_CLASSES)
