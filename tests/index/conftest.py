"""Real LFW face templates for the index tests, computed once and kept in pytest's cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retroface.faces import FaceEngine
from retroface.media import load_image

#: LFW people with two or more photos, two photos each: 160 real templates, 80 identities.
PEOPLE = 80


@pytest.fixture(scope="session")
def lfw_templates(engine: FaceEngine, data: Path, request: pytest.FixtureRequest) -> np.ndarray:
    """Two templates each of the first LFW people with several photos (the engine's own
    embeddings; analysed once, then read from ``.pytest_cache`` while the engine is the same)."""
    key = "".join(c if c.isalnum() else "_" for c in f"{engine.model.tag}-j{engine.jitters}")
    folder = request.config.cache.mkdir("lfw-templates")
    cached = folder / f"{key}-{PEOPLE}.npy"
    if cached.is_file():
        return np.load(cached)
    people = sorted(p for p in (data / "lfw").iterdir() if p.is_dir())
    found: list[np.ndarray] = []
    for person in people:
        photos = sorted(person.glob("*.jpg"))[:2]
        if len(photos) < 2:
            continue
        faces = [engine.analyse(load_image(p).pixels) for p in photos]
        if all(faces):  # the face nearest the centre is the person named (LFW's convention)
            found += [min(f, key=lambda a: _off_centre(a.detection.box)).embedding for f in faces]
        if len(found) >= 2 * PEOPLE:
            break
    templates = np.stack(found).astype(np.float32)
    np.save(cached, templates)
    return templates


def _off_centre(box: object) -> float:
    x, y, w, h = (getattr(box, n) for n in ("x", "y", "w", "h"))
    return float(abs(x + w / 2 - 125) + abs(y + h / 2 - 125))
