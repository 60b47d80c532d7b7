"""The gallery change log's vocabulary, and replaying it into the subjects searchable.

Why here, in the store: the log is how the database records who was in a gallery at
each version; the services that change galleries write it, and both the "who was
searchable at version N" question and the per-process count of active subjects
(services/biometrics/gallery_index.py) read it back the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Changes that put a subject into search, and those that take them out.
JOINS = frozenset({"subject-added", "subject-restored"})
LEAVES = frozenset({"subject-removed", "subject-purged", "subject-erased", "subject-merged"})


def replay(changes: Iterable[tuple[int, str]]) -> set[int]:
    """The subjects searchable after these (subject, change) rows, oldest first: a leave
    of someone already gone changes nothing (a purge after a removal)."""
    present: set[int] = set()
    for subject_id, change in changes:
        if change in JOINS:
            present.add(subject_id)
        elif change in LEAVES:
            present.discard(subject_id)
    return present
