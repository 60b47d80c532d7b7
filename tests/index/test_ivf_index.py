"""The approximate index agrees with exact search on real face templates, honours deletes at
once, survives a save and a memory-mapped load, and is chosen by size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retroface.faces import FaceEngine
from retroface.index import EXACT_MAX, FlatIndex, IvfIndex, build_index, load_index
from retroface.media import load_image

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def templates(engine: FaceEngine, data: Path) -> np.ndarray:
    """One template per face of 40 AT&T people, 3 photos each (real embeddings)."""
    faces = []
    for person in range(1, 41):
        for photo in sorted((data / "att_faces" / f"s{person}").glob("*.pgm"))[:3]:
            found = engine.analyse(load_image(photo).pixels)
            if found:
                faces.append(found[0].embedding)
    return np.stack(faces)


def _exact(vectors: np.ndarray, ids: np.ndarray) -> FlatIndex:
    flat = FlatIndex(vectors.shape[1])
    flat.add(ids, vectors)
    return flat


def test_ivf_scanning_every_list_returns_exact_search(templates: np.ndarray) -> None:
    ids = np.arange(len(templates), dtype=np.int64) * 7 + 3
    ivf = IvfIndex(templates.shape[1], nlist=2, nprobe=2)
    ivf.train(templates)
    ivf.add(ids, templates)
    exact = _exact(templates, ids).search(templates[:20], 10)
    approx = ivf.search(templates[:20], 10)
    assert (approx.ids == exact.ids).mean() > 0.98  # fp16 codes: ties may swap
    assert np.abs(approx.scores - exact.scores).max() < 2e-3
    assert len(ivf) == len(templates) and sorted(ivf.ids()) == sorted(ids)


def test_deleted_templates_are_never_returned_and_copies_are_independent(
    templates: np.ndarray, tmp_path: Path
) -> None:
    ids = np.arange(len(templates), dtype=np.int64)
    ivf = IvfIndex(templates.shape[1], nlist=2, nprobe=2)
    ivf.train(templates)
    ivf.add(ids, templates)
    before = ivf.copy()
    gone = ids[:30]
    assert ivf.remove(gone) == 30 and len(ivf) == len(templates) - 30
    hits = ivf.search(templates[:30], 5).ids
    assert not set(hits.ravel()) & set(gone.tolist())
    assert len(before) == len(templates)  # the copy kept its own lists

    ivf.save(tmp_path / "g.faiss", "state-7")
    loaded = load_index(tmp_path / "g.faiss", templates.shape[1])
    assert loaded is not None and loaded[1] == "state-7" and isinstance(loaded[0], IvfIndex)
    assert loaded[0].config == ivf.config
    assert (loaded[0].search(templates[30:40], 5).ids == ivf.search(templates[30:40], 5).ids).all()


def test_large_galleries_get_a_tuned_ivf_small_ones_stay_exact(templates: np.ndarray) -> None:
    small = build_index(np.arange(len(templates)), templates, templates.shape[1])
    assert isinstance(small, FlatIndex) and len(templates) <= EXACT_MAX
    # Many near-copies of the real templates stand in for a large gallery.
    rng = np.random.default_rng(1)
    many = np.repeat(templates, 80, axis=0) + rng.normal(0, 0.03, (80 * len(templates), 128))
    many = (many / np.linalg.norm(many, axis=1, keepdims=True)).astype(np.float32)
    ids = np.arange(len(many), dtype=np.int64)
    large = build_index(ids, many, 128, exact_max=1000, target_recall=0.99)
    assert isinstance(large, IvfIndex) and large.config.startswith(f"IVF{large.nlist},SQfp16")
    queries = many[rng.choice(len(many), 100, replace=False)]
    truth = _exact(many, ids).search(queries, 10).ids
    found = large.search(queries, 10).ids
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.97  # tuned for 0.99 on other queries of the same gallery
