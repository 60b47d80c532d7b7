"""Several stills or sightings of one unknown person fused into one probe template.

Why one template and not one search per still: searching k stills one by one gives k
candidate lists to review and k chances per gallery template for an impostor to
clear the bar, so the stated false-positive rate no longer holds unless the bar is
raised for k x N comparisons; and it hides the agreement between the stills.

Why the mean of the unit templates, at length ``|mean| ** 0.75``: measured on LFW
(bench/multi_probe.py, docs/trust.md: half B of LFW, held out from the calibration, 304
people, a 1,000-subject gallery, stills clean and with one CCTV degradation each), the
mean template separates mates from everyone else better than score fusion (FNIR at
FPIR 1%, three degraded stills: 0.43 against 0.54 for the max of the stills' scores and
0.48 for their mean; one still: 0.67). Weighting by matchability changed little (the
same at the bar; a few points better on degraded stills at matched FPIR, within
sampling noise), so the simpler mean is used. But re-normalised to unit length the mean's scores all rise by
``1/|mean|``, against a bar measured for single stills: three stills then gave 4-6%
false candidates where one gave 1.8%. Left at its own length (``|mean| < 1``) its scores
are the mean of the stills' scores, which holds FPIR but gives back the gain. In between,
``|mean| ** gamma``, fitted on one half of the people and seen on the other, 0.75 is
the exponent at which fused probes raise no more false candidates than single stills
(FPIR 1.0-1.4% against 1.8%), while missing fewer mates at the deployment's bar (three
stills: FNIR 0.25 against 0.36 clean, 0.50 against 0.63 degraded; rank-1 0.95 against
0.75 degraded). So the fused probe is searched under the ordinary decision rule, with
its ordinary bar, and raises no more false candidates than one still would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from retroface.errors import InvalidInputError

#: The fused template's length is ``|mean| ** LENGTH_EXPONENT`` (bench/multi_probe.py).
LENGTH_EXPONENT = 0.75

#: The fusion recorded with every fused probe (the search's parameters, the lead face).
FUSION_METHOD = f"template mean of unit templates, at length |mean|^{LENGTH_EXPONENT}"

#: A sighting stored before its views' agreement was recorded (migration 0022) is held to
#: the bar of one whose views agree this little: below every real sighting measured
#: (0.976-1.0 on the shipped clips, docs/trust.md), so its bar is not lowered by the gap.
UNRECORDED_AGREEMENT = 0.95


def fuse_templates(templates: Sequence[NDArray[np.floating]]) -> NDArray[np.float32]:
    """The mean of unit templates (the engine's embeddings are unit length), at length
    ``|mean| ** LENGTH_EXPONENT`` (at most 1: its scores never exceed a unit probe's).

    Refuses an empty list, and parts that cancel out (no direction left), which real
    templates of one face model never do."""
    if not templates:
        raise InvalidInputError("no still of the person was good enough to search")
    stacked = np.stack([np.asarray(t, dtype=np.float64) for t in templates])
    norms = np.linalg.norm(stacked, axis=1, keepdims=True)
    mean = (stacked / np.maximum(norms, 1e-12)).mean(axis=0)
    length = float(np.linalg.norm(mean))
    if length < 1e-6:
        raise InvalidInputError("the stills' templates cancel out: they cannot be one probe")
    fused: NDArray[np.float32] = (mean * length ** (LENGTH_EXPONENT - 1.0)).astype(np.float32)
    return fused


def fused_direction(
    vectors: NDArray[np.floating], weights: NDArray[np.floating]
) -> tuple[NDArray[np.float32], float]:
    """(unit template, agreement): the direction of the weighted mean of unit views, and
    the mean's length (1 when the views agree exactly, less as they differ).

    Why keep the agreement: a re-normalised mean scores ``1/agreement`` higher against
    everyone than its views do on average, so a search holds such a template to a bar
    raised by ``agreement ** LENGTH_EXPONENT`` (faces/open_set.py, ``OpenSetModel.bar``),
    the correction fused stills get by being shortened, while its score stays the one
    its direction gives (what the deployment's floor and the reviewer read)."""
    stacked = np.asarray(vectors, dtype=np.float64)
    stacked = stacked / np.maximum(np.linalg.norm(stacked, axis=1, keepdims=True), 1e-12)
    w = np.asarray(weights, dtype=np.float64)
    mean = (stacked * w[:, None]).sum(axis=0) / max(float(w.sum()), 1e-12)
    length = float(np.linalg.norm(mean))
    template = (mean / max(length, 1e-12)).astype(np.float32)
    return template, min(1.0, length)
