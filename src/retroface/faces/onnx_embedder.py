"""A face-recognition model from an ONNX file: an agency's licensed model plugs in here.

Two input layouts are recognised from the model itself:

* dlib's (N, rows, cols, 3) uint8 RGB chips, as :func:`save_onnx_model`
  writes them: run as :class:`OnnxResNetEmbedder` does;
* the ArcFace family's (N, 3, H, W) float32 RGB, normalised as
  (pixel − 127.5) / 128: our aligned chip (dlib's 5-point alignment) is
  resized to H x W. The output dimension (e.g. 512) is read from the model.

The model's name is its file name and its version the file's SHA-256
prefix, so templates of different models are never compared. Alignment is
dlib's chip (face in the central two thirds); a model trained on another
crop template may lose some accuracy: measure it with ``retroface eval``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from retroface.errors import ModelError
from retroface.faces.dlib_resnet_onnx import load_onnx_session
from retroface.faces.embedder import l2_normalise
from retroface.faces.model_files import file_digest
from retroface.faces.types import ModelInfo


class OnnxFileEmbedder:
    def __init__(self, model_path: Path, threads: int = 1) -> None:
        try:
            self._session = load_onnx_session(model_path, threads)
        except Exception as exc:  # ONNX Runtime raises its own types for unreadable models
            raise ModelError(
                f"{model_path}: not a usable ONNX model ({type(exc).__name__})"
            ) from exc
        chip_input = self._session.get_inputs()[0]
        shape = list(chip_input.shape)
        self._input_name = chip_input.name
        self._output_name = self._session.get_outputs()[0].name
        self._channels_first = len(shape) == 4 and shape[1] == 3
        if not self._channels_first and not (len(shape) == 4 and shape[3] == 3):
            raise ModelError(
                f"{model_path}: expected an image input (N,3,H,W) or (N,H,W,3), got {shape}"
            )
        self._size = (
            (int(shape[3]), int(shape[2]))
            if self._channels_first and isinstance(shape[2], int)
            else None
        )
        self._float_input = chip_input.type == "tensor(float)"
        out_shape = self._session.get_outputs()[0].shape
        dimension = int(out_shape[-1]) if isinstance(out_shape[-1], int) else 0
        if dimension <= 0:
            raise ModelError(
                f"{model_path}: the output's last dimension must be fixed, got {out_shape}"
            )
        self.model = ModelInfo(
            name=model_path.stem, version=file_digest(model_path), dimension=dimension
        )

    def _prepared(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.uint8] | NDArray[np.float32]:
        if not self._channels_first:
            batch = np.ascontiguousarray(np.stack(chips), dtype=np.uint8)
            return batch.astype(np.float32) if self._float_input else batch
        resized = [
            np.asarray(Image.fromarray(c).resize(self._size, Image.Resampling.BILINEAR))
            if self._size and c.shape[1::-1] != self._size
            else c
            for c in chips
        ]
        planes = np.stack(resized).astype(np.float32).transpose(0, 3, 1, 2)
        return np.ascontiguousarray((planes - 127.5) / 128.0)

    def embed(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        if not chips:
            return np.zeros((0, self.model.dimension), dtype=np.float32)
        raw = self._session.run([self._output_name], {self._input_name: self._prepared(chips)})[0]
        return l2_normalise(np.asarray(raw, dtype=np.float32).reshape(len(chips), -1))
