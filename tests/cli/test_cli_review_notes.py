"""``retroface review decide --note FEATURE=FINDING``: the structured notes from the command
line; a malformed note is one line naming the form, never a traceback."""

from __future__ import annotations

import pytest

from retroface.faces import FaceEngine
from retroface.services import open_app
from retroface.services.cases.review import show_candidate
from retroface.services.search.photos import search
from retroface.settings import Settings
from tests.cli_process import run_cli, user_env
from tests.conftest import EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR, make_ready
from tests.helpers import PASSWORD, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data


def test_a_reviewer_notes_features_on_the_command_line(
    settings: Settings, engine: FaceEngine
) -> None:
    app = make_ready(open_app(settings, principal=OPERATOR))
    app._engines[repr(app.engine_spec)] = engine  # share the loaded models
    register_users(app, dict.fromkeys((OPERATOR, SUPERVISOR, REVIEWER), PASSWORD))
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    candidate = search(app, case, "g", [EXAMPLES / "obama2.jpg"]).probes[0].candidates[0]
    reviewer = user_env(settings.home, REVIEWER.username)
    decide = ("review", "decide", str(candidate.candidate_id), "--outcome", "possible-match")

    wrong = run_cli(reviewer, *decide, "--reason", "nose", "--note", "nose")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "write FEATURE=FINDING" in wrong.stderr
    done = run_cli(
        reviewer,
        *decide,
        "--reason",
        "nose",
        "--note",
        "nose=similar",
        "--note",
        "ears=not-visible",
    )
    assert done.returncode == 0, done.stderr
    (review,) = show_candidate(app.acting_as(SUPERVISOR), candidate.candidate_id).reviews
    assert review.notes == {"nose": "similar", "ears": "not-visible"}
    app.close()
