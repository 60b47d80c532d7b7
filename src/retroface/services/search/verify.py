"""1:1 verification: are the faces in two images the same person, at the working threshold?"""

from __future__ import annotations

from pathlib import Path

from retroface.errors import NoFaceFoundError, RetrofaceError
from retroface.faces import AnalysedFace, FileAnalysis, analyse_file
from retroface.faces.face_choice import choose_single_face
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.results import VerifyReport


def verify(app: App, first: Path, second: Path, *, threshold: float | None = None) -> VerifyReport:
    app.require(Action.VERIFY_RUN)
    threshold = app.settings.threshold if threshold is None else threshold
    a_result = analyse_file(app.engine, first, app.limits)
    b_result = analyse_file(app.engine, second, app.limits)
    a_face = _single(a_result)
    b_face = _single(b_result)
    score = float(a_face.embedding @ b_face.embedding)
    report = VerifyReport(
        first=str(first),
        second=str(second),
        score=round(score, 4),
        threshold=threshold,
        same_person_above_threshold=score >= threshold,
        model=a_face.model.tag,
        first_faces=len(a_result.faces),
        second_faces=len(b_result.faces),
    )
    with app.unit_of_work() as uow:
        app.audit(
            uow.session,
            action="verify.run",
            object_type="comparison",
            object_id=f"{a_result.sha256[:16]}:{b_result.sha256[:16]}"
            if a_result.sha256 and b_result.sha256
            else "",
            first_sha256=a_result.sha256,
            second_sha256=b_result.sha256,
            score=report.score,
            threshold=threshold,
            model=report.model,
        )
        uow.commit()
    return report


def _single(result: FileAnalysis) -> AnalysedFace:
    if result.error:
        raise RetrofaceError(result.error)
    chosen = choose_single_face(result.faces)
    if isinstance(chosen, str):
        raise NoFaceFoundError(f"{result.path}: {chosen}")
    return chosen
