"""Background jobs: long searches run off the request, and the client polls their progress.

One worker thread runs jobs in order (the face engine already uses every
core through its process pool, so running two searches at once would only
make both slower). A job belongs to the user who started it; only they can
see it. Job records live in memory: the work itself is durable, because the
service writes its search, candidates and audit events to the database as
it goes; a server restart loses only the job's progress figure.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from retroface.errors import NotFoundError, RetrofaceError

JobStatus = Literal["queued", "running", "done", "failed"]


class JobOut(BaseModel):
    id: str
    kind: str
    status: JobStatus
    owner: str
    submitted_at: datetime
    finished_at: datetime | None = None
    progress_done: int = 0
    progress_total: int = 0
    progress_step: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None


class JobProgress:
    """The services' Progress protocol, recorded on the job for polling."""

    def __init__(self, job: JobOut, lock: threading.Lock) -> None:
        self._job = job
        self._lock = lock

    def start(self, description: str, total: int) -> None:
        with self._lock:
            self._job.progress_step, self._job.progress_total = description, total
            self._job.progress_done = 0

    def advance(self, steps: int = 1) -> None:
        with self._lock:
            self._job.progress_done += steps

    def finish(self) -> None:
        with self._lock:
            self._job.progress_done = self._job.progress_total


class JobRunner:
    def __init__(self) -> None:
        self._jobs: dict[str, JobOut] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retroface-job")

    def submit(
        self,
        kind: str,
        owner: str,
        work: Callable[[JobProgress], BaseModel],
        cleanup: Callable[[], None] | None = None,
    ) -> JobOut:
        job = JobOut(
            id=uuid.uuid4().hex, kind=kind, status="queued", owner=owner,
            submitted_at=datetime.now(UTC),
        )  # fmt: skip
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work, cleanup)
        return job.model_copy()

    def _run(
        self,
        job: JobOut,
        work: Callable[[JobProgress], BaseModel],
        cleanup: Callable[[], None] | None,
    ) -> None:
        with self._lock:
            job.status = "running"
        try:
            result = work(JobProgress(job, self._lock))
            with self._lock:
                job.result, job.status = result.model_dump(mode="json"), "done"
        except RetrofaceError as exc:
            with self._lock:
                job.error, job.status = str(exc), "failed"
        except Exception:  # a bug: record that the job failed, keep the server up
            with self._lock:
                job.error, job.status = "internal error (see the server log)", "failed"
            raise
        finally:
            with self._lock:
                job.finished_at = datetime.now(UTC)
            if cleanup:
                cleanup()

    def get(self, job_id: str, owner: str) -> JobOut:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != owner:
                raise NotFoundError(f"no job {job_id!r} of yours")
            return job.model_copy()

    def wait_idle(self, timeout_s: float = 600.0) -> None:
        """Block until every submitted job has run (for orderly shutdown and tests)."""
        self._pool.submit(lambda: None).result(timeout=timeout_s)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
