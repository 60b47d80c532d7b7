"""``retroface review disputed`` and ``review resolve``: a supervisor resolves from the
command line what two reviewers disagreed on."""

from __future__ import annotations

from pathlib import Path

import pytest

from retroface.faces import FaceEngine
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import open_app
from retroface.services.cases.review import record_review
from retroface.services.search.photos import search
from retroface.settings import Settings
from tests.cli_process import run_cli, run_cli_json, user_env
from tests.conftest import EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR, make_ready
from tests.helpers import PASSWORD, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data


def test_a_supervisor_resolves_a_dispute_on_the_command_line(
    settings: Settings, engine: FaceEngine
) -> None:
    app = make_ready(open_app(settings, principal=OPERATOR))
    app._engines[repr(app.engine_spec)] = engine  # share the loaded models
    second = Principal("reviewer-7", Role.REVIEWER)
    register_users(app, dict.fromkeys((OPERATOR, SUPERVISOR, REVIEWER, second), PASSWORD))
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    candidate = search(app, case, "g", [EXAMPLES / "obama2.jpg"]).probes[0].candidates[0]
    record_review(app.acting_as(REVIEWER), candidate.candidate_id, "possible-match", "ears")
    record_review(app.acting_as(second), candidate.candidate_id, "no-match", "jaw line")
    app.close()
    home: Path = settings.home
    sergeant = user_env(home, SUPERVISOR.username)

    (item,) = run_cli_json(sergeant, "review", "disputed")
    assert item["candidate"]["candidate_id"] == candidate.candidate_id and item["may_resolve"]
    done = run_cli(
        sergeant,
        "review", "resolve", str(candidate.candidate_id),
        "--outcome", "possible-match", "--reason", "same scar above the eyebrow",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "confirmed" in done.stdout
