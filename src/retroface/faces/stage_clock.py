"""Where a footage scan's time goes, stage by stage.

Footage throughput is a budget: to reach a real-time factor, the slowest stage
must be visible, not guessed. A :class:`StageClock` adds up wall time per
named stage (seconds, on the worker that ran it), and the processor time the
worker's process spent in it: on a machine shared with other work, wall time
grows with everyone else's load while processor time does not, so the latter
says what a stage costs on an idle core. A segment's clock travels back in its
result and ``bench/video.py`` sums them over the run.

The stages, in the order a frame meets them:

- ``decode``: demuxing, decoding and converting the sampled frames to RGB;
- ``motion``: the shot-change thumbnail and the motion mask (what changed);
- ``detect``: finding faces (full scans, motion regions, regions around tracks);
- ``landmark``: landmarks, the aligned chip and the quality of each face;
- ``embed``: templates (per face, and each sighting's jittered best views);
- ``track``: associating faces with tracks and fusing tracks into sightings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STAGES = ("decode", "motion", "detect", "landmark", "embed", "track")


@dataclass
class StageClock:
    """Seconds spent per stage; ``with clock.stage("detect"): ...`` adds to one."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    #: Processor time of the process (all its threads) per stage, seconds.
    cpu_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + cpu

    def add(self, other: StageClock) -> None:
        """Fold another clock (another segment's) into this one."""
        for name, seconds in other.seconds.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        for name, seconds in other.cpu_seconds.items():
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + seconds

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_seconds.values())
