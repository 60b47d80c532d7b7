"""Background jobs: long searches run off the request, and the client polls their progress.

One worker thread runs jobs in order (the face engine already uses every
core through its process pool, so running two searches at once would only
make both slower). A job belongs to the user who started it; only they can
see it. Job records live in memory: the work itself is durable, because the
service writes its search, candidates and audit events to the database as
it goes; a server restart loses only the job's progress figure. A finished
job's record is kept for an hour for its owner to collect, then forgotten,
so a long-running server does not grow with every search it ever ran.
Each person may have a few jobs waiting or running at once; more are
refused (HTTP 429) before their uploads are stored, so one client cannot
fill the queue that every other user waits in.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from retroface.errors import BusyError, NotFoundError, RetrofaceError

JobStatus = Literal["queued", "running", "done", "failed"]
FINISHED_JOBS_KEPT = timedelta(hours=1)
MAX_PENDING_PER_OWNER = 8
log = logging.getLogger("retroface.server")


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


class Redactor(Protocol):
    """What a job's result and error message pass through before anyone can read them."""

    def __call__(self, text: str) -> str: ...

    def json(self, value: Any) -> Any: ...


class _Unchanged:
    def __call__(self, text: str) -> str:
        return text

    def json(self, value: Any) -> Any:
        return value


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
    def __init__(self, max_pending_per_owner: int = MAX_PENDING_PER_OWNER) -> None:
        self.max_pending_per_owner = max_pending_per_owner
        self._jobs: dict[str, JobOut] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retroface-job")

    def submit(
        self,
        kind: str,
        owner: str,
        work: Callable[[JobProgress], BaseModel],
        cleanup: Callable[[], None] | None = None,
        redact: Redactor | None = None,
    ) -> JobOut:
        """Queue ``work``; ``redact`` rewrites every string of its result and error message
        (e.g. stored upload paths into the names the uploader gave)."""
        job = JobOut(
            id=uuid.uuid4().hex, kind=kind, status="queued", owner=owner,
            submitted_at=datetime.now(UTC),
        )  # fmt: skip
        with self._lock:
            self._check_capacity(owner)
            self._forget_old_jobs(job.submitted_at)
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work, cleanup, redact or _Unchanged())
        return job.model_copy()

    def _run(
        self,
        job: JobOut,
        work: Callable[[JobProgress], BaseModel],
        cleanup: Callable[[], None] | None,
        redact: Redactor,
    ) -> None:
        with self._lock:
            job.status = "running"
        try:
            result = redact.json(work(JobProgress(job, self._lock)).model_dump(mode="json"))
            with self._lock:
                job.result, job.status = result, "done"
        except RetrofaceError as exc:
            with self._lock:
                job.error, job.status = redact(str(exc)), "failed"
        except Exception as exc:  # a bug: record that the job failed, keep the server up
            with self._lock:
                job.error, job.status = "internal error (see the server log)", "failed"
            # The type and where, never the message: it may hold paths or data of the case.
            where = " <- ".join(
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
                for frame in reversed(traceback.extract_tb(exc.__traceback__)[-6:])
            )
            log.error("job %s (%s) failed: %s at %s", job.id, job.kind, type(exc).__name__, where)
        finally:
            with self._lock:
                job.finished_at = datetime.now(UTC)
            if cleanup:
                cleanup()

    def check_capacity(self, owner: str) -> None:
        """Refuse a new job of ``owner`` while their queue is full (before any upload is kept)."""
        with self._lock:
            self._check_capacity(owner)

    def _check_capacity(self, owner: str) -> None:
        pending = sum(
            1 for j in self._jobs.values() if j.owner == owner and j.status in ("queued", "running")
        )
        if pending >= self.max_pending_per_owner:
            raise BusyError(
                f"you have {pending} jobs waiting or running, the most allowed at once; "
                "try again when one has finished"
            )

    def _forget_old_jobs(self, now: datetime) -> None:
        """Drop records of jobs finished over FINISHED_JOBS_KEPT ago (caller holds the lock)."""
        cutoff = now - FINISHED_JOBS_KEPT
        for job_id in [
            j.id for j in self._jobs.values() if j.finished_at and j.finished_at < cutoff
        ]:
            del self._jobs[job_id]

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
