"""Policy that every interface must pass through: authorisation checks and the audit log.

Knows nothing of HTTP or the CLI; the services layer calls it inside the
same unit of work as the change it governs.
"""

from retroface.governance.audit import record_event
from retroface.governance.case_policy import (
    LAWFUL_BASES,
    check_authoriser,
    check_case_searchable,
    check_lawful_basis,
)

__all__ = [
    "LAWFUL_BASES",
    "check_authoriser",
    "check_case_searchable",
    "check_lawful_basis",
    "record_event",
]
