"""Structured comparison notes: a reviewer records, with the decision, what they compared
feature by feature (a FISWG-style list), in fixed words that can be read side by side; the
notes are stored, audited, kept from a second reviewer until they decide, and in the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.governance.identity import Principal
from retroface.governance.review_policy import COMPARISON_FEATURES, check_notes, notes_text
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.users import add_user
from retroface.services.biometrics.sealed_files import read_protected_file
from retroface.services.cases.report import case_report
from retroface.services.cases.review import record_review, show_candidate
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Review
from tests.conftest import ADMIN, EXAMPLES, SUPERVISOR
from tests.helpers import PASSWORD, authorised_case, gallery_with

NOTES = {"face-shape": "similar", "nose": "similar", "ears": "not-visible", "marks": "different"}


def _reviewer(app: App, name: str) -> App:
    add_user(
        app.acting_as(ADMIN), name, Role.REVIEWER, PASSWORD, training_completed_on=app.now().date()
    )
    return app.acting_as(Principal(name, Role.REVIEWER))


def test_notes_are_normalised_to_the_fixed_words_in_the_lists_order() -> None:
    notes = check_notes({"Marks": "different", "face shape": "Similar", "ears": "not visible"})
    assert notes == {"face-shape": "similar", "ears": "not-visible", "marks": "different"}
    assert list(notes) == [k for k in COMPARISON_FEATURES if k in notes]
    assert check_notes({}) is None and check_notes(None) is None
    assert (
        notes_text(notes) == "face shape similar; ears not visible; marks, scars, tattoos different"
    )


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        ({"chin": "similar"}, "unknown compared feature 'chin'; choose one of: face-shape"),
        ({"nose": "same"}, "unknown finding for nose 'same'; choose one of: similar, different"),
        ({"Face shape": "similar", "face-shape": "different"}, "'face-shape' is noted twice"),
    ],
)
def test_a_feature_or_finding_outside_the_lists_is_refused_with_the_choices(
    notes: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_notes(notes)


@pytest.mark.needs_data
def test_the_notes_are_stored_audited_hidden_from_the_second_reviewer_and_reported(
    app: App,
) -> None:
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"], "biden": [EXAMPLES / "biden.jpg"]})
    case = authorised_case(app)
    (probe,) = search(app, case, "g", [EXAMPLES / "obama2.jpg"]).probes
    candidate = probe.candidates[0].candidate_id
    first, second = _reviewer(app, "rev-a"), _reviewer(app, "rev-b")

    # A wrong word refuses the whole decision: nothing is stored or audited as decided.
    with pytest.raises(InvalidInputError, match="unknown compared feature 'tattoo'"):
        record_review(first, candidate, "possible-match", "same nose", {"tattoo": "similar"})
    decided = record_review(first, candidate, "possible-match", "nose and face shape", NOTES)
    assert decided.reviews[0].notes == NOTES

    # Independence: the second reviewer sees neither the outcome nor the notes.
    assert show_candidate(second, candidate).reviews == []
    record_review(second, candidate, "inconclusive", "ears hidden by hair")  # notes optional
    overseen = show_candidate(app.acting_as(SUPERVISOR), candidate)
    assert [(r.reviewer, r.notes) for r in overseen.reviews] == [("rev-a", NOTES), ("rev-b", None)]

    with app.unit_of_work() as uow:
        stored = uow.session.scalars(select(Review.notes).order_by(Review.id)).all()
        audited = [
            e.details.get("notes")
            for e in uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "candidate.reviewed")
                .order_by(AuditEvent.id)
            )
        ]
    assert stored == [NOTES, None] and audited == [NOTES, None]

    written = case_report(app, case)
    html = read_protected_file(app.cipher, app.settings.home, Path(written.html)).decode()
    assert "(features: face shape similar; nose similar; ears not visible;" in html
