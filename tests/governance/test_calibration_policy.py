"""Threshold choice on the worst group, and the signed-record rules, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.eval.calibration import LOWEST_SCORE, threshold_for_target_fpir
from retroface.eval.identification import fpir_at
from retroface.governance.calibration_policy import (
    CalibratedPoint,
    check_floor_calibrated,
    check_operating_point_calibrated,
    sign_calibration,
    verified_calibration,
)

KEY = b"0123456789abcdef-test"


def test_threshold_meets_the_target_in_the_worst_group() -> None:
    # Group a's non-mated top scores sit higher than group b's: a decides the threshold.
    tops = np.array([0.95, 0.90, 0.85, 0.80, 0.70, 0.60, 0.50, 0.40])
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])
    chosen = threshold_for_target_fpir(tops, groups, 0.25)
    # One of four may pass in each group: a needs > 0.90, b needs > 0.60.
    assert chosen.worst_group == "a"
    assert chosen.per_group["a"] == pytest.approx(0.90) and chosen.per_group["a"] > 0.90
    assert chosen.per_group["b"] == pytest.approx(0.60) and chosen.per_group["b"] > 0.60
    assert chosen.threshold == chosen.per_group["a"]
    for g in ("a", "b"):
        assert fpir_at(tops[groups == g], chosen.threshold) <= 0.25
    # Any lower threshold lets group a through more often than the target.
    assert fpir_at(tops[groups == "a"], 0.90) > 0.25


def test_without_groups_the_overall_rate_decides_and_a_target_of_one_passes_everything() -> None:
    tops = np.array([0.9, 0.8, 0.7, 0.6])
    half = threshold_for_target_fpir(tops, None, 0.5).threshold  # two of four may pass
    assert half == pytest.approx(0.7) and half > 0.7 and fpir_at(tops, half) == 0.5
    assert threshold_for_target_fpir(tops, None, 1.0).threshold == LOWEST_SCORE
    with pytest.raises(ValueError, match="target FPIR"):
        threshold_for_target_fpir(tops, None, 0.0)
    with pytest.raises(ValueError, match="non-mated"):
        threshold_for_target_fpir(np.zeros(0), None, 0.1)


def _record(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "rec-1",
        "model": "dlib_resnet_v1@abc",
        "dataset": "/data/set",
        "dataset_sha256": "f" * 64,
        "created_at": "2026-11-26T04:00:00+00:00",
        "target_fpir": 0.01,
        "threshold": 0.93,
        "figures": {"fpir": 0.01, "fnir": 0.05},
    }
    return body | changes


def test_a_signed_record_verifies_and_any_edit_or_other_key_is_refused() -> None:
    signed = sign_calibration(_record(), KEY)
    assert verified_calibration(signed, KEY)["threshold"] == 0.93
    for edit in ({"threshold": 0.80}, {"model": "other@1"}, {"figures": {"fpir": 0.0}}):
        with pytest.raises(AuthorisationError, match="does not verify"):
            verified_calibration({**signed, **edit}, KEY)
    with pytest.raises(AuthorisationError, match="does not verify"):
        verified_calibration(signed, b"another-key-of-16-bytes")
    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    with pytest.raises(AuthorisationError, match="does not verify"):
        verified_calibration(unsigned, KEY)
    with pytest.raises(InvalidInputError, match="not a signed calibration"):
        verified_calibration(_record(), KEY)
    with pytest.raises(InvalidInputError, match="at least 16 bytes"):
        sign_calibration(_record(), b"short")


def test_a_floor_needs_a_calibration_of_that_model_at_or_below_it() -> None:
    points = [CalibratedPoint("m@1", 0.92, "r1"), CalibratedPoint("m@2", 0.80, "r2")]
    check_floor_calibrated(0.92, "m@1", points)
    check_floor_calibrated(0.97, "m@1", points)  # stricter is covered
    with pytest.raises(AuthorisationError, match=r"lowest calibrated threshold for it is 0\.9200"):
        check_floor_calibrated(0.85, "m@1", points)  # m@2's calibration does not count
    with pytest.raises(AuthorisationError, match="no calibration record for model m@3"):
        check_floor_calibrated(0.99, "m@3", points)


def test_searching_needs_the_running_model_and_floor_to_be_calibrated() -> None:
    points = [CalibratedPoint("m@1", 0.92, "r1")]
    check_operating_point_calibrated("m@1", 0.93, points)
    with pytest.raises(AuthorisationError, match="model m@2 has no calibration"):
        check_operating_point_calibrated("m@2", 0.93, points)
    with pytest.raises(AuthorisationError, match=r"searching is refused: threshold floor 0\.9 "):
        check_operating_point_calibrated("m@1", 0.9, points)
