"""Group unknown faces that are probably the same person ("who appears in several clips?").

dlib's Chinese whispers: a graph with an edge between every two templates
closer than the threshold, labels spread along edges until stable. It needs
no number of clusters (an investigator does not know how many people there
are) and is deterministic (dlib seeds it), so the same footage gives the
same groups. The graph is built from all pairs, which is fine for the
thousands of sightings of a case; it is not meant for a whole gallery.
"""

from __future__ import annotations

import math

import dlib
import numpy as np
from numpy.typing import NDArray

#: Cosine similarity above which two sightings are linked (same-person pairs in dlib's
#: space score above about 0.92; different people mostly below 0.88).
DEFAULT_MIN_SIMILARITY = 0.92


def cluster_templates(
    templates: NDArray[np.float32], min_similarity: float = DEFAULT_MIN_SIMILARITY
) -> list[int]:
    """A cluster label per row of ``templates``, numbered from 0 by size. Rows are compared
    by direction (cosine): a fused sighting template is shorter than a unit one
    (faces/probe_fusion.py), which says how far to trust its scores against a gallery,
    not who it is."""
    if not 0.0 < min_similarity < 1.0:
        raise ValueError(f"min_similarity must be in (0, 1), got {min_similarity}")
    if len(templates) == 0:
        return []
    rows = np.asarray(templates, dtype=np.float64)
    templates = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    # For unit vectors, |a - b| = sqrt(2 - 2 cos): the same threshold as a distance.
    distance = math.sqrt(2.0 - 2.0 * min_similarity)
    vectors = [dlib.vector(row.astype(float).tolist()) for row in templates]
    raw = dlib.chinese_whispers_clustering(vectors, distance)
    sizes: dict[int, int] = {}
    for label in raw:
        sizes[label] = sizes.get(label, 0) + 1
    order = sorted(sizes, key=lambda label: (-sizes[label], raw.index(label)))
    renumber = {label: i for i, label in enumerate(order)}
    return [renumber[label] for label in raw]
