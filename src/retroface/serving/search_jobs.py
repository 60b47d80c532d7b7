"""Start a search of uploaded evidence as a background job (shared by the API and the UI)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from retroface.governance.roles import Action
from retroface.services import App
from retroface.services.biometrics.uploaded_files import case_upload_folder, remove_unused_uploads
from retroface.services.results import SearchReport
from retroface.services.search.gate import check_search_allowed
from retroface.services.search.photos import search
from retroface.serving.jobs import JobOut, JobProgress, JobRunner
from retroface.serving.uploads import (
    check_types,
    current_cipher,
    readable_copies,
    stored_with_names,
)


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
) -> JobOut:
    """Check the role, the files' declared types, every gate of the search (case, scope,
    count, gallery, threshold floor, cap: refusals audited) and the person's queue before a
    byte is stored, so a refused search leaves no file behind; keep the evidence with the
    case and queue the search. Files the search did not use (it was refused when it
    started after all, or a file could not be read) are deleted when the job ends."""
    principal = application.require(Action.SEARCH_RUN, case_reference=reference)
    check_types(files, allow_video=True)
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
                )
        finally:
            remove_unused_uploads(application, paths)

    try:
        return jobs.submit("search", principal.username, work, redact=names)
    except BaseException:
        remove_unused_uploads(application, paths)
        raise
