"""Need to know: who may see and act on a case, beyond what their role allows.

A role says what kind of work a person does; it does not make every case
their business. Access to a case's material is limited to those with a
policing purpose for it (College of Policing APP on information management;
the Data Protection Act 2018 s.35-40 purpose limitation for law enforcement
processing): its team. The team of a case is

* its requester (the operator who opened it) and the people a supervisor
  assigned to it;
* the supervisors who authorised it (while it awaits an authorisation, every
  supervisor may see it, so one can take it up);
* reviewers, while the case has candidates (review work reaches them through
  the queue, candidate by candidate);
* auditors, whose oversight covers every case.

Admins do no case work at all (their role refuses every case action).
"""

from __future__ import annotations

from dataclasses import dataclass

from retroface.governance.identity import Principal
from retroface.governance.roles import Role


@dataclass(frozen=True)
class CaseTeam:
    """Who belongs to one case, as plain names (case-folded comparisons)."""

    reference: str
    requester: str
    members: frozenset[str]
    authorisers: frozenset[str]
    has_candidates: bool


def on_case_team(principal: Principal, team: CaseTeam) -> bool:
    """Whether ``principal`` has a need to know ``team``'s case."""
    name = principal.username.casefold()
    named = {team.requester.casefold()} | {m.casefold() for m in team.members}
    if principal.role is Role.AUDITOR:
        return True
    if principal.role is Role.OPERATOR:
        return name in named
    if principal.role is Role.SUPERVISOR:
        authorisers = {a.casefold() for a in team.authorisers}
        return not authorisers or name in authorisers or name in named
    if principal.role is Role.REVIEWER:
        return team.has_candidates or name in named
    return False
