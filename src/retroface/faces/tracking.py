"""Face tracking across sampled video frames: detections → sightings.

Why track at all: a person walking past a camera for ten seconds is one
fact for an investigator ("X was here from 14:02:10 to 14:02:20"), not fifty
faces to review. Searching one fused template per appearance is also more
accurate than any single frame (motion blur, turned heads) and is what keeps
hours of footage affordable to search, cluster and store.

Association uses both where a face is (box overlap / nearness, scaled by the
time since the track was last seen) and who it looks like (embedding
similarity), so two people crossing do not swap tracks and a face hidden for
a moment (a passer-by in front, a missed detection) rejoins its own track.
Assignment is greedy on the best joint score, which is what the small
number of faces per frame in CCTV allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from retroface.faces.probe_fusion import fused_direction
from retroface.faces.types import AnalysedFace, Box


@dataclass(frozen=True)
class TrackerSettings:
    #: A track not seen for longer than this is closed (seconds of video).
    max_gap_s: float = 1.5
    #: Embedding similarity needed to join a nearby track.
    min_similarity_near: float = 0.90
    #: Similarity that joins a track wherever the face now is (re-appearance after occlusion).
    min_similarity_anywhere: float = 0.94
    #: How far (in box widths per second of gap, plus one box width) a face may move and still be "near".
    max_speed_boxes_per_s: float = 3.0
    #: Seconds between full-frame detections; in between, only regions around live tracks
    #: are searched (a new face is picked up at the next full scan). 0 = every frame.
    full_scan_every_s: float = 1.0
    #: With the cascade detector, the slow CNN runs on a full scan where HOG finds nobody at
    #: most this often (seconds of video): empty CCTV would otherwise pay for it every scan.
    #: With BlazeFace, HOG is that fallback, as often.
    cnn_fallback_every_s: float = 5.0
    #: With a detector that scans tiles (BlazeFace), a full scan searches only the tiles
    #: where the picture changed since the last full scans, and around live tracks
    #: (motion_gate.py); a complete scan at least this often (seconds of video) is the
    #: safety net. 0 = every full scan complete.
    motion_complete_every_s: float = 5.0
    #: Between full scans, a face re-found overlapping its track's last box by this IoU,
    #: with no other track near, keeps the track's appearance instead of a new embedding
    #: (full scans embed every face). 0 = embed every face.
    reuse_min_iou: float = 0.3
    #: Observations kept as exemplars (best quality first) and fused into the template.
    exemplars: int = 3
    fuse_top: int = 5


@dataclass(frozen=True)
class Observation:
    """One face in one sampled frame."""

    frame: int
    time_s: float
    face: AnalysedFace

    @property
    def box(self) -> Box:
        return self.face.detection.box

    @property
    def quality(self) -> float:
        return self.face.quality.overall


@dataclass
class Track:
    observations: list[Observation] = field(default_factory=list)
    #: (quality, aligned chip) of the best views only: a long track must not hold every chip.
    best_chips: list[tuple[float, NDArray[np.uint8]]] = field(default_factory=list)
    _mean: NDArray[np.float64] | None = None

    @property
    def last(self) -> Observation:
        return self.observations[-1]

    @property
    def appearance(self) -> NDArray[np.float64]:
        assert self._mean is not None
        return self._mean / max(float(np.linalg.norm(self._mean)), 1e-12)

    def add(self, observation: Observation, keep_chips: int = 3) -> None:
        chip = observation.face.chip
        if chip is not None:
            observation = replace(observation, face=replace(observation.face, chip=None))
            self.best_chips.append((observation.quality, chip))
            self.best_chips.sort(key=lambda item: -item[0])
            del self.best_chips[keep_chips:]
        self.observations.append(observation)
        vector = observation.face.embedding.astype(np.float64) * max(observation.quality, 0.05)
        self._mean = vector if self._mean is None else self._mean + vector


@dataclass(frozen=True)
class Sighting:
    """One person's continuous appearance: when, the best views, and one fused template."""

    first_frame: int
    last_frame: int
    first_s: float
    last_s: float
    detections: int
    exemplars: list[Observation]
    template: NDArray[np.float32]  # L2-normalised, the model's dimension
    #: How closely the fused views agree: their weighted mean's length (1: one view, or
    #: views alike). The search's bar rises with it (faces/probe_fusion.fused_direction).
    agreement: float = 1.0
    #: Aligned chips of the best views (for a jittered template); dropped before storage.
    chips: list[NDArray[np.uint8]] = field(default_factory=list, repr=False)
    #: Each chip's quality (matchability): the template weights its views by it.
    chip_qualities: list[float] = field(default_factory=list, repr=False)

    @property
    def best(self) -> Observation:
        return self.exemplars[0]


