"""1:1 verification: are the faces in two images the same person, at the working threshold?

A 1:1 comparison processes biometric data of two people just as a 1:N
search does, so it runs under the same gate (search/gate.py): an authorised
case whose search count it uses, the deployment's rules, the threshold floor
and a calibration covering the model. The gate is passed before either image
is opened, so a refused comparison processes no face.
"""

from __future__ import annotations

from pathlib import Path

from retroface.errors import NoFaceFoundError, RetrofaceError
from retroface.faces import AnalysedFace, FileAnalysis, analyse_file
from retroface.faces.face_choice import choose_single_face
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.results import VerifyReport
from retroface.services.search.gate import start_comparison
from retroface.store.models import Comparison


def verify(
    app: App,
    case_reference: str,
    first: Path,
    second: Path,
    *,
    threshold: float | None = None,
) -> VerifyReport:
    """Compare the face in ``first`` with the face in ``second`` under ``case_reference``.

    Role: operator or reviewer. Writes ``comparison.started`` then ``verify.run`` (or
    ``search.refused`` when a gate refuses, and ``comparison.failed`` when an image
    cannot be used). Raises AuthorisationError (role, case, rules, floor, count),
    NotFoundError (no such case), InvalidInputError, NoFaceFoundError.
    """
    app.require(Action.VERIFY_RUN, case_reference=case_reference)
    comparison_id, threshold = start_comparison(app, case_reference, threshold)
    try:
        a_result = analyse_file(app.engine, first, app.limits)
        b_result = analyse_file(app.engine, second, app.limits)
        a_face = _single(a_result)
        b_face = _single(b_result)
    except RetrofaceError as exc:
        # The images were read: the attempt counts, as a search with no usable face does.
        _finish(app, comparison_id, case_reference, "unusable", None, error=type(exc).__name__)
        raise
    score = float(a_face.embedding @ b_face.embedding)
    report = VerifyReport(
        case=case_reference,
        comparison_id=comparison_id,
        first=str(first),
        second=str(second),
        score=round(score, 4),
        threshold=threshold,
        same_person_above_threshold=score >= threshold,
        model=a_face.model.tag,
        engine=app.engine_description,
        first_faces=len(a_result.faces),
        second_faces=len(b_result.faces),
    )
    _finish(
        app,
        comparison_id,
        case_reference,
        "completed",
        report,
        first_sha256=a_result.sha256,
        second_sha256=b_result.sha256,
    )
    return report


def _finish(
    app: App,
    comparison_id: str,
    case_reference: str,
    status: str,
    report: VerifyReport | None,
    **details: object,
) -> None:
    with app.unit_of_work() as uow:
        row = uow.session.get(Comparison, comparison_id)
        assert row is not None
        row.status, row.finished_at = status, app.now()
        if report is not None:
            row.score = report.score
            row.first_sha256 = str(details.get("first_sha256") or "") or None
            row.second_sha256 = str(details.get("second_sha256") or "") or None
        app.audit(
            uow,
            action="verify.run" if report is not None else "comparison.failed",
            object_type="comparison",
            object_id=comparison_id,
            case_reference=case_reference,
            score=report.score if report else None,
            threshold=row.threshold,
            model=report.model if report else None,
            **details,
        )
        uow.commit()


def _single(result: FileAnalysis) -> AnalysedFace:
    if result.error:
        raise RetrofaceError(result.error)
    chosen = choose_single_face(result.faces)
    if isinstance(chosen, str):
        raise NoFaceFoundError(f"{result.path}: {chosen}")
    return chosen
