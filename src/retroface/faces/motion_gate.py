"""Motion gating of footage scans: look for new faces only where the picture changed.

Why: a CCTV camera is mostly still. Between two full-frame scans a new face can only
appear where pixels changed (someone walked in, turned round, stood up); the faces
already followed are re-found around their tracks anyway. So a full scan may skip the
parts of the frame that did not change, which on a quiet camera is nearly all of it.

How (no model): each full scan keeps a grid of block means of the luma (green channel,
:data:`BLOCK_PX` px blocks, sampled every 4th pixel); the next full scan compares its
grid with it, and a block whose mean moved by :data:`MIN_CHANGE` grey levels or more
changed. The changed blocks of the last two intervals count, so a face that moved in and
then stood still is still searched once more. Every ``complete_every_s`` seconds of video
(and after a shot change, and at a segment's start) the scan is complete whatever moved:
the safety net for a face that appears without changing the picture much (lights,
compression), as the periodic full scans were before gating.

The slow fallback detector (dlib's HOG where BlazeFace finds nobody, at most every 5 s)
is gated the same way by :class:`SinceLastLook`: on a still camera with nobody in view it
would search the same empty picture again and again (two seconds a 1080p frame, more than
everything else together). It looks only where the picture changed since it last looked
there, with a margin, and not at all where nothing did.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: Side (px) of the blocks whose luma means are compared.
BLOCK_PX = 16
#: Change of a block's mean luma (grey levels, 0-255) that counts as motion: well above
#: H.264's noise on a 16 px block mean, well below a face passing.
MIN_CHANGE = 8.0
_STEP = 4  # pixels sampled per block side: 1/16 of the pixels, means within a grey level


def luma_blocks(pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Block means of the green channel (a cheap luma), :data:`BLOCK_PX` px blocks."""
    rows, cols = pixels.shape[0] // BLOCK_PX, pixels.shape[1] // BLOCK_PX
    sampled = pixels[: rows * BLOCK_PX : _STEP, : cols * BLOCK_PX : _STEP, 1]
    per = BLOCK_PX // _STEP
    blocks: NDArray[np.float32] = sampled.reshape(rows, per, cols, per).mean(
        axis=(1, 3), dtype=np.float32
    )
    return blocks


class MotionGate:
    """Feed each full scan's frame to :meth:`changed`; it says where to look."""

    def __init__(self, complete_every_s: float) -> None:
        self.complete_every_s = complete_every_s
        self._reference: NDArray[np.float32] | None = None
        self._previous: NDArray[np.bool_] | None = None
        self._last_complete_s: float | None = None

    def changed(
        self, pixels: NDArray[np.uint8], time_s: float, cut: bool
    ) -> NDArray[np.bool_] | None:
        """The blocks that changed since the last two full scans, or None when this scan
        must be complete (the first, after a cut, or the periodic safety net)."""
        blocks = luma_blocks(pixels)
        reference, previous = self._reference, self._previous
        self._reference = blocks
        complete = (
            cut
            or reference is None
            or reference.shape != blocks.shape
            or self._last_complete_s is None
            or time_s - self._last_complete_s >= self.complete_every_s - 1e-6
        )
        if complete:
            self._last_complete_s = time_s
            self._previous = None
            return None
        assert reference is not None
        moved: NDArray[np.bool_] = np.abs(blocks - reference) >= MIN_CHANGE
        self._previous = moved
        return moved if previous is None else moved | previous


def touches(changed: NDArray[np.bool_], x: int, y: int, side: int) -> bool:
    """Whether the square (x, y, side) in frame pixels covers a changed block."""
    rows, cols = changed.shape
    c0, r0 = max(x // BLOCK_PX, 0), max(y // BLOCK_PX, 0)
    c1 = min(-(-(x + side) // BLOCK_PX), cols)
    r1 = min(-(-(y + side) // BLOCK_PX), rows)
    return c1 > c0 and r1 > r0 and bool(changed[r0:r1, c0:c1].any())


#: Margin (share of the frame's height) around the changed blocks the fallback searches:
#: the blocks a person changes hold their face, and a face this big still lies whole in it.
LOOK_MARGIN = 0.25


class SinceLastLook:
    """Where the picture changed since a detector last looked there (see the module's
    docstring): :meth:`region` says where to look now and remembers that it did."""

    def __init__(self) -> None:
        self._reference: NDArray[np.float32] | None = None

    def region(self, pixels: NDArray[np.uint8], cut: bool) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) to look in (the whole frame after a cut or at the first look),
        or None where nothing changed since the last look. Blocks outside the region keep
        their old reference: a slow drift still adds up until it counts."""
        height, width = pixels.shape[:2]
        blocks = luma_blocks(pixels)
        reference = self._reference
        if cut or reference is None or reference.shape != blocks.shape:
            self._reference = blocks
            return (0, 0, width, height)
        moved = np.abs(blocks - reference) >= MIN_CHANGE
        if not moved.any():
            return None
        rows, cols = np.nonzero(moved)
        margin = round(LOOK_MARGIN * height)
        x0 = max(int(cols.min()) * BLOCK_PX - margin, 0)
        y0 = max(int(rows.min()) * BLOCK_PX - margin, 0)
        x1 = min((int(cols.max()) + 1) * BLOCK_PX + margin, width)
        y1 = min((int(rows.max()) + 1) * BLOCK_PX + margin, height)
        r0, r1 = -(-y0 // BLOCK_PX), y1 // BLOCK_PX
        c0, c1 = -(-x0 // BLOCK_PX), x1 // BLOCK_PX
        reference[r0:r1, c0:c1] = blocks[r0:r1, c0:c1]
        return (x0, y0, x1, y1)
