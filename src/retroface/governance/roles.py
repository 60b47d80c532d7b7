"""Who may do what: the role matrix every service action is checked against.

Separation of duties follows the College of Policing APP on facial
recognition: the person who runs a search does not review it, a supervisor
authorises, an auditor reads everything and changes nothing, and an admin
runs the system but never searches or reviews.
"""

from __future__ import annotations

from enum import StrEnum

from retroface.errors import AuthorisationError


class Role(StrEnum):
    OPERATOR = "operator"
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Action(StrEnum):
    CASE_OPEN = "case.open"
    CASE_AUTHORISE = "case.authorise"
    CASE_READ = "case.read"
    CASE_CLOSE = "case.close"
    CASE_RECORD_JUDICIAL = "case.record_judicial"
    CASE_ASSIGN = "case.assign"
    GALLERY_CREATE = "gallery.create"
    GALLERY_ENROLL = "gallery.enroll"
    GALLERY_REMOVE_SUBJECT = "gallery.remove_subject"
    GALLERY_READ = "gallery.read"
    GALLERY_CONFIGURE = "gallery.configure"
    GALLERY_MANIFEST = "gallery.manifest"
    SUBJECT_ERASE = "subject.erase"
    SEARCH_RUN = "search.run"
    VERIFY_RUN = "verify.run"
    EVALUATION_RUN = "evaluation.run"
    VIDEO_INGEST = "video.ingest"
    VIDEO_CLUSTER = "video.cluster"
    REVIEW_READ = "review.read"
    REVIEW_DECIDE = "review.decide"
    REVIEW_RESOLVE = "review.resolve"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    USER_MANAGE = "user.manage"
    DEPLOYMENT_CONFIGURE = "deployment.configure"
    DEPLOYMENT_READ = "deployment.read"
    RETENTION_RUN = "retention.run"
    REPORT_TRANSPARENCY = "report.transparency"
    REPORT_DPIA = "report.dpia"
    REPORT_CASE = "report.case"
    SYSTEM_MAINTAIN = "system.maintain"
    KEYS_MANAGE = "keys.manage"
    LIVE_DEPLOY = "live.deploy"
    LIVE_RUN = "live.run"
    LIVE_READ = "live.read"
    LIVE_ADJUDICATE = "live.adjudicate"
    LIVE_REPORT = "live.report"


_R = Role
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.CASE_OPEN: frozenset({_R.OPERATOR}),
    Action.CASE_AUTHORISE: frozenset({_R.SUPERVISOR}),
    Action.CASE_READ: frozenset({_R.OPERATOR, _R.REVIEWER, _R.SUPERVISOR, _R.AUDITOR}),
    Action.CASE_CLOSE: frozenset({_R.OPERATOR, _R.SUPERVISOR}),
    Action.CASE_RECORD_JUDICIAL: frozenset({_R.SUPERVISOR}),
    # Adding a person to a case's team (need to know): the supervisors on it.
    Action.CASE_ASSIGN: frozenset({_R.SUPERVISOR}),
    Action.GALLERY_CREATE: frozenset({_R.SUPERVISOR}),
    Action.GALLERY_ENROLL: frozenset({_R.SUPERVISOR}),
    Action.GALLERY_REMOVE_SUBJECT: frozenset({_R.SUPERVISOR}),
    Action.GALLERY_READ: frozenset({_R.OPERATOR, _R.REVIEWER, _R.SUPERVISOR, _R.AUDITOR}),
    Action.GALLERY_CONFIGURE: frozenset({_R.SUPERVISOR}),
    Action.GALLERY_MANIFEST: frozenset({_R.SUPERVISOR, _R.AUDITOR}),
    Action.SUBJECT_ERASE: frozenset({_R.SUPERVISOR}),
    Action.SEARCH_RUN: frozenset({_R.OPERATOR}),
    Action.VERIFY_RUN: frozenset({_R.OPERATOR, _R.REVIEWER}),
    # Measuring accuracy and bias processes a labelled dataset's faces (in memory only):
    # the people who set and oversee the operating point, never an anonymous caller.
    Action.EVALUATION_RUN: frozenset({_R.SUPERVISOR, _R.ADMIN, _R.AUDITOR}),
    Action.VIDEO_INGEST: frozenset({_R.OPERATOR}),
    Action.VIDEO_CLUSTER: frozenset({_R.OPERATOR, _R.REVIEWER}),
    # Operators read the candidates of their own cases (need to know) but never decide them.
    Action.REVIEW_READ: frozenset({_R.OPERATOR, _R.REVIEWER, _R.SUPERVISOR, _R.AUDITOR}),
    Action.REVIEW_DECIDE: frozenset({_R.REVIEWER}),
    #: Two reviewers who disagree: a supervisor (not the searcher, not a reviewer) resolves.
    Action.REVIEW_RESOLVE: frozenset({_R.SUPERVISOR}),
    Action.AUDIT_READ: frozenset({_R.AUDITOR}),
    Action.AUDIT_EXPORT: frozenset({_R.AUDITOR}),
    #: Signing the chain head reveals no event: the auditor, or the admin's scheduled job.
    Action.AUDIT_CHECKPOINT: frozenset({_R.AUDITOR, _R.ADMIN}),
    Action.USER_MANAGE: frozenset({_R.ADMIN}),
    Action.DEPLOYMENT_CONFIGURE: frozenset({_R.ADMIN}),
    Action.DEPLOYMENT_READ: frozenset(Role),
    Action.RETENTION_RUN: frozenset({_R.ADMIN}),
    Action.REPORT_TRANSPARENCY: frozenset({_R.SUPERVISOR, _R.AUDITOR, _R.ADMIN}),
    Action.REPORT_DPIA: frozenset({_R.AUDITOR, _R.ADMIN}),
    #: Live recognition: a supervisor authorises each deployment (the authorising officer),
    #: operators run the camera and, with reviewers, adjudicate its alerts on site.
    Action.LIVE_DEPLOY: frozenset({_R.SUPERVISOR}),
    Action.LIVE_RUN: frozenset({_R.OPERATOR}),
    Action.LIVE_READ: frozenset({_R.OPERATOR, _R.REVIEWER, _R.SUPERVISOR, _R.AUDITOR}),
    Action.LIVE_ADJUDICATE: frozenset({_R.OPERATOR, _R.REVIEWER}),
    Action.LIVE_REPORT: frozenset({_R.SUPERVISOR, _R.AUDITOR, _R.ADMIN}),
    #: The case report and its disclosure pack hold the case's faces: the investigating
    #: officer (an operator on the case's team: need to know) and those who review or oversee.
    Action.REPORT_CASE: frozenset({_R.OPERATOR, _R.REVIEWER, _R.SUPERVISOR, _R.AUDITOR}),
    #: Doctor, backup and restore: the admin runs the system; a backup holds every biometric.
    Action.SYSTEM_MAINTAIN: frozenset({_R.ADMIN}),
    #: Encryption keys at rest: status, encrypting a directory, rotation. The admin runs the
    #: system; key operations reveal no biometric data (they re-encrypt it unseen).
    Action.KEYS_MANAGE: frozenset({_R.ADMIN}),
}


def is_allowed(role: Role, action: Action) -> bool:
    return role in ALLOWED[action]


def require(role: Role, action: Action, who: str) -> None:
    """Raise an AuthorisationError a person can act on when the role may not do this."""
    if not is_allowed(role, action):
        allowed = ", ".join(sorted(r.value for r in ALLOWED[action]))
        raise AuthorisationError(
            f"{who} ({role.value}) may not {action.value.replace('.', ' ')}; "
            f"this needs the role: {allowed}"
        )
