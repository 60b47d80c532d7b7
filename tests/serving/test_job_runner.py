"""Background jobs: a bug fails its job and is logged by type only; old records are forgotten;
a person with a full queue is refused."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from pydantic import BaseModel

from retroface.errors import BusyError, NotFoundError
from retroface.serving.jobs import FINISHED_JOBS_KEPT, JobProgress, JobRunner


class Done(BaseModel):
    value: int


def test_a_crashing_job_fails_and_the_log_names_the_type_not_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = JobRunner()

    def crash(_: JobProgress) -> BaseModel:
        raise KeyError("/cases/OP-1/secret-evidence.jpg")

    with caplog.at_level(logging.ERROR, logger="retroface.server"):
        job = runner.submit("search", "officer-1", crash)
        runner.wait_idle()
    failed = runner.get(job.id, "officer-1")
    assert failed.status == "failed" and "internal error" in (failed.error or "")
    assert "KeyError" in caplog.text and "secret-evidence" not in caplog.text
    runner.shutdown()


def test_finished_jobs_are_forgotten_after_the_keeping_period() -> None:
    runner = JobRunner()
    old = runner.submit("search", "officer-1", lambda _: Done(value=1))
    runner.wait_idle()
    assert runner.get(old.id, "officer-1").result == {"value": 1}
    with runner._lock:  # age the finished record past the keeping period
        record = runner._jobs[old.id]
        assert record.finished_at is not None
        record.finished_at -= FINISHED_JOBS_KEPT + timedelta(seconds=1)
    fresh = runner.submit("search", "officer-1", lambda _: Done(value=2))
    runner.wait_idle()
    with pytest.raises(NotFoundError):
        runner.get(old.id, "officer-1")
    assert runner.get(fresh.id, "officer-1").status == "done"
    runner.shutdown()


def test_a_person_with_a_full_queue_is_refused_and_others_are_not() -> None:
    runner = JobRunner(max_pending_per_owner=2)
    release = threading.Event()

    def blocked(_: JobProgress) -> BaseModel:
        release.wait(timeout=30)
        return Done(value=0)

    first = runner.submit("search", "officer-1", blocked)
    runner.submit("search", "officer-1", blocked)
    with pytest.raises(BusyError, match="2 jobs waiting or running"):
        runner.check_capacity("officer-1")
    with pytest.raises(BusyError):
        runner.submit("search", "officer-1", blocked)
    other = runner.submit("search", "officer-2", lambda _: Done(value=3))  # others still queue
    release.set()
    runner.wait_idle()
    assert runner.get(other.id, "officer-2").status == "done"
    assert runner.get(first.id, "officer-1").status == "done"
    runner.check_capacity("officer-1")  # room again once the jobs have run
    runner.shutdown()
