"""dlib's tiled image pyramid for the MMOD face detector, rebuilt in NumPy.

Why rebuild it rather than resize the image ourselves: dlib's detector does
not run its network on each pyramid level separately. Its input layer
(``input_rgb_image_pyramid<pyramid_down<6>>``) lays the image and every 5/6
downscaled copy side by side in one zero-padded plane and convolves that
plane once. To get dlib's scores (and so dlib's detections) we must feed the
network the same plane, and map a score's position back through the same
tiles. This module does both, following dlib's ``image_pyramid.h`` and
``dnn/input.h``:

* level sizes: each level is ``floor(5/6 · size)`` of the one before, down to
  5 rows;
* layout: levels go down the left edge, ``padding`` pixels apart, until the
  rest fits beside them, then up the right edge from the bottom; the plane has
  ``outer_padding`` zeros all round;
* pixels: level 0 is (pixel − channel mean) / 256; each further level is a
  bilinear resize of the previous one as stored in the plane, sampling the
  source at ``c · (w_in − 1) / (w_out − 1)`` (corners aligned);
* mapping back: a plane point belongs to the tile containing it (else the
  nearest tile), and goes up one level at a time by ``p · 6/5 + 0.3``.

For speed a pyramid may keep only every ``level_step``-th of dlib's levels
(sizes and mapping unchanged, each kept level resized straight from the one
kept before it). The network tolerates a face some way off its 80 px window,
so a step of 2 (levels 0.69x apart) costs little recall and 40% of the work.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

PYRAMID_RATE = 5 / 6  # dlib's pyramid_down<6>
_MIN_LEVEL_ROWS = 5


@dataclass(frozen=True)
class Tile:
    """One pyramid level's place in the plane (dlib's inclusive rectangle) and its dlib level."""

    left: int
    top: int
    right: int
    bottom: int
    level: int = 0

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x <= self.right and self.top <= y <= self.bottom

    def distance(self, x: float, y: float) -> float:
        nx = min(max(x, self.left), self.right)
        ny = min(max(y, self.top), self.bottom)
        return math.hypot(nx - x, ny - y)


@dataclass(frozen=True)
class PyramidLayout:
    """Where each level of an image of ``rows`` x ``cols`` lies in a plane of ``plane_shape``."""

    tiles: tuple[Tile, ...]
    plane_shape: tuple[int, int]  # rows, cols

    def level_of(self, x: float, y: float) -> int:
        """The level whose tile holds plane point (x, y) (rounded), or the nearest tile's."""
        px, py = _round_half_away(x), _round_half_away(y)
        for index, tile in enumerate(self.tiles):
            if tile.contains(px, py):
                return index
        return min(range(len(self.tiles)), key=lambda i: self.tiles[i].distance(px, py))

    def to_image(self, x: float, y: float, index: int) -> tuple[float, float]:
        """A plane point, taken as lying in tile ``index``, in level-0 image pixels."""
        tile = self.tiles[index]
        x, y = x - tile.left, y - tile.top
        for _ in range(tile.level):
            x, y = x / PYRAMID_RATE + 0.3, y / PYRAMID_RATE + 0.3
        return x, y


def _round_half_away(value: float) -> int:
    return math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)


def level_sizes(rows: int, cols: int) -> list[tuple[int, int]]:
    """(rows, cols) of every level, the image first; dlib stops below 5 rows."""
    sizes = [(rows, cols)]
    while True:
        rows, cols = math.floor(PYRAMID_RATE * rows), math.floor(PYRAMID_RATE * cols)
        if rows * cols == 0 or rows < _MIN_LEVEL_ROWS:
            return sizes
        sizes.append((rows, cols))


