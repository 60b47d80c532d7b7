"""Start a search of uploaded evidence as a background job (shared by the API and the UI)."""

from __future__ import annotations

from fastapi import UploadFile

from retroface.governance.roles import Action
from retroface.services import App
from retroface.services.biometrics.uploaded_files import case_upload_folder
from retroface.services.results import SearchReport
from retroface.services.search.photos import search
from retroface.services.video.ingest import check_case_open_and_authorised
from retroface.serving.jobs import JobOut, JobProgress, JobRunner
from retroface.serving.uploads import store_uploads


async def start_search_job(
    application: App,
    jobs: JobRunner,
    reference: str,
    gallery: str,
    files: list[UploadFile],
    *,
    threshold: float | None = None,
    max_candidates: int | None = None,
) -> JobOut:
    """Check the role, the case's gates and the person's queue before a byte is stored (a
    refused search leaves no file behind), keep the evidence with the case, and queue it."""
    principal = application.require(Action.SEARCH_RUN, case_reference=reference)
    check_case_open_and_authorised(application, reference)
    jobs.check_capacity(principal.username)
    _, paths = await store_uploads(
        case_upload_folder(application.settings.home, reference),
        files,
        application.settings.max_file_bytes,
        allow_video=True,
    )

    def work(progress: JobProgress) -> SearchReport:
        return search(
            application,
            reference,
            gallery,
            list(paths),
            threshold=threshold,
            max_candidates=max_candidates,
            progress=progress,
        )

    return jobs.submit("search", principal.username, work)
