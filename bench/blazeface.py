"""BlazeFace against dlib's CNN on real footage frames: recall, box agreement, cost.

For frames of ``short_hamilton_clip.mp4`` (640x360) and ``covent_garden_crowd.mp4``
(1080p), every face the ONNX MMOD CNN finds (``cnn-onnx``, dlib's network with the CCTV
pyramid) is looked for among BlazeFace's faces (the same face: centres within half a
box, sizes within 2x). Prints per clip and model: recall against the CNN, IoU of the
boxes, faces BlazeFace finds that the CNN does not (smaller faces as well as false
ones), the median box offset and size ratio to the CNN's (what ``to_dlib_box`` in
faces/blazeface.py holds, measured with the mapping switched off), and milliseconds a
frame with dlib HOG (``min_face_px`` as footage uses) as the peer. Each model runs both
ways a full scan can: one window per pyramid level (the default) and the tiles batched.

    python bench/blazeface.py [--every 10] [--min-face-px 56]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from retroface.faces import blazeface
from retroface.faces.engine import DETECTORS, EngineSpec
from retroface.faces.types import Box, Detection
from retroface.media.video_reader import SamplingPolicy, iter_frames

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
CLIPS = ("short_hamilton_clip.mp4", "covent_garden_crowd.mp4")


def same_face(a: Box, b: Box) -> bool:
    dx = abs(a.x + a.w / 2 - b.x - b.w / 2)
    dy = abs(a.y + a.h / 2 - b.y - b.h / 2)
    return dx < 0.5 * b.w and dy < 0.5 * b.h and 0.5 < a.w / b.w < 2


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return ix * iy / (a.w * a.h + b.w * b.h - ix * iy)


def timed(detect: object, pixels: np.ndarray) -> tuple[list[Detection], float]:
    started = time.perf_counter()
    found = detect(pixels)  # type: ignore[operator]
    return found, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=10, help="every n-th frame")
    parser.add_argument("--min-face-px", type=int, default=56)
    args = parser.parse_args()
    cnn = DETECTORS["cnn-onnx"](EngineSpec())
    hog = DETECTORS["hog"](EngineSpec(min_face_px=args.min_face_px))
    unmapped = {
        name: dataclasses.replace(model, to_dlib_box=(0.0, 0.0, 1.0))
        for name, model in blazeface.MODELS.items()
    }
    both_clips: dict[tuple[str, bool], list[tuple[float, float, float]]] = {}
    for clip in CLIPS:
        frames = [
            f.pixels for f in iter_frames(VIDEO / clip, SamplingPolicy.parse(f"every:{args.every}"))
        ]
        references = [timed(cnn.detect, p) for p in frames]
        hog_s = [timed(hog.detect, p)[1] for p in frames]
        faces = sum(len(r) for r, _ in references)
        print(
            f"{clip}: {len(frames)} frames, {faces} faces found by cnn-onnx "
            f"({np.mean([s for _, s in references]) * 1000:.0f} ms/frame); "
            f"hog (min {args.min_face_px} px): {np.mean(hog_s) * 1000:.0f} ms/frame"
        )
        for name, windows in [(n, w) for n in sorted(blazeface.MODELS) for w in (True, False)]:
            detector = blazeface.BlazeFaceDetector(name, args.min_face_px, windows=windows)
            raw = blazeface.BlazeFaceDetector(name, args.min_face_px, windows=windows)
            raw.model = unmapped[name]
            found_n, extra, overlaps, offsets, seconds = 0, 0, [], [], []
            for pixels, (reference, _) in zip(frames, references, strict=True):
                found, spent = timed(detector.detect, pixels)
                seconds.append(spent)
                plain = raw.detect(pixels)
                for face in reference:
                    match = [d for d in found if same_face(d.box, face.box)]
                    if match:
                        found_n += 1
                        overlaps.append(max(iou(d.box, face.box) for d in match))
                    for d in (d for d in plain if same_face(d.box, face.box)):
                        b, r = d.box, face.box
                        offsets.append(
                            (
                                (r.x + r.w / 2 - b.x - b.w / 2) / b.w,
                                (r.y + r.h / 2 - b.y - b.h / 2) / b.h,
                                r.w / ((b.w + b.h) / 2),
                            )
                        )
                extra += sum(not any(same_face(d.box, f.box) for f in reference) for d in found)
            both_clips.setdefault((name, windows), []).extend(offsets)
            dx, dy, ratio = np.median(np.array(offsets), axis=0) if offsets else (0, 0, 0)
            print(
                f"  blazeface {name} (min {args.min_face_px} px, "
                f"{len(detector.plan(*frames[0].shape[:2]))} tiles, "
                f"{'one window per level' if windows else 'tiles batched'}): "
                f"recall {found_n}/{faces} = {found_n / max(faces, 1):.3f}, "
                f"IoU median {np.median(overlaps) if overlaps else 0:.2f} "
                f"min {min(overlaps, default=0):.2f}, {extra} faces the CNN does not report, "
                f"{np.mean(seconds) * 1000:.0f} ms/frame; unmapped box to the CNN's: "
                f"offset ({dx:+.3f}, {dy:+.3f}), size ratio {ratio:.3f}"
            )
    for (name, windows), offsets in both_clips.items():
        dx, dy, ratio = np.median(np.array(offsets), axis=0) if offsets else (0, 0, 0)
        print(
            f"both clips, blazeface {name}, {'windows' if windows else 'tiles'}: unmapped box "
            f"to the CNN's: offset ({dx:+.3f}, {dy:+.3f}), size ratio {ratio:.3f} "
            f"(to_dlib_box: {blazeface.MODELS[name].to_dlib_box})"
        )


if __name__ == "__main__":
    main()