class FaceTracker:
    """Feed frames in time order with :meth:`update`; :meth:`finish` returns every sighting."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._active: list[Track] = []
        self._closed: list[Track] = []

    def update(
        self, frame: int, time_s: float, faces: list[AnalysedFace], start_tracks: bool = True
    ) -> None:
        """Join each face to its track; a face that joins none starts one, unless
        ``start_tracks`` is False (a search around known faces only follows them)."""
        self._close_stale(time_s)
        observations = [Observation(frame, time_s, f) for f in faces]
        pairs = sorted(
            (
                (score, ti, oi)
                for ti, track in enumerate(self._active)
                for oi, obs in enumerate(observations)
                if (score := self._score(track, obs)) is not None
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_obs: set[int] = set()
        for _, ti, oi in pairs:
            if ti in used_tracks or oi in used_obs:
                continue
            self._active[ti].add(observations[oi])
            used_tracks.add(ti)
            used_obs.add(oi)
        for oi, obs in enumerate(observations):
            if oi not in used_obs and start_tracks:
                track = Track()
                track.add(obs)
                self._active.append(track)

    def live_boxes(self, now: float) -> list[Box]:
        """Where faces are expected in the next frame: the last box of every open track."""
        return [t.last.box for t in self._active if now - t.last.time_s <= self.settings.max_gap_s]

    def known_appearance(self, box: Box, now: float) -> NDArray[np.float32] | None:
        """The appearance of the one live track whose last box ``box`` overlaps by
        :attr:`TrackerSettings.reuse_min_iou` when no other live track's last box touches
        it: a face re-found where it just was, with nobody crossing it, needs no new
        template to be told apart (embedding is most of a footage scan's cost after
        detection). None when in doubt."""
        if not self.settings.reuse_min_iou:
            return None
        live = [t for t in self._active if now - t.last.time_s <= self.settings.max_gap_s]
        overlaps = [(t, _iou(t.last.box, box)) for t in live]
        touching = [(t, iou) for t, iou in overlaps if iou > 0]
        if len(touching) != 1 or touching[0][1] < self.settings.reuse_min_iou:
            return None
        track = touching[0][0]
        if max(track.last.box.w, box.w) > 1.5 * min(track.last.box.w, box.w):
            return None
        return track.appearance.astype(np.float32)

    def cut(self) -> None:
        """A shot change: nobody continues across it (same place, different person)."""
        self._closed.extend(self._active)
        self._active = []

    def finish(self) -> list[Sighting]:
        tracks, self._closed, self._active = self._closed + self._active, [], []
        sightings = [fuse(t, self.settings) for t in tracks]
        return sorted(sightings, key=lambda s: (s.first_s, s.best.box.x))

    def _close_stale(self, now: float) -> None:
        still = []
        for track in self._active:
            if now - track.last.time_s > self.settings.max_gap_s:
                self._closed.append(track)
            else:
                still.append(track)
        self._active = still

    def _score(self, track: Track, obs: Observation) -> float | None:
        """Joint score of joining ``obs`` to ``track``; None when it must not join."""
        similarity = float(np.dot(track.appearance, obs.face.embedding))
        near = _nearness(track.last.box, obs.box, obs.time_s - track.last.time_s, self.settings)
        if near > 0 and similarity >= self.settings.min_similarity_near:
            return similarity + near
        if similarity >= self.settings.min_similarity_anywhere:
            return similarity
        return None


def _nearness(last: Box, now: Box, gap_s: float, settings: TrackerSettings) -> float:
    """1 at the same place, falling to 0 at the farthest a face could have moved in ``gap_s``."""
    size = max(last.w, last.h, now.w, now.h, 1)
    reach = size * (1.0 + settings.max_speed_boxes_per_s * max(gap_s, 0.0))
    dx = (last.x + last.w / 2) - (now.x + now.w / 2)
    dy = (last.y + last.h / 2) - (now.y + now.h / 2)
    distance = float(np.hypot(dx, dy))
    scale = max(last.w, now.w) / max(min(last.w, now.w), 1)
    if scale > 2.5:  # a face does not double in size between two samples
        return 0.0
    return max(0.0, 1.0 - distance / reach)


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    return inter / max(a.w * a.h + b.w * b.h - inter, 1)


def fuse(track: Track, settings: TrackerSettings) -> Sighting:
    """Exemplars are the best-quality views; the template is their quality-weighted mean."""
    ranked = sorted(track.observations, key=lambda o: -o.quality)
    top = ranked[: settings.fuse_top]
    weights = np.array([max(o.quality, 0.05) for o in top])
    template, agreement = fused_direction(np.stack([o.face.embedding for o in top]), weights)
    first, last = track.observations[0], track.observations[-1]
    return Sighting(
        first_frame=first.frame,
        last_frame=last.frame,
        first_s=first.time_s,
        last_s=last.time_s,
        detections=len(track.observations),
        exemplars=ranked[: settings.exemplars],
        template=template,
        agreement=agreement,
        chips=[chip for _, chip in track.best_chips],
        chip_qualities=[quality for quality, _ in track.best_chips],
    )
