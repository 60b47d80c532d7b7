"""Start a search of uploaded evidence as a background job (shared by the API and the UI)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from retroface.errors import InvalidInputError
from retroface.faces.face_choice import FaceChoice
from retroface.governance.roles import Action
from retroface.media.video_reader import is_video_path
from retroface.services import App
from retroface.services.biometrics.uploaded_files import case_upload_folder, remove_unused_uploads
from retroface.services.results import ProbeFaceListing, SearchReport
from retroface.services.search.enhanced_probe import (
    ProbeEnhancement,
    check_enhancement_fits,
    preview_enhancement,
)
from retroface.services.search.gate import check_search_allowed
from retroface.services.search.photos import check_one_person, checked_provenance, search
from retroface.services.search.probe_faces import (
    check_choice_fits,
    check_listing_allowed,
    list_probe_faces,
)
from retroface.serving.jobs import JobOut, JobProgress, JobRunner
from retroface.serving.uploads import (
    check_types,
    current_cipher,
    readable_copies,
    stored_with_names,
)

#: What a function run on one uploaded image returns.
_Result = TypeVar("_Result")


async def start_search_job(
    application: App,
    jobs: JobRunner,
    reference: str,
    gallery: str,
    files: list[UploadFile],
    *,
    threshold: float | None = None,
    max_candidates: int | None = None,
    low_quality_reason: str | None = None,
    face_choice: FaceChoice | None = None,
    enhancement: ProbeEnhancement | None = None,
    source_type: str | None = None,
    supplied_by: str | None = None,
    one_person: bool = False,
    fps: float | None = None,
) -> JobOut:
    """Check the role, the files' declared types, every gate of the search (case, scope,
    count, gallery, threshold floor, cap: refusals audited) and the person's queue before a
    byte is stored, so a refused search leaves no file behind; keep the evidence with the
    case and queue the search. Files the search did not use (it was refused when it
    started after all, a file could not be read, or the one image held several faces and
    none was chosen) are deleted when the job ends."""
    principal = application.require(Action.SEARCH_RUN, case_reference=reference)
    check_types(files, allow_video=True)
    videos = sum(1 for f in files if is_video_path(Path(f.filename or "")))
    if face_choice is not None:
        check_choice_fits(face_choice, len(files) - videos, videos)
    check_enhancement_fits(enhancement, len(files) - videos, videos)
    if one_person:
        check_one_person(face_choice or FaceChoice(), len(files) - videos, videos)
    # A sketch or a look-alike is refused (audited) before a byte of it is stored.
    await run_in_threadpool(
        checked_provenance, application, reference, gallery, source_type, supplied_by
    )
    await run_in_threadpool(
        check_search_allowed, application, reference, gallery, threshold, max_candidates
    )
    jobs.check_capacity(principal.username)
    home = application.settings.home
    _, paths, names = await stored_with_names(
        case_upload_folder(home, reference),
        home,
        files,
        application.settings.max_file_bytes,
        allow_video=True,
        cipher=await run_in_threadpool(current_cipher, application),
    )

    def work(progress: JobProgress) -> SearchReport:
        try:
            with readable_copies(current_cipher(application), paths, names) as copies:
                return search(
                    application,
                    reference,
                    gallery,
                    list(copies),
                    threshold=threshold,
                    max_candidates=max_candidates,
                    progress=progress,
                    sources=copies,
                    low_quality_justification=low_quality_reason,
                    face_choice=face_choice,
                    enhancement=enhancement,
                    source_type=source_type,
                    supplied_by=supplied_by,
                    one_person=one_person,
                    fps=fps,
                )
        finally:
            remove_unused_uploads(application, paths)

    try:
        return jobs.submit("search", principal.username, work, redact=names)
    except BaseException:
        remove_unused_uploads(application, paths)
        raise


async def list_uploaded_probe_faces(
    application: App,
    reference: str,
    files: list[UploadFile],
    enhancement: ProbeEnhancement | None = None,
) -> ProbeFaceListing:
    """List the faces of one uploaded image without searching (probe_faces.list_probe_faces):
    the role and the case's authorisation are checked before a byte is stored, and the
    upload is deleted once listed (no media row names it)."""
    return await _on_one_uploaded_image(
        application,
        reference,
        files,
        "list its faces",
        lambda copy, shown_as: list_probe_faces(
            application, reference, copy, shown_as=shown_as, enhancement=enhancement
        ),
    )


async def preview_uploaded_enhancement(
    application: App, reference: str, files: list[UploadFile], enhancement: ProbeEnhancement
) -> bytes:
    """The one uploaded image after the enhancement steps, as PNG, without searching
    (search/enhanced_probe.py ``preview_enhancement``): the role and the case's
    authorisation are checked before a byte is stored, and the upload is deleted at once."""
    return await _on_one_uploaded_image(
        application,
        reference,
        files,
        "preview",
        lambda copy, shown_as: preview_enhancement(
            application, reference, copy, list(enhancement.steps), shown_as=shown_as
        ),
    )


async def _on_one_uploaded_image(
    application: App,
    reference: str,
    files: list[UploadFile],
    purpose: str,
    work: Callable[[Path, str], _Result],
) -> _Result:
    """``work(readable copy, name shown)`` on one uploaded image that is looked at, never
    searched: checked like a listing before a byte is stored, deleted when done."""
    check_listing_allowed(application, reference)
    check_types(files, allow_video=False)
    if len(files) != 1:
        raise InvalidInputError(f"upload exactly one image to {purpose}, got {len(files)}")
    home = application.settings.home
    _, paths, names = await stored_with_names(
        case_upload_folder(home, reference),
        home,
        files,
        application.settings.max_file_bytes,
        allow_video=False,
        cipher=await run_in_threadpool(current_cipher, application),
    )
    try:
        with readable_copies(current_cipher(application), paths, names) as copies:
            (copy,) = copies
            return await run_in_threadpool(work, copy, names(str(copy)))
    finally:
        remove_unused_uploads(application, paths)
