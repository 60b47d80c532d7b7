"""Analyse one segment of one video: sampled frames → faces → tracks → sightings.

A segment (a time window of a file) is the unit of parallel and resumable
work: small enough that a killed job loses little, independent enough to
run on any worker (a local process or a Dask worker) given only the path,
the window and the engine spec. A decoding failure keeps every sighting
found before it and is reported as ``error``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retroface.errors import MediaError
from retroface.faces.blazeface import BlazeFaceDetector
from retroface.faces.detector import CascadeDetector, Detector, RegionDetector
from retroface.faces.engine import EngineSpec, FaceEngine
from retroface.faces.motion_gate import MotionGate, SinceLastLook, touches
from retroface.faces.probe_fusion import fused_direction
from retroface.faces.stage_clock import StageClock
from retroface.faces.tracking import FaceTracker, Sighting, TrackerSettings
from retroface.faces.types import AnalysedFace, Box, Detection
from retroface.media.video_reader import SamplingPolicy, VideoDecodeError, iter_frames


@dataclass(frozen=True)
class SegmentTask:
    """What a worker needs: the file, its window, and how to sample and track."""

    path: Path
    start_s: float
    end_s: float | None  # None: to the end of the file (the last segment)
    policy: SamplingPolicy
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    #: Jittered copies per best view in a sighting's template (as gallery templates use).
    template_jitters: int = 2
    #: Whether each best view's mirror image joins the template too.
    template_mirror: bool = True


@dataclass
class SegmentResult:
    task: SegmentTask
    sightings: list[Sighting] = field(default_factory=list)
    frames_sampled: int = 0
    last_time_s: float | None = None
    faces: int = 0
    seconds: float = 0.0  # wall time spent
    error: str | None = None
    #: Where that time went, stage by stage (decode, motion, detect, landmark, embed, track).
    clock: StageClock = field(default_factory=StageClock)


def analyse_segment(engine: FaceEngine, task: SegmentTask) -> SegmentResult:
    started = time.perf_counter()
    result = SegmentResult(task)
    clock = result.clock
    tracker = FaceTracker(task.tracker)
    previous: NDArray[np.float32] | None = None
    next_full: float | None = None  # on a fixed grid, so skipped frames cannot make it drift
    last_fallback: float | None = None
    gate = None
    since_fallback = None
    blaze = blazeface_of(engine)
    if task.tracker.motion_complete_every_s > 0 and blaze is not None:
        gate = MotionGate(task.tracker.motion_complete_every_s)
        since_fallback = SinceLastLook()
    frames = iter_frames(task.path, task.policy, start_s=task.start_s, end_s=task.end_s)
    try:
        while True:
            with clock.stage("decode"):
                frame = next(frames, None)
            if frame is None or (task.end_s is not None and frame.time_s >= task.end_s):
                break
            with clock.stage("motion"):
                thumb = thumbnail(frame.pixels)
                cut = previous is not None and is_shot_change(previous, thumb)
            if cut:
                tracker.cut()
            previous = thumb
            every = task.tracker.full_scan_every_s
            full = cut or next_full is None or frame.time_s >= next_full - 1e-6
            if full:
                fallback = (
                    last_fallback is None
                    or frame.time_s - last_fallback >= task.tracker.cnn_fallback_every_s - 1e-6
                )
                changed = None
                if gate is not None:
                    with clock.stage("motion"):
                        changed = gate.changed(frame.pixels, frame.time_s, cut)
                if changed is not None:
                    live = tracker.live_boxes(frame.time_s)
                    faces, used_fallback = _gated_scan(engine, frame.pixels, changed, live, clock)
                else:
                    faces, used_fallback = _full_scan(
                        engine, frame.pixels, fallback, clock, since_fallback, cut
                    )
                if used_fallback:
                    last_fallback = frame.time_s
                next_full = (math.floor(frame.time_s / every + 1e-9) + 1) * every if every else 0.0
            else:
                faces = _analyse_around(engine, frame.pixels, tracker, frame.time_s, clock)
            with clock.stage("track"):
                # BlazeFace's search around a track keeps only what joins it: a face that
                # joins no track is a neighbour's or a look-alike, for the next full scan.
                starts = full or blaze is None
                tracker.update(frame.index, frame.time_s, faces, start_tracks=starts)
            result.frames_sampled += 1
            result.faces += len(faces)
            result.last_time_s = frame.time_s
    except VideoDecodeError as exc:
        result.error = str(exc)
    except MediaError as exc:
        result.error = str(exc)
    del frames  # closes the file, as leaving a for loop over it would
    with clock.stage("track"):
        finished = tracker.finish()
    with clock.stage("embed"):
        result.sightings = [
            _jittered(engine, s, task.template_jitters, task.template_mirror) for s in finished
        ]
    result.seconds = time.perf_counter() - started
    return result


def _jittered(engine: FaceEngine, sighting: Sighting, jitters: int, mirror: bool) -> Sighting:
    """The sighting's template from its best views embedded the way gallery templates are
    (averaged over jittered copies), so probe and reference are alike, each view weighted
    by its quality as the tracker's template is (a blurred view should not pull a sharp
    one towards everyone); chips then go."""
    if not sighting.chips:
        return sighting
    vectors = engine.embed_chips(sighting.chips, jitters, mirror=mirror)
    qualities = sighting.chip_qualities or [1.0] * len(sighting.chips)
    weights = np.array([max(q, 0.05) for q in qualities])
    template, agreement = fused_direction(vectors, weights)
    return replace(sighting, template=template, agreement=agreement, chips=[], chip_qualities=[])


def _full_scan(
    engine: FaceEngine,
    pixels: NDArray[np.uint8],
    allow_fallback: bool,
    clock: StageClock,
    since_fallback: SinceLastLook | None = None,
    cut: bool = False,
) -> tuple[list[AnalysedFace], bool]:
    """(faces, whether a cascade's fallback ran): the fallback (dlib's CNN after HOG, HOG
    after BlazeFace) only when allowed and the first detector found nobody: a busy frame
    never pays for it, an empty one at most every ``cnn_fallback_every_s``; with
    ``since_fallback`` (motion gating) only where the picture changed since it last looked."""
    detector = engine.detector
    used_fallback = False
    with clock.stage("detect"):
        if isinstance(detector, CascadeDetector):
            found = detector.first.detect(pixels)
            used_fallback = not found and allow_fallback
            if used_fallback:
                found = _fallback_where_changed(detector.fallback, pixels, since_fallback, cut)
        else:
            found = detector.detect(pixels)
    found.sort(key=lambda d: -d.box.w * d.box.h)
    return engine.analyse_detections(pixels, found, clock), used_fallback


def _fallback_where_changed(
    fallback: Detector, pixels: NDArray[np.uint8], since: SinceLastLook | None, cut: bool
) -> list[Detection]:
    """The fallback detector's faces, looking only where the picture changed since it last
    looked (nowhere if nothing did: the same picture holds the same faces)."""
    if since is None:
        return fallback.detect(pixels)
    region = since.region(pixels, cut)
    if region is None:
        return []
    x0, y0, x1, y1 = region
    if (x1 - x0, y1 - y0) == (pixels.shape[1], pixels.shape[0]):
        return fallback.detect(pixels)
    found = fallback.detect(np.ascontiguousarray(pixels[y0:y1, x0:x1]))
    return [
        Detection(Box(d.box.x + x0, d.box.y + y0, d.box.w, d.box.h), d.score, d.detector)
        for d in found
    ]


def _gated_scan(
    engine: FaceEngine,
    pixels: NDArray[np.uint8],
    changed: NDArray[np.bool_],
    live: list[Box],
    clock: StageClock,
) -> tuple[list[AnalysedFace], bool]:
    """A full scan of the tiles where the picture changed, and around live tracks."""
    detector = blazeface_of(engine)
    assert detector is not None
    with clock.stage("detect"):
        tiles = [t for t in detector.plan(*pixels.shape[:2]) if touches(changed, t.x, t.y, t.side)]
        found = detector.detect_tiles(pixels, tiles)
        for d in _blazeface_regions().detect_around(pixels, live) if live else []:
            if all(_overlap(d.box, other.box) < 0.5 for other in found):
                found.append(d)
    found.sort(key=lambda d: -d.box.w * d.box.h)
    return engine.analyse_detections(pixels, found, clock), False


_region_detectors: dict[bool, RegionDetector] = {}
REGION_CNN_LEVELS = 3


def _region_detector(engine: FaceEngine) -> RegionDetector:
    """One per process and kind: with the CNN fallback when the engine runs the cascade."""
    cascade = isinstance(engine.detector, CascadeDetector)
    if cascade not in _region_detectors:
        fallback = None
        if cascade:
            from retroface.faces.mmod_detector import OnnxMmodDetector  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

            # The region is scaled so the face is ~100 px: three pyramid levels span
            # 100 to 70 px faces in the CNN's 80 px window.
            fallback = OnnxMmodDetector(scale=1.0, max_levels=REGION_CNN_LEVELS)
        _region_detectors[cascade] = RegionDetector(fallback)
    return _region_detectors[cascade]


def _analyse_around(
    engine: FaceEngine,
    pixels: NDArray[np.uint8],
    tracker: FaceTracker,
    now: float,
    clock: StageClock,
) -> list[AnalysedFace]:
    """Detect only in regions around where faces were: most of a frame is skipped; a face
    re-found where its track was keeps the track's appearance (FaceTracker.known_appearance)."""
    boxes = tracker.live_boxes(now)
    with clock.stage("detect"):
        if blazeface_of(engine) is not None:
            found = _blazeface_regions().detect_around(pixels, boxes) if boxes else []
        else:
            found = _detect_around(_region_detector(engine), pixels, boxes)
    with clock.stage("track"):
        known = [tracker.known_appearance(d.box, now) for d in found]
    return engine.analyse_detections(pixels, found, clock, known)


