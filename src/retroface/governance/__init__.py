"""Policy that every interface must pass through: authorisation checks and the audit log.

Knows nothing of HTTP or the CLI; the services layer calls it inside the
same unit of work as the change it governs.

The names below are imported from their modules on first use (PEP 562), so importing one
module of the package does not load the others (the role matrix and the fixed lists need no database).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retroface.lazy_names import lazy_names

if TYPE_CHECKING:
    from retroface.governance.audit import record_event
    from retroface.governance.case_policy import (
        LAWFUL_BASES,
        check_authoriser,
        check_case_searchable,
        check_lawful_basis,
    )

#: Where each name below lives; it is imported from there on first use.
_SOURCES = {
    "record_event": "retroface.governance.audit",
    "LAWFUL_BASES": "retroface.governance.case_policy",
    "check_authoriser": "retroface.governance.case_policy",
    "check_case_searchable": "retroface.governance.case_policy",
    "check_lawful_basis": "retroface.governance.case_policy",
}

__all__ = [
    "LAWFUL_BASES",
    "check_authoriser",
    "check_case_searchable",
    "check_lawful_basis",
    "record_event",
]


if not TYPE_CHECKING:  # type checkers read the imports above (a __getattr__ would admit any name)
    __getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)
