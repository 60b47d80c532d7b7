"""Which face in an image to use: for a reference or a 1:1 comparison, and for a probe.

A reference photo should show one person. When it shows several, we take
the largest only if it clearly dominates (a bystander far behind); two
faces of similar size make the image ambiguous, and guessing would enroll
the wrong person, so we refuse and say so.

A probe image is chosen from by a person (:class:`FaceChoice`), never guessed: the
faces not chosen are bystanders, and are not embedded at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from retroface.errors import InvalidInputError
from retroface.faces.manual_alignment import ManualMark, Point
from retroface.faces.types import AnalysedFace, Box, Detection

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


# A probe image may show several people: an investigator searches the one they are looking
# for, not the bystanders. The faces of an image are numbered 1, 2, … largest first (the
# order FaceEngine.detect gives); a person chooses one by that number or by a box drawn
# around it, marks one the detector missed by hand, or searches every face with a reason.


@dataclass(frozen=True)
class FaceChoice:
    """Which face of a probe image to search; at most one of the four ways is given.

    ``face``: its number in the image's listing (1 = the largest); ``box``: the detected
    face that overlaps this box most; ``all_faces_reason``: every face, for this recorded
    reason; ``mark``: a face the detector missed, marked by hand. None of them: an image
    with one face is searched, one with several is listed for a person to choose.
    """

    face: int | None = None
    box: Box | None = None
    all_faces_reason: str | None = None
    mark: ManualMark | None = None

    def __post_init__(self) -> None:
        reason = (self.all_faces_reason or "").strip() or None
        object.__setattr__(self, "all_faces_reason", reason)
        given = [
            name
            for name, value in (
                ("a face number", self.face),
                ("a box", self.box),
                ("a reason to search all faces", reason),
                ("a face marked by hand", self.mark),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise InvalidInputError(f"choose the face one way only, got {' and '.join(given)}")
        if self.face is not None and self.face < 1:
            raise InvalidInputError(f"faces are numbered from 1, got {self.face}")

    @property
    def picks_one(self) -> bool:
        """A choice of one face in one image (a number, a box or a mark)."""
        return self.face is not None or self.box is not None or self.mark is not None

    @property
    def all_faces(self) -> bool:
        return self.all_faces_reason is not None

    def parameters(self) -> dict[str, Any] | None:
        """The choice as recorded with the search (None: no choice was given)."""
        if self.face is not None:
            return {"by": "number", "face": self.face}
        if self.box is not None:
            return {"by": "box", "box": self.box.as_list()}
        if self.all_faces_reason is not None:
            return {"by": "all faces", "all_faces_reason": self.all_faces_reason}
        if self.mark is not None:
            m = self.mark
            return {
                "by": "marked by hand",
                "box": m.box.as_list(),
                "eyes": [list(p) for p in m.eyes],
                "nose": list(m.nose) if m.nose else None,
                "mouth": [list(p) for p in m.mouth] if m.mouth else None,
            }
        return None


def choose_faces(detections: Sequence[Detection], choice: FaceChoice) -> list[Detection] | None:
    """The detected faces to analyse (``detections`` largest first), or None when the image
    holds several faces and no choice was given (a person must choose). A number past the
    last face, or a box no face overlaps, is refused. A face marked by hand is not chosen
    from detections: see :func:`check_mark_is_missed`."""
    if choice.all_faces:
        return list(detections)
    if choice.face is not None:
        if choice.face > len(detections):
            found = f"{len(detections)} face{'s' if len(detections) != 1 else ''}"
            raise InvalidInputError(
                f"face {choice.face} was asked for, but the image holds {found}"
                + (" (a face the detector missed can be marked by hand)" if not detections else "")
            )
        return [detections[choice.face - 1]]
    if choice.box is not None:
        overlaps = [(overlap(d.box, choice.box), i) for i, d in enumerate(detections)]
        best, index = max(overlaps, default=(0.0, -1), key=lambda o: (o[0], -o[1]))
        if best <= 0.0:
            b = choice.box
            raise InvalidInputError(
                f"no detected face overlaps the box {b.x},{b.y},{b.w},{b.h} "
                f"({len(detections)} found): draw the box around a face, or mark by hand "
                "a face the detector missed"
            )
        return [detections[index]]
    if len(detections) > 1:
        return None
    return list(detections)


def check_mark_is_missed(detections: Sequence[Detection], mark: ManualMark) -> None:
    """Refuse to mark by hand a face the detector found (both marked eyes inside its box):
    the detector's own landmarks place it better, and "marked by hand" must mean missed."""
    for number, d in enumerate(detections, start=1):
        b = d.box
        if all(b.x <= x < b.x + b.w and b.y <= y < b.y + b.h for x, y in mark.eyes):
            raise InvalidInputError(
                f"the detector found the marked face (face {number}, box "
                f"{b.x},{b.y},{b.w},{b.h}): choose it by its number instead of marking it"
            )


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0: they do not overlap)."""
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / float(a.w * a.h + b.w * b.h - inter)


def parse_box(text: str, what: str = "box") -> Box:
    """``x,y,w,h`` in whole pixels (left, top, width, height) → a :class:`Box`."""
    values = _numbers(text, 4, what, "x,y,w,h")
    if any(v != int(v) for v in values):
        raise InvalidInputError(f"{what}: give whole pixels as x,y,w,h, got {text!r}")
    x, y, w, h = (int(v) for v in values)
    if w < 1 or h < 1:
        raise InvalidInputError(f"{what}: width and height must be at least 1, got {text!r}")
    return Box(x, y, w, h)


def parse_point_pair(text: str, what: str) -> tuple[Point, Point]:
    """``x1,y1,x2,y2`` → two points."""
    x1, y1, x2, y2 = _numbers(text, 4, what, "x1,y1,x2,y2")
    return (x1, y1), (x2, y2)


def parse_point(text: str, what: str) -> Point:
    """``x,y`` → one point."""
    x, y = _numbers(text, 2, what, "x,y")
    return x, y


def face_choice_from(
    *,
    face: int | None = None,
    box: str | None = None,
    all_faces_reason: str | None = None,
    mark: str | None = None,
    eyes: str | None = None,
    nose: str | None = None,
    mouth: str | None = None,
) -> FaceChoice:
    """A :class:`FaceChoice` from the text a person types (the CLI's options, the API's
    form fields): boxes as ``x,y,w,h``, eyes and mouth as ``x1,y1,x2,y2``, nose ``x,y``."""
    if mark is None and (eyes or nose or mouth):
        raise InvalidInputError("eye, nose and mouth points go with a face marked by hand (mark)")
    manual = None
    if mark is not None:
        if not eyes:
            raise InvalidInputError(
                "a face marked by hand needs its two eye centres (eyes: x1,y1,x2,y2)"
            )
        manual = ManualMark(
            box=parse_box(mark, "mark"),
            eyes=parse_point_pair(eyes, "eyes"),
            nose=parse_point(nose, "nose") if nose else None,
            mouth=parse_point_pair(mouth, "mouth") if mouth else None,
        )
    return FaceChoice(
        face=face,
        box=parse_box(box) if box is not None else None,
        all_faces_reason=all_faces_reason,
        mark=manual,
    )


def _numbers(text: str, count: int, what: str, form: str) -> list[float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise InvalidInputError(f"{what}: give {count} numbers as {form}, got {text!r}")
    return values