def blazeface_of(engine: FaceEngine) -> BlazeFaceDetector | None:
    """The engine's BlazeFace (alone, or first in a cascade with HOG), if it runs one."""
    detector = engine.detector
    if isinstance(detector, CascadeDetector):
        detector = detector.first
    return detector if isinstance(detector, BlazeFaceDetector) else None


_region_blazeface: list[BlazeFaceDetector] = []


def _blazeface_regions() -> BlazeFaceDetector:
    """One per process: the short-range model, whose faces fill a third of its input as a
    tracked face fills the region around it."""
    if not _region_blazeface:
        _region_blazeface.append(BlazeFaceDetector("short", min_face_px=8))
    return _region_blazeface[0]


def _detect_around(
    regions: RegionDetector, pixels: NDArray[np.uint8], boxes: list[Box]
) -> list[Detection]:
    height, width = pixels.shape[:2]
    found: list[Detection] = []
    for box in boxes:
        pad = max(box.w, box.h)
        x0, y0 = max(box.x - pad, 0), max(box.y - pad, 0)
        x1, y1 = min(box.x + box.w + pad, width), min(box.y + box.h + pad, height)
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        local = Box(box.x - x0, box.y - y0, box.w, box.h)
        for d in regions.detect(pixels[y0:y1, x0:x1], local):
            b = d.box
            moved = Detection(Box(b.x + x0, b.y + y0, b.w, b.h), d.score, d.detector)
            if all(_overlap(moved.box, other.box) < 0.5 for other in found):
                found.append(moved)
    return found


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box: the same face found from two regions."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return ix * iy / max(min(a.w * a.h, b.w * b.h), 1)


