"""No operating threshold and no model without a signed calibration record behind it.

A force must know the accuracy and bias of the system at the threshold it
runs (Bridges [2020] EWCA Civ 1058, para 199; NIST IR 8280). So the
threshold floor and the face model of a deployment may change only to a
point that a calibration measured: a record that names the model, the
dataset (by hash), the target false-positive rate, the threshold chosen on
the worst group and the figures behind it, signed (HMAC-SHA256) by whoever
holds the deployment's signing key so that nobody edits the figures between
measurement and registration.

A floor at or above a calibrated threshold is covered by it: raising the
threshold can only lower the false-positive rate. The default model ships
with one calibration (the project's own LFW measurement behind
``DEFAULT_THRESHOLD``), so a fresh deployment searches at the default
without further ceremony; anything else needs a record of its own.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.audit import canonical_json

ALGORITHM = "HMAC-SHA256"
RECORD_TYPE = "retroface-calibration"
MIN_KEY_BYTES = 16
REQUIRED_FIELDS = (
    "model",
    "dataset",
    "dataset_sha256",
    "created_at",
    "target_fpir",
    "threshold",
    "figures",
)


@dataclass(frozen=True)
class CalibratedPoint:
    """What a registered (or shipped) calibration allows: this model at or above this threshold."""

    model: str
    threshold: float
    source: str  # record id, or "shipped default"


def sign_calibration(body: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The body with its type, algorithm and signature over the canonical JSON of the rest."""
    _check_key(key)
    unsigned = {**body, "type": RECORD_TYPE, "algorithm": ALGORITHM}
    unsigned.pop("signature", None)
    signature = hmac.new(key, canonical_json(unsigned).encode(), hashlib.sha256).hexdigest()
    return {**unsigned, "signature": signature}


def verified_calibration(document: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The document if its signature holds and it is complete; refuse it otherwise."""
    _check_key(key)
    if document.get("type") != RECORD_TYPE or document.get("algorithm") != ALGORITHM:
        raise InvalidInputError(f"not a signed calibration record ({RECORD_TYPE}, {ALGORITHM})")
    missing = [f for f in REQUIRED_FIELDS if f not in document]
    if missing:
        raise InvalidInputError(f"the calibration record lacks {', '.join(missing)}")
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    expected = hmac.new(key, canonical_json(unsigned).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(document.get("signature", ""))):
        raise AuthorisationError(
            "the calibration record's signature does not verify: it was changed after it was "
            "signed, or signed with another key"
        )
    threshold = document["threshold"]
    if not isinstance(threshold, int | float) or not -1.0 <= float(threshold) <= 1.0:
        raise InvalidInputError("the calibration record's threshold is not a cosine similarity")
    return document


def check_floor_calibrated(floor: float, model: str, points: list[CalibratedPoint]) -> None:
    """Refuse a threshold floor that no calibration of the running model covers."""
    covering = [p for p in points if p.model == model and p.threshold <= floor]
    if covering:
        return
    known = sorted(p.threshold for p in points if p.model == model)
    lowest = f"; the lowest calibrated threshold for it is {known[0]:.4f}" if known else ""
    raise AuthorisationError(
        f"threshold floor {floor} has no calibration record for model {model}{lowest}; "
        "measure one with 'retroface eval calibrate' and register it with "
        "'retroface deployment calibration register'"
    )


def check_operating_point_calibrated(
    model: str, floor: float, points: list[CalibratedPoint]
) -> None:
    """Refuse to search with a model, or at a floor, that no calibration record covers."""
    if not any(p.model == model for p in points):
        raise AuthorisationError(
            f"searching is refused: model {model} has no calibration record in this "
            "deployment; measure one with 'retroface eval calibrate' and have an admin "
            "register it with 'retroface deployment calibration register'"
        )
    try:
        check_floor_calibrated(floor, model, points)
    except AuthorisationError as exc:
        raise AuthorisationError(f"searching is refused: {exc}") from exc


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise InvalidInputError(f"the signing key must be at least {MIN_KEY_BYTES} bytes")
