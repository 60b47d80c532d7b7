"""Where a point of an enhanced image lies in the original evidence image.

Why: an enhanced probe is chosen, marked and searched in the enhanced image, but
the quality that decides whether it may be searched without a justification is
the original's (sharpening or enlarging a face does not make the evidence any
better; matchability was calibrated on unenhanced faces). To measure the same face
in the original, its position is carried back through the geometric steps
(crop, rotate, mirror, upscale); the photometric steps (brightness, denoise,
sharpen, deinterlace...) leave every pixel where it was.

Coordinates are continuous: (0, 0) is the top-left corner of the top-left pixel, so
an image W pixels wide spans x in [0, W].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from retroface.media.enhancement import Step, Value

Point = tuple[float, float]
Size = tuple[int, int]  # (width, height)


def _size_after(op: str, params: Mapping[str, Value], size: Size) -> Size:
    """The image size a step leaves (as the operation in media/enhancement.py makes it)."""
    width, height = size
    if op == "crop":
        return int(params["w"]), int(params["h"])
    if op == "upscale":
        factor = float(params["factor"])
        return max(1, round(width * factor)), max(1, round(height * factor))
    if op == "rotate":
        degrees = float(params["degrees"]) % 360.0
        if degrees % 90.0 == 0.0:
            return (height, width) if int(degrees // 90.0) % 2 else (width, height)
        return _pil_rotation(degrees, size)[1]
    return width, height


def _pil_rotation(degrees: float, size: Size) -> tuple[tuple[float, ...], Size]:
    """The affine map from the rotated image back to the source, and the rotated size,
    computed as Pillow's ``Image.rotate(..., expand=True)`` computes them (so the mapping
    is the one the pixels went through, to rounding)."""
    width, height = size
    angle = -math.radians(degrees)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)

    def turn(x: float, y: float, c: float = 0.0, f: float = 0.0) -> tuple[float, float]:
        return cos * x + sin * y + c, -sin * x + cos * y + f

    c, f = turn(-width / 2, -height / 2)
    c, f = c + width / 2, f + height / 2
    corners = [turn(x, y, c, f) for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    new_w = math.ceil(max(p[0] for p in corners)) - math.floor(min(p[0] for p in corners))
    new_h = math.ceil(max(p[1] for p in corners)) - math.floor(min(p[1] for p in corners))
    c, f = turn(-(new_w - width) / 2.0, -(new_h - height) / 2.0, c, f)
    return (cos, sin, c, -sin, cos, f), (new_w, new_h)


def _back_one(
    op: str, params: Mapping[str, Value], point: Point, before: Size, after: Size
) -> Point:
    """A point of the image after one step, in the image before it."""
    x, y = point
    width, height = before
    if op == "crop":
        return x + float(params["x"]), y + float(params["y"])
    if op == "upscale":
        return x * width / after[0], y * height / after[1]
    if op == "mirror":
        return (width - x, y) if params["axis"] == "horizontal" else (x, height - y)
    if op == "rotate":
        degrees = float(params["degrees"]) % 360.0
        if degrees % 90.0 == 0.0:
            turns = int(degrees // 90.0) % 4  # numpy's rot90: counter-clockwise quarter turns
            if turns == 1:
                return width - y, x
            if turns == 2:
                return width - x, height - y
            if turns == 3:
                return y, height - x
            return x, y
        a, b, c, d, e, f = _pil_rotation(degrees, before)[0]
        return a * x + b * y + c, d * x + e * y + f
    return x, y


def points_in_original(
    points: Sequence[Point], steps: Sequence[Step], original: Size
) -> list[Point]:
    """``points`` of the image after every step, placed in the original image."""
    sizes = [original]
    for step in steps:
        sizes.append(_size_after(step.op, dict(step.params), sizes[-1]))
    out = list(points)
    for n in range(len(steps) - 1, -1, -1):
        params = dict(steps[n].params)
        out = [_back_one(steps[n].op, params, p, sizes[n], sizes[n + 1]) for p in out]
    return out


def box_in_original(
    box: tuple[float, float, float, float], steps: Sequence[Step], original: Size
) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the enhanced image as the smallest box of the original holding its
    four corners, clipped to the original (a rotation other than a quarter turn gives a
    slightly larger box, which is what matching a detection by overlap needs)."""
    x, y, w, h = box
    corners = points_in_original([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], steps, original)
    left = max(0.0, min(p[0] for p in corners))
    top = max(0.0, min(p[1] for p in corners))
    right = min(float(original[0]), max(p[0] for p in corners))
    bottom = min(float(original[1]), max(p[1] for p in corners))
    return (round(left), round(top), max(0, round(right - left)), max(0, round(bottom - top)))


def scale_to_original(steps: Sequence[Step], original: Size) -> float:
    """How many original pixels one pixel of the enhanced image spans: a length measured in
    the enhanced image (the inter-eye distance) times this is its length in the original."""
    sizes = [original]
    for step in steps:
        sizes.append(_size_after(step.op, dict(step.params), sizes[-1]))
    scale = 1.0
    for n, step in enumerate(steps):
        if step.op == "upscale":
            scale *= sizes[n][0] / sizes[n + 1][0]
    return scale
