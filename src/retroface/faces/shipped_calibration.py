"""The project's own calibration of the packaged dlib model, shipped inside the package.

Why shipped: a deployment must be able to search on day one with decisions that
hold their stated error rates, before it has measured anything of its own. The
file holds aggregates only (a cohort's mean and covariance, a survival table,
a handful of regression weights): no template or image of any person. Its
``provenance`` says how it was made (dataset, identities, command); a
deployment that registers its own calibration (``retroface eval calibrate``)
replaces it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SHIPPED_FILE = Path(__file__).parent / "calibrations" / "dlib_resnet_v1.json"


@cache
def shipped_document() -> dict[str, Any] | None:
    """The shipped record, or None in a source tree that has not made it yet."""
    if not SHIPPED_FILE.is_file():
        return None
    with SHIPPED_FILE.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document
