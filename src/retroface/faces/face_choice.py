"""Which face in an image a reference or 1:1 comparison should use.

A reference photo should show one person. When it shows several, we take
the largest only if it clearly dominates (a bystander far behind); two
faces of similar size make the image ambiguous, and guessing would enroll
the wrong person, so we refuse and say so.
"""

from __future__ import annotations

from retroface.faces import AnalysedFace

DOMINANCE_AREA_RATIO = 2.0


def choose_single_face(faces: list[AnalysedFace]) -> AnalysedFace | str:
    """The face to use, or the reason no face can be chosen."""
    if not faces:
        return "no face found"
    ranked = sorted(faces, key=lambda f: -f.detection.box.w * f.detection.box.h)
    if len(ranked) == 1:
        return ranked[0]
    first, second = ranked[0].detection.box, ranked[1].detection.box
    if first.w * first.h >= DOMINANCE_AREA_RATIO * second.w * second.h:
        return ranked[0]
    return f"{len(faces)} faces of similar size found; use a photo showing only this person"
