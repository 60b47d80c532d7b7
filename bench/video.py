"""Footage throughput and track recall, end to end on this machine.

Loops ``covent_garden_crowd.mp4`` (1080p, 4.2 s) to at least two minutes,
scans it the way ``retroface video ingest`` does (segments in a process
pool over all cores, the video detector and sampling from the settings or
the flags) and prints the real-time factor: seconds of video per second of
wall time. Then it scans the original clip at full frame rate and at the
chosen sampling and prints the track recall: the share of full-rate tracks
that a sampled track covers (overlapping in time and within the same-person
similarity). Nothing is written outside a temporary folder.

    python bench/video.py [--sampling fps:5] [--detector hog] [--workers 2] [--minutes 2] [--dask 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
from distributed import LocalCluster

from retroface.faces import EngineSpec
from retroface.faces.dask_cluster import completed, dask_client
from retroface.faces.stage_clock import STAGES, StageClock
from retroface.faces.tracking import Sighting, TrackerSettings
from retroface.faces.video_analysis import SegmentTask, plan_segments, run_segment
from retroface.media.video_reader import SamplingPolicy, probe_video
from retroface.services.video.ingest import footage_spec
from retroface.settings import Settings

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "covent_garden_crowd.mp4"
SAME_PERSON = 0.90


def loop_clip(source: Path, target: Path, min_seconds: float) -> float:
    """Remux the clip end to end until it lasts ``min_seconds`` (no re-encoding)."""
    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        packets = [p for p in src.demux(stream) if p.dts is not None]
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.pts for p in packets)
        loops = int(np.ceil(min_seconds / float(span * stream.time_base)))
        with av.open(str(target), "w") as out:
            dst = out.add_stream_from_template(stream)
            for i in range(loops):
                with av.open(str(source)) as again:
                    for packet in again.demux(again.streams.video[0]):
                        if packet.dts is None:
                            continue
                        packet.pts += i * span
                        packet.dts += i * span
                        packet.stream = dst
                        out.mux(packet)
    return loops * float(span * stream.time_base)


def scan(
    tasks: list[SegmentTask], spec: EngineSpec, workers: int, dask_address: str | None = None
) -> tuple[list[Sighting], int, StageClock]:
    """(sightings, frames sampled, time per stage summed over the segments)."""
    if dask_address:
        with dask_client(dask_address) as client:
            results = list(completed([client.submit(run_segment, spec, t) for t in tasks]))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run_segment, [spec] * len(tasks), tasks))
    errors = [r.error for r in results if r.error]
    if errors:
        raise SystemExit(f"decoding failed: {errors[0]}")
    clock = StageClock()
    for r in results:
        clock.add(r.clock)
    return [s for r in results for s in r.sightings], sum(r.frames_sampled for r in results), clock


def recall(reference: list[Sighting], found: list[Sighting]) -> float:
    if not reference:
        return 1.0
    covered = 0
    for ref in reference:
        for s in found:
            overlap = min(ref.last_s, s.last_s) - max(ref.first_s, s.first_s)
            if overlap >= -0.5 and float(ref.template @ s.template) >= SAME_PERSON:
                covered += 1
                break
    return covered / len(reference)


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sampling", default=settings.video_sampling)
    parser.add_argument("--detector", default=settings.video_detector)
    parser.add_argument("--min-face-px", type=int, default=settings.video_min_face_px)
    parser.add_argument(
        "--reference-min-face-px",
        type=int,
        default=EngineSpec().min_face_px,
        help="smallest face of the full-rate reference scan (default: what stills use)",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--segment-s", type=float, default=15.0)
    parser.add_argument(
        "--dask",
        type=int,
        default=0,
        metavar="WORKERS",
        help="scan on a local Dask cluster of this many single-threaded workers instead",
    )
    parser.add_argument(
        "--full-scan-every-s", type=float, default=TrackerSettings.full_scan_every_s
    )
    args = parser.parse_args()
    # What `retroface video ingest` runs (one alignment, no jitter per frame), with the flags.
    spec = replace(
        footage_spec(EngineSpec(), settings), detector=args.detector, min_face_px=args.min_face_px
    )
    policy = SamplingPolicy.parse(args.sampling)

    with tempfile.TemporaryDirectory() as tmp:
        looped = Path(tmp) / "looped.mp4"
        seconds = loop_clip(CLIP, looped, args.minutes * 60)
        info = probe_video(looped)
        tracker = TrackerSettings(full_scan_every_s=args.full_scan_every_s)
        tasks = plan_segments(looped, info.duration_s, policy, args.segment_s, tracker)
        run_segment(spec, tasks[0])  # warm the models in this process (not timed)
        with ExitStack() as stack:
            address = None
            if args.dask:
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=args.dask,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                )
                address = cluster.scheduler_address
                scan(tasks[:1], spec, 1, address)  # load the models on the workers (not timed)
            started = time.perf_counter()
            _, frames = scan(tasks, spec, args.workers, address)
            wall = time.perf_counter() - started
    print(
        f"footage: {CLIP.name} looped to {seconds:.1f} s ({info.width}x{info.height}), "
        f"sampling {policy.text}, detector {args.detector} (faces from {args.min_face_px} px), "
        f"full scan every "
        f"{args.full_scan_every_s:g} s, "
        + (f"Dask LocalCluster of {args.dask} workers" if args.dask else f"{args.workers} workers")
    )
    print(f"scanned {frames} frames in {wall:.1f} s: {frames / wall:.1f} frames/s")
    print(f"realtime_factor={seconds / wall:.2f}")

    original = probe_video(CLIP)
    # The reference: every frame fully scanned (no track-guided shortcuts), looking for
    # faces as small as stills do, so a cheaper footage setting shows what it loses.
    every_frame = TrackerSettings(full_scan_every_s=0.0)
    reference_spec = replace(spec, min_face_px=args.reference_min_face_px)
    full, full_frames = scan(
        plan_segments(CLIP, original.duration_s, SamplingPolicy("all", 0), 60, every_frame),
        reference_spec,
        1,
    )
    sampled, _ = scan(plan_segments(CLIP, original.duration_s, policy, 60, tracker), spec, 1)
    print(
        f"full-rate scan of the original (faces from {args.reference_min_face_px} px): "
        f"{full_frames} frames, {len(full)} tracks; "
        f"sampled: {len(sampled)} tracks"
    )
    print(f"track_recall={recall(full, sampled):.3f}")


if __name__ == "__main__":
    main()
