"""Does the decision rule hold for faces that are small in pixels (not enlarged back)?

A CCTV still is often exported at the camera's resolution: the face is 12-25 px
between the eyes and nobody has blown it up. The degraded-probe protocol's
downscale enlarges the face back (media/degrade.py), so this measures the other
case: LFW photos shrunk with area averaging (as a sensor does) and searched as
they are, at several scales, with the shipped rule's bar for the gallery's size.

1,000 LFW identities are enrolled (first photo each); 150 of them are searched
with their second photo (mated: FNIR), 250 people not enrolled with their first
(non-mated: FPIR, target 1%). Faces below the probe quality floor count as
missed (mated) or as no candidate (non-mated), as a search reports them.

    python bench/small_faces.py [--data ../shared/data] [--scales 1,0.6,0.45,0.35,0.3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from retroface.faces import EngineSpec
from retroface.faces.engine import FaceEngine
from retroface.faces.open_set import model_from_document
from retroface.faces.shipped_calibration import shipped_document
from retroface.media import load_image
from retroface.settings import DEFAULT_THRESHOLD, Settings

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def shrunk(pixels: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return pixels
    size = (round(pixels.shape[1] * scale), round(pixels.shape[0] * scale))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BOX))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--scales", default="1,0.6,0.45,0.35,0.3")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    lfw = args.data / "lfw"
    photos = {p.name: sorted(p.glob("*.jpg")) for p in sorted(lfw.iterdir()) if p.is_dir()}
    names = [n for n, files in photos.items() if files]
    rng = np.random.default_rng(7)
    mated = sorted(rng.choice([n for n in names if len(photos[n]) >= 2], 150, replace=False))
    rest = [n for n in names if n not in set(mated)]
    others = sorted(rng.choice(rest, 850, replace=False))
    strangers = sorted(rng.choice([n for n in rest if n not in set(others)], 250, replace=False))

    engine = FaceEngine.from_spec(EngineSpec())
    gallery, owner = [], []
    for name in [*mated, *others]:
        faces = engine.analyse(load_image(photos[name][0]).pixels)
        if faces:
            gallery.append(faces[0].embedding)
            owner.append(name)
    matrix = np.stack(gallery)
    document = shipped_document()
    assert document is not None, "the shipped calibration is missing"
    rule = model_from_document(document["open_set"])
    floor = Settings().probe_quality_floor
    print(f"gallery {len(matrix)} templates; {len(mated)} mated, {len(strangers)} non-mated")

    print("scale | inter-eye px | matchability | FNIR | FPIR")
    for scale in scales:
        found = false = 0
        eyes, qualities = [], []
        for name, mate in [(n, True) for n in mated] + [(n, False) for n in strangers]:
            pixels = load_image(photos[name][1 if mate else 0]).pixels
            faces = engine.analyse(shrunk(pixels, scale))
            if not faces:
                continue
            face = faces[0]
            eyes.append(face.quality.parts.get("inter_eye_px", 0.0))
            qualities.append(face.quality.overall)
            if face.quality.overall < floor:
                continue
            scores = matrix @ face.embedding
            bar = rule.bar(
                face.embedding, target_fpir=0.01, comparisons=len(matrix), floor=DEFAULT_THRESHOLD
            ).threshold
            top = int(np.argmax(scores))
            if scores[top] >= bar:
                found += int(mate and owner[top] == name)
                false += int(not mate)
        print(f"{scale:g} | {np.mean(eyes):.1f} | {np.mean(qualities):.3f} | "
              f"{1 - found / len(mated):.3f} | {false}/{len(strangers)} = "
              f"{false / len(strangers):.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
