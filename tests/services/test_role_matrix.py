"""Every service action × every role: only the allowed cells succeed, and every refusal is audited."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError
from retroface.faces import FaceEngine
from retroface.governance.identity import Principal
from retroface.governance.roles import ALLOWED, Action, Role
from retroface.services import App, open_app
from retroface.services.access.users import add_user, list_users
from retroface.services.cases.manage import (
    assign_to_case,
    authorise_case,
    close_case,
    list_cases,
    open_case,
    record_judicial_authorisation,
    show_case,
)
from retroface.services.cases.report import case_report
from retroface.services.cases.resolution import disputed_queue
from retroface.services.cases.review import record_review, review_queue
from retroface.services.deployment.rules import deployment_status, set_probe_retention
from retroface.services.evaluation.identification import evaluate_identification
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.erase import erase_subject
from retroface.services.galleries.manage import (
    create_gallery,
    gallery_manifest,
    list_galleries,
    remove_subject,
    restore_subject,
    set_gallery_cap,
    set_live_watchlist,
)
from retroface.services.live.deployments import (
    adjudicate_alert,
    list_live_alerts,
    list_live_deployments,
    live_publication,
)
from retroface.services.live.run import LiveOptions, run_live
from retroface.services.operations.doctor import run_doctor
from retroface.services.operations.keys import key_status
from retroface.services.oversight.audit_checkpoints import (
    checkpoint_audit,
    generate_checkpoint_key,
)
from retroface.services.oversight.audit_log import export_audit, verify_audit
from retroface.services.oversight.reports import dpia_report, transparency_report
from retroface.services.oversight.retention import run_retention
from retroface.services.quickstart import quickstart
from retroface.services.search.photos import search
from retroface.services.search.verify import verify
from retroface.services.video.clusters import list_clusters
from retroface.services.video.ingest import IngestOptions, ingest_videos
from retroface.settings import Settings
from retroface.store.models import AuditEvent, CaseMember
from tests.conftest import ADMIN, AUDITOR, OPERATOR, SUPERVISOR, make_ready
from tests.databases import drop_database, fresh_database
from tests.helpers import (
    PASSWORD,
    att_subset,
    authorised_case,
    gallery_with,
    live_deployment,
    provenance,
    register_users,
)

pytestmark = pytest.mark.needs_data

_counter = itertools.count()
#: A real user account a supervisor can add to a case's team.
TEAM_OPERATOR = Principal("officer-team", Role.OPERATOR)
_candidates: list[int] = []  # a candidate from the operator's search, for the review cells


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, engine: FaceEngine, data: Path
) -> Iterator[App]:
    home = tmp_path_factory.mktemp("matrix")
    url = fresh_database(home)
    # Cooldown 0: every frame of a watchlisted face is its own alert (one per adjudication cell).
    settings = Settings(
        home=home, actor="system", workers=1, database_url=url, live_alert_cooldown_s=0.0
    )
    app = make_ready(open_app(settings, principal=OPERATOR))
    app._engines[repr(app.engine_spec)] = engine
    register_users(app, {TEAM_OPERATOR: PASSWORD})  # someone a supervisor can add to a team
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    authorised_case(app, "AUTHORISED")
    report = search(app, "AUTHORISED", "g", [examples / "obama2.jpg"])
    _candidates.append(report.probes[0].candidates[0].candidate_id)
    # A live watchlist, a deployment and a few alerts from a real run of the clip.
    gallery_with(app, "live", {"lin-manuel-miranda": [examples / "lin-manuel-miranda.png"]})
    set_live_watchlist(app.acting_as(SUPERVISOR), "live", True)
    live_deployment(app.acting_as(SUPERVISOR), "LFR-MATRIX", "live")
    run_live(app, "LFR-MATRIX", str(_clip(data)), options=LiveOptions(max_seconds=2.0))
    yield app
    app.close()
    drop_database(url)


def _act(app: App, action: Action, data: Path, tmp: Path) -> object:
    n = next(_counter)
    examples = data / "face_recognition" / "examples"
    calls: dict[Action, Callable[[], object]] = {
        Action.CASE_OPEN: lambda: open_case(
            app,
            f"NEW-{n}",
            purpose="p",
            lawful_basis="law-enforcement",
            offence="theft",
            seriousness="either-way",
        ),
        Action.CASE_AUTHORISE: lambda: authorise_case(
            app, _operator_case(app, n), until=app.now() + timedelta(days=1)
        ),
        Action.CASE_READ: lambda: show_case(app, "AUTHORISED"),
        Action.GALLERY_CREATE: lambda: create_gallery(app, f"gallery-{n}"),
        Action.GALLERY_ENROLL: lambda: enroll(
            app, "g", [examples / "obama2.jpg"], subject=f"s{n}", provenance=provenance(f"R{n}")
        ),
        Action.GALLERY_REMOVE_SUBJECT: lambda: remove_subject(app, "g", "biden"),
        Action.GALLERY_READ: lambda: list_galleries(app),
        Action.SEARCH_RUN: lambda: search(app, "AUTHORISED", "g", [examples / "obama2.jpg"]),
        Action.VERIFY_RUN: lambda: verify(
            app, "AUTHORISED", examples / "obama.jpg", examples / "obama2.jpg"
        ),
        Action.EVALUATION_RUN: lambda: evaluate_identification(
            app, att_subset(data, tmp / f"eval-{n}", people=4, images=2), bootstrap=10
        ),
        Action.AUDIT_READ: lambda: verify_audit(app),
        Action.AUDIT_EXPORT: lambda: export_audit(app, tmp / f"audit-{n}.jsonl", PASSWORD.encode()),
        Action.AUDIT_CHECKPOINT: lambda: checkpoint_audit(_checkpointing(app, tmp, n)),
        Action.USER_MANAGE: lambda: list_users(app),
        Action.CASE_CLOSE: lambda: close_case(
            app, _operator_case(app, n, team=app.principal), "no further action"
        ),
        Action.CASE_ASSIGN: lambda: assign_to_case(
            app, _operator_case(app, n), TEAM_OPERATOR.username
        ),
        Action.CASE_RECORD_JUDICIAL: lambda: record_judicial_authorisation(
            app, "AUTHORISED", f"J-{n}"
        ),
        Action.GALLERY_CONFIGURE: lambda: set_gallery_cap(app, "g", 1000),
        Action.GALLERY_MANIFEST: lambda: gallery_manifest(app, "g"),
        Action.SUBJECT_ERASE: lambda: erase_subject(
            app, "g", _enrolled_subject(app, data, n), f"REQ-{n}"
        ),
        Action.REVIEW_READ: lambda: review_queue(app, case_reference="AUTHORISED"),
        Action.REVIEW_DECIDE: lambda: record_review(
            _trained(app), _candidates[0], "inconclusive", "too dark to judge"
        ),
        Action.REVIEW_RESOLVE: lambda: disputed_queue(app),
        Action.DEPLOYMENT_CONFIGURE: lambda: set_probe_retention(app, "immediate"),
        Action.DEPLOYMENT_READ: lambda: deployment_status(app),
        Action.RETENTION_RUN: lambda: run_retention(app),
        Action.REPORT_TRANSPARENCY: lambda: transparency_report(
            app, app.now().date(), app.now().date(), tmp / f"transparency-{n}"
        ),
        Action.REPORT_DPIA: lambda: dpia_report(app, tmp / f"dpia-{n}.md"),
        Action.REPORT_CASE: lambda: case_report(app, "AUTHORISED"),
        Action.VIDEO_CLUSTER: lambda: list_clusters(app, "AUTHORISED"),
        Action.VIDEO_INGEST: lambda: ingest_videos(
            app,
            "AUTHORISED",
            [data / "video" / "short_hamilton_clip.mp4"],
            IngestOptions(sampling="keyframes"),
        ),
        Action.SYSTEM_MAINTAIN: lambda: run_doctor(app),
        Action.KEYS_MANAGE: lambda: key_status(app),
        Action.LIVE_DEPLOY: lambda: live_deployment(app, f"LFR-{n}", "live"),
        Action.LIVE_RUN: lambda: run_live(
            app, "LFR-MATRIX", str(_clip(data)), options=LiveOptions(max_seconds=0.5)
        ),
        Action.LIVE_READ: lambda: list_live_deployments(app),
        Action.LIVE_ADJUDICATE: lambda: adjudicate_alert(
            app, _pending_alert(app), engaged=False, outcome="unconfirmed"
        ),
        Action.LIVE_REPORT: lambda: live_publication(app, "LFR-MATRIX"),
    }
    assert set(calls) == set(Action), "every action in the matrix must be exercised"
    return calls[action]()


def _checkpointing(app: App, tmp: Path, n: int) -> App:
    """The deployment with a checkpoint key outside its data directory (the fixture has none)."""
    key = tmp / f"checkpoint-{n}.pem"
    generate_checkpoint_key(key, app.settings)
    return replace(app, settings=app.settings.with_(checkpoint_key_file=key))


def _clip(data: Path) -> Path:
    return data / "video" / "short_hamilton_clip.mp4"


def _pending_alert(app: App) -> int:
    pending = list_live_alerts(app.acting_as(OPERATOR), "LFR-MATRIX", pending_only=True)
    assert pending, "the fixture's run must raise an alert for every adjudication cell"
    return pending[-1].id


def _operator_case(app: App, n: int, team: Principal | None = None) -> str:
    """A case officer-1 opened (awaiting authorisation), with ``team`` on its team."""
    ref = f"TO-AUTHORISE-{n}"
    open_case(
        app.acting_as(OPERATOR),
        ref,
        purpose="p",
        lawful_basis="law-enforcement",
        offence="theft",
        seriousness="either-way",
    )
    if team is not None:
        _join_team(app, ref, team)
    return ref


def _enrolled_subject(app: App, data: Path, n: int) -> str:
    """A fresh subject, enrolled by a supervisor, for an erasure cell to remove."""
    name = f"erasable-{n}"
    photo = data / "face_recognition" / "examples" / "biden.jpg"
    enroll(app.acting_as(SUPERVISOR), "g", [photo], subject=name, provenance=provenance(name))
    return name


def _trained(app: App) -> App:
    """Reviewers decide only with face-comparison training on record: give the acting one a user."""
    if app.principal is not None and app.principal.role is Role.REVIEWER:
        add_user(
            app.acting_as(ADMIN),
            app.principal.username,
            Role.REVIEWER,
            PASSWORD,
            training_completed_on=app.now().date(),
        )
    return app


def _join_team(app: App, reference: str, who: Principal) -> None:
    """Put ``who`` on a case's team as a supervisor would (test set-up, straight to the row)."""
    with app.unit_of_work() as uow:
        case = uow.cases.require(reference)
        uow.session.add(CaseMember(case_id=case.id, username=who.username, added_by="sgt-2"))
        uow.commit()