def pyramid_layout(
    rows: int,
    cols: int,
    padding: int = 10,
    outer_padding: int = 11,
    level_step: int = 1,
    max_levels: int | None = None,
) -> PyramidLayout:
    """dlib's ``compute_tiled_image_pyramid_details`` for pyramid_down<6>.

    ``level_step`` > 1 keeps only dlib's levels 0, step, 2·step, ...;
    ``max_levels`` keeps only the first few of those (faces of about one size).
    """
    if level_step < 1 or (max_levels is not None and max_levels < 1):
        raise ValueError("level_step and max_levels must be at least 1")
    kept = list(enumerate(level_sizes(rows, cols)))[::level_step][:max_levels]
    levels = [level for level, _ in kept]
    sizes = [size for _, size in kept]
    total_height = sum(h + padding for h, _ in sizes) - 2 * padding
    height, prev_width = 0, 0
    for h, w in sizes:
        # Go down the first column until the next level fits beside the previous one
        # and the column is at least half the total height.
        if w <= cols - prev_width - padding and (height - rows) * 2 >= total_height - rows:
            break
        height += h + padding
        prev_width = w
    height -= padding
    tiles: list[Tile] = []
    y = outer_padding
    while y < height + outer_padding and len(tiles) < len(sizes):
        h, w = sizes[len(tiles)]
        level = levels[len(tiles)]
        tiles.append(Tile(outer_padding, y, outer_padding + w - 1, y + h - 1, level))
        y += h + padding
    y -= padding
    while len(tiles) < len(sizes):  # the rest go up the right-hand edge, from the bottom
        h, w = sizes[len(tiles)]
        right, bottom = outer_padding + cols - 1, y - 1
        tile = Tile(right - (w - 1), bottom - (h - 1), right, bottom, levels[len(tiles)])
        first = tiles[0]
        if tile.left <= first.right and tile.top <= first.bottom:
            break  # it would overlap the image itself: dlib drops the remaining levels
        tiles.append(tile)
        y -= h + padding
    return PyramidLayout(tuple(tiles), (height + 2 * outer_padding, cols + 2 * outer_padding))


Resizer = Callable[[NDArray[np.float32], int, int], NDArray[np.float32]]


def resize_aligned(src: NDArray[np.float32], rows: int, cols: int) -> NDArray[np.float32]:
    """Bilinear resize of (C, h, w) with corners aligned, as dlib's ``resize_image``."""
    in_rows, in_cols = src.shape[1:]
    ys = np.arange(rows) * ((in_rows - 1) / max(rows - 1, 1))
    xs = np.arange(cols) * ((in_cols - 1) / max(cols - 1, 1))
    top = np.floor(ys).astype(np.intp)
    left = np.floor(xs).astype(np.intp)
    bottom = np.minimum(top + 1, in_rows - 1)
    right = np.minimum(left + 1, in_cols - 1)
    fy = (ys - top).astype(np.float32)[:, None]
    fx = (xs - left).astype(np.float32)
    upper, lower = src[:, top, :], src[:, bottom, :]
    mixed = upper * (1 - fy) + lower * fy
    resized: NDArray[np.float32] = mixed[:, :, left] * (1 - fx) + mixed[:, :, right] * fx
    return resized


def build_plane(
    pixels: NDArray[np.uint8],
    layout: PyramidLayout,
    mean_rgb: tuple[float, float, float],
    scale: float = 256.0,
    resize: Resizer = resize_aligned,
) -> NDArray[np.float32]:
    """The network input for an (H, W, 3) uint8 RGB image: a (3, rows, cols) float32 plane.

    ``resize`` makes each level from the one before ((3, h, w) float32 to the
    given rows and columns, corners aligned); ONNX Runtime's is ~5x faster
    than this module's NumPy one, and equal to within 1e-4.
    """
    plane = np.zeros((3, *layout.plane_shape), dtype=np.float32)
    mean = np.asarray(mean_rgb, dtype=np.float32).reshape(3, 1, 1)
    first = layout.tiles[0]
    level = plane[:, first.top : first.bottom + 1, first.left : first.right + 1]
    level[...] = np.moveaxis(pixels, 2, 0)
    level -= mean
    level *= np.float32(1 / scale)  # a power of two: the same as dlib's division
    for tile in layout.tiles[1:]:
        level = resize(level, tile.height, tile.width)
        plane[:, tile.top : tile.bottom + 1, tile.left : tile.right + 1] = level
    return plane
