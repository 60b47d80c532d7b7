"""Bulk enrolment on a Dask cluster: the same references as a local run, resumable either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from retroface.errors import InvalidInputError
from retroface.services import App
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import create_gallery
from retroface.services.search.photos import search
from tests.helpers import authorised_case, provenance, provenances

pytestmark = pytest.mark.needs_data


def test_enrolment_on_a_dask_cluster_is_searchable_and_a_local_rerun_adds_nothing(
    app: App, supervisor: App, data: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    train = data / "face_recognition" / "examples" / "knn_examples" / "train"
    create_gallery(supervisor, "custody")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        first = enroll(
            supervisor,
            "custody",
            [train / "biden"],
            subject="biden",
            provenance=provenance("biden-1"),
            dask_address=cluster.scheduler_address,
        )
    assert first.enrolled == len(list((train / "biden").iterdir())) and first.skipped == []

    rest = enroll(supervisor, "custody", [train], provenance=provenances([train]))
    assert rest.already_enrolled == first.enrolled  # the cluster's work counts as done
    assert rest.enrolled + rest.already_enrolled == 9

    probe = data / "face_recognition" / "examples" / "biden.jpg"
    found = search(app, authorised_case(app), "custody", [probe]).probes[0].candidates
    assert found and found[0].subject == "biden"


def test_an_unreachable_scheduler_is_a_clear_error_before_anything_is_stored(
    supervisor: App, data: Path
) -> None:
    train = data / "face_recognition" / "examples" / "knn_examples" / "train"
    create_gallery(supervisor, "custody")
    with pytest.raises(InvalidInputError, match="cannot reach the Dask scheduler"):
        enroll(
            supervisor,
            "custody",
            [train],
            provenance=provenances([train]),
            dask_address="tcp://127.0.0.1:1",
        )