def thumbnail(pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
    """A 32x18 grey thumbnail: enough to tell a cut from motion, cheap at any resolution."""
    grey = pixels[::, ::, 1]
    h, w = grey.shape
    ys = np.linspace(0, h - 1, 18).astype(int)
    xs = np.linspace(0, w - 1, 32).astype(int)
    small = grey[np.ix_(ys, xs)].astype(np.float32)
    normalised: NDArray[np.float32] = (small - small.mean()) / (small.std() + 1e-6)
    return normalised


def is_shot_change(
    before: NDArray[np.float32], after: NDArray[np.float32], min_correlation: float = 0.2
) -> bool:
    """Edited footage cuts between cameras; a face at the same place after a cut is someone else."""
    return float((before * after).mean()) < min_correlation


def plan_segments(
    path: Path,
    duration_s: float | None,
    policy: SamplingPolicy,
    segment_s: float,
    tracker: TrackerSettings | None = None,
    template_jitters: int = 2,
    template_mirror: bool = True,
) -> list[SegmentTask]:
    """Cut a file into windows of ``segment_s`` seconds; unknown length → one segment."""
    settings = tracker or TrackerSettings()

    def task(start: float, end: float | None) -> SegmentTask:
        return SegmentTask(path, start, end, policy, settings, template_jitters, template_mirror)

    if not duration_s or duration_s <= segment_s * 1.5:
        return [task(0.0, None)]
    starts = [i * segment_s for i in range(int(duration_s // segment_s))]
    return [task(s, s + segment_s) for s in starts[:-1]] + [task(starts[-1], None)]


_worker_engines: dict[EngineSpec, FaceEngine] = {}


def run_segment(spec: EngineSpec, task: SegmentTask) -> SegmentResult:
    """Worker entry point (local process or Dask worker): models load once per process."""
    engine = _worker_engines.get(spec)
    if engine is None:
        engine = _worker_engines[spec] = FaceEngine.from_spec(spec)
    return analyse_segment(engine, task)
