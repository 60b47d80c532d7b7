"""One command from photos to candidates, like face_recognition's ``face_recognition KNOWN UNKNOWN``.

It still goes through every safeguard: a gallery, a case marked ``demo``
with the ``demo`` lawful basis opened by the demo operator and authorised
by the demo supervisor (see :mod:`deployment`), and the audit log. Re-running reuses all of
them (enrollment is resumable), so it is safe to run repeatedly. Every face of the demo
evidence is searched, with a recorded reason (a real search chooses the face: ``search
--face``), so a group photo shows what the engine does with each face.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from retroface.errors import InvalidInputError
from retroface.faces.face_choice import FaceChoice
from retroface.governance.case_policy import current_authorisation
from retroface.governance.watchlist_policy import SubjectProvenance
from retroface.services.app import App
from retroface.services.cases.manage import authorise_case, open_case
from retroface.services.deployment.demo import ensure_demo_deployment
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.enrol_plan import plan_enrollment
from retroface.services.galleries.manage import create_gallery
from retroface.services.progress import Progress
from retroface.services.results import EnrollReport, SearchReport
from retroface.services.search.photos import search

QUICKSTART_GALLERY = "quickstart"
QUICKSTART_CASE = "QUICKSTART-DEMO"
#: Why the quickstart searches every face of its evidence (recorded with the search).
QUICKSTART_ALL_FACES_REASON = "quickstart demonstration on test photos: every face is searched"


def quickstart(
    app: App,
    known: Path,
    evidence: list[Path],
    *,
    threshold: float | None = None,
    max_candidates: int | None = None,
    progress: Progress | None = None,
) -> tuple[EnrollReport, SearchReport]:
    if not known.exists():
        raise InvalidInputError(f"{known}: no such file or folder")
    supervisor_id, operator_id = ensure_demo_deployment(app)
    supervisor, operator = app.acting_as(supervisor_id), app.acting_as(operator_id)
    with app.unit_of_work() as uow:
        has_gallery = uow.galleries.get(QUICKSTART_GALLERY) is not None
        case = uow.cases.get(QUICKSTART_CASE)
        needs_auth = case is None or current_authorisation(case, app.now()) is None
        has_case = case is not None
    if not has_gallery:
        create_gallery(
            supervisor, QUICKSTART_GALLERY, "Demo gallery made by 'retroface quickstart'"
        )
    names = {item.subject for item in plan_enrollment([known], None)}
    provenance = {name: _demo_provenance(name) for name in names}
    enrolled = enroll(
        supervisor, QUICKSTART_GALLERY, [known], provenance=provenance, progress=progress
    )
    if not has_case:
        open_case(
            operator,
            QUICKSTART_CASE,
            purpose="Demonstration of retroface on test photos",
            lawful_basis="demo",
            offence="demo",
            seriousness="non-crime",
            demo=True,
        )
    if needs_auth:
        authorise_case(supervisor, QUICKSTART_CASE, until=app.now() + timedelta(days=1))
    report = search(
        operator,
        QUICKSTART_CASE,
        QUICKSTART_GALLERY,
        evidence,
        threshold=threshold,
        max_candidates=max_candidates,
        progress=progress,
        face_choice=FaceChoice(all_faces_reason=QUICKSTART_ALL_FACES_REASON),
        # The demo's evidence is the photos the person running it named: a source like any.
        source_type="other",
        supplied_by="quickstart demo (the person running it)",
    )
    return enrolled, report


def _demo_provenance(name: str) -> SubjectProvenance:
    """Demo entries say what they are: public test photos, listed by quickstart."""
    return SubjectProvenance(
        category="demo", source_system="quickstart", record_id=name, holding_basis="demo"
    )