def _refusals(app: App, username: str) -> list[tuple[str | None, str]]:
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(AuditEvent.role, AuditEvent.object_id).where(
                AuditEvent.action == "access.refused", AuditEvent.actor == username
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_role_matrix(
    deployment: App, data: Path, tmp_path: Path, action: Action, role: Role
) -> None:
    who = Principal(f"{role.value}-{next(_counter)}", role)
    app = deployment.acting_as(who)
    if role in ALLOWED[action]:
        _join_team(deployment, "AUTHORISED", who)  # the role matrix is about roles: on the team
        _act(app, action, data, tmp_path)  # must not raise
        assert _refusals(app, who.username) == []
        if action is Action.GALLERY_REMOVE_SUBJECT:
            restore_subject(app, "g", "biden")
    else:
        with pytest.raises(AuthorisationError):
            _act(app, action, data, tmp_path)
        assert _refusals(app, who.username) == [(role.value, action.value)]


def test_need_to_know_refuses_case_work_outside_the_team_and_audits_it(
    deployment: App, data: Path
) -> None:
    # Attack: an operator, a supervisor and a reviewer who have nothing to do with a second
    # case read it, search under it, close it or record on it.
    other_operator = Principal("officer-9", Role.OPERATOR)
    other_supervisor = Principal("sgt-8", Role.SUPERVISOR)
    reference = f"OTHER-{next(_counter)}"
    open_case(
        deployment.acting_as(other_operator),
        reference,
        purpose="another team's investigation",
        lawful_basis="law-enforcement",
        offence="robbery",
        seriousness="indictable-only",
    )
    authorise_case(
        deployment.acting_as(other_supervisor),
        reference,
        until=deployment.now() + timedelta(days=1),
    )
    probe = [data / "face_recognition" / "examples" / "obama2.jpg"]
    operator = deployment.acting_as(OPERATOR)
    supervisor = deployment.acting_as(SUPERVISOR)
    reviewer = deployment.acting_as(Principal("reviewer-x", Role.REVIEWER))
    attempts: list[tuple[App, Callable[[], object]]] = [
        (operator, lambda: show_case(operator, reference)),
        (operator, lambda: search(operator, reference, "g", probe)),
        (operator, lambda: close_case(operator, reference, "not mine")),
        (supervisor, lambda: show_case(supervisor, reference)),
        (supervisor, lambda: record_judicial_authorisation(supervisor, reference, "MAG-9")),
        (supervisor, lambda: assign_to_case(supervisor, reference, TEAM_OPERATOR.username)),
        (reviewer, lambda: show_case(reviewer, reference)),
    ]
    for _, attempt in attempts:
        with pytest.raises(AuthorisationError, match="not on the team"):
            attempt()
    with deployment.unit_of_work() as uow:
        refused = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.refused", AuditEvent.case_reference == reference
            )
        ).all()
        assert len(refused) == len(attempts)
        assert {e.details["reason"] for e in refused} == {"not on the case team"}
    assert reference not in {c.reference for c in list_cases(operator)}
    # The case's own team and the auditors see it; a supervisor adds a colleague.
    assert show_case(deployment.acting_as(other_operator), reference).reference == reference
    assert show_case(deployment.acting_as(AUDITOR), reference).reference == reference
    assign_to_case(deployment.acting_as(other_supervisor), reference, TEAM_OPERATOR.username)
    assert show_case(deployment.acting_as(TEAM_OPERATOR), reference).reference == reference


def test_admin_can_never_search_or_review_and_operator_never_authorises() -> None:
    assert Role.ADMIN not in ALLOWED[Action.SEARCH_RUN]
    assert ALLOWED[Action.CASE_AUTHORISE] == {Role.SUPERVISOR}
    assert ALLOWED[Action.AUDIT_READ] == {Role.AUDITOR}


def test_no_principal_is_refused_and_audited(deployment: App) -> None:

    anonymous = replace(deployment, principal=None)
    with pytest.raises(AuthorisationError, match="not logged in"):
        list_galleries(anonymous)


def test_quickstart_refuses_a_deployment_with_real_users(
    settings: Settings, engine: FaceEngine, data: Path
) -> None:
    app = open_app(settings)
    register_users(app, {SUPERVISOR: PASSWORD})
    examples = data / "face_recognition" / "examples"
    with pytest.raises(AuthorisationError, match="empty or demo data directory"):
        quickstart(app, examples / "knn_examples" / "train", [examples / "obama2.jpg"])
