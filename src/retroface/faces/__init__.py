"""Faces: detection, landmarks and alignment, quality, embeddings.

A small public API in the spirit of face_recognition's: build a
:class:`FaceEngine` once, then ``engine.analyse(pixels)`` returns every face
with its box, landmarks, quality and template. Knows nothing of storage or
governance.
"""

from retroface.faces.batch_runner import FileAnalysis, analyse_file, analyse_files, worker_pool
from retroface.faces.engine import DETECTORS, EMBEDDERS, EngineSpec, FaceEngine
from retroface.faces.types import AnalysedFace, Box, Detection, Landmarks, ModelInfo, Quality

__all__ = [
    "DETECTORS",
    "EMBEDDERS",
    "AnalysedFace",
    "Box",
    "Detection",
    "EngineSpec",
    "FaceEngine",
    "FileAnalysis",
    "Landmarks",
    "ModelInfo",
    "Quality",
    "analyse_file",
    "analyse_files",
    "worker_pool",
]
