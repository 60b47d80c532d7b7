"""Where the detector path's chips put the eyes, the nose tip and the mouth corners.

A face marked by hand (faces/manual_alignment.py) is cut by mapping the points the
operator gives onto :data:`retroface.faces.manual_alignment.CHIP_POINTS`: the mean
position of each point in dlib's 150 px chip (0.25 padding) as the engine cuts it
from the shape predictor's landmarks, one template per alignment (5 and 68 points).
This script measures those means again on the first image of LFW people: the HOG
detector's largest face, dlib's 5-point landmarks (eye centres as the means of each
eye's two corners, as ``Landmarks.eye_centres``) and 68-point landmarks (nose tip 30,
mouth corners 48 and 54), each mapped into each alignment's chip by the chip's own
transform (``dlib.get_face_chip_details``, arcface_alignment.dlib_chip_transform).

Usage: python bench/manual_mark_points.py [--data ../shared/data] [--people 300]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dlib
import numpy as np
from numpy.typing import NDArray

from retroface.faces.aligner import CHIP_PADDING, CHIP_SIZE_PX
from retroface.faces.arcface_alignment import apply_transform, dlib_chip_transform
from retroface.faces.detector import HogDetector
from retroface.faces.model_files import LANDMARKS_5_FILE, LANDMARKS_68_FILE, packaged_model_path
from retroface.media import load_image

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
POINT_NAMES = ("eye (image left)", "eye (image right)", "nose tip", "mouth left", "mouth right")


def measure(images: list[Path]) -> dict[int, NDArray[np.float64]]:
    """Per alignment (5, 68): the (faces, 5, 2) chip coordinates of the five points."""
    detector = HogDetector()
    predictors = {
        5: dlib.shape_predictor(str(packaged_model_path(LANDMARKS_5_FILE))),
        68: dlib.shape_predictor(str(packaged_model_path(LANDMARKS_68_FILE))),
    }
    found: dict[int, list[NDArray[np.float64]]] = {5: [], 68: []}
    for path in images:
        pixels = load_image(path).pixels
        detections = sorted(detector.detect(pixels), key=lambda d: -d.box.w * d.box.h)
        if not detections:
            continue
        box = detections[0].box
        rect = dlib.rectangle(box.x, box.y, box.x + box.w - 1, box.y + box.h - 1)
        shapes = {points: predictor(pixels, rect) for points, predictor in predictors.items()}
        five = [(p.x, p.y) for p in shapes[5].parts()]
        sixty_eight = [(p.x, p.y) for p in shapes[68].parts()]
        image_points = np.array(
            [
                np.mean([five[2], five[3]], axis=0),  # the eye on the image's left
                np.mean([five[0], five[1]], axis=0),
                sixty_eight[30],
                sixty_eight[48],
                sixty_eight[54],
            ],
            dtype=np.float64,
        )
        for points, shape in shapes.items():
            details = dlib.get_face_chip_details(shape, CHIP_SIZE_PX, CHIP_PADDING)
            found[points].append(apply_transform(dlib_chip_transform(details), image_points))
    return {points: np.stack(values) for points, values in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args()
    people = sorted(p for p in (args.data / "lfw").iterdir() if p.is_dir())[: args.people]
    images = [sorted(p.glob("*.jpg"))[0] for p in people]
    measured = measure(images)
    for points, values in measured.items():
        mean, spread = values.mean(axis=0), values.std(axis=0)
        print(f"alignment {points} points: {len(values)} faces")
        for name, (x, y), (sx, sy) in zip(POINT_NAMES, mean, spread, strict=True):
            print(f"  {name:18s} ({x:6.2f}, {y:6.2f})  sd ({sx:4.2f}, {sy:4.2f})")


if __name__ == "__main__":
    main()
