"""What an evaluation found, as plain values: what the CLI prints, the API returns and the
report folder draws.

These live below the services so the report writer (plots, one page) needs no
service: an evaluation runs the engine, these hold its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel


class IntervalOut(BaseModel):
    value: float
    low: float
    high: float


class FnirPoint(BaseModel):
    fpir: float
    fnir: IntervalOut
    threshold: float


class GroupRates(BaseModel):
    group: str
    mated: int
    non_mated: int
    fnir: float
    fpir: float


class IdentificationEval(BaseModel):
    dataset: str
    dataset_sha256: str  # of the sorted file list with sizes: which data the figures describe
    model: str
    identities_enrolled: int
    identities_held_out: int
    mated_probes: int
    non_mated_probes: int
    images_without_face: int
    cmc: dict[int, IntervalOut]
    fnir_at_fpir: list[FnirPoint]
    threshold: float
    fnir_at_threshold: float
    fpir_at_threshold: float
    groups: list[GroupRates]
    fnir_worst_to_best: float | None
    fpir_worst_to_best: float | None
    note: str = "groups come only from the operator's labels; none is inferred from images"
    report_files: list[str] = []


@dataclass
class ScoredDataset:
    """Every probe of a folder-per-identity dataset scored against its in-memory gallery.

    Row i of ``mated_scores`` is a probe of ``mated_names[i]`` (gallery column
    ``mated_truth[i]``); row j of ``non_mated_scores`` a probe of held-out
    ``non_mated_names[j]``. Evaluation and calibration read the same numbers.
    """

    dataset: Path
    dataset_sha256: str
    model: str
    enrolled: list[str]
    held_out: set[str]
    files: int
    embedded: int
    mated_names: list[str]
    mated_scores: np.ndarray
    mated_truth: np.ndarray
    non_mated_names: list[str]
    non_mated_scores: np.ndarray

    @property
    def non_mated_top(self) -> np.ndarray:
        if not len(self.non_mated_scores):
            return np.zeros(0)
        return np.asarray(self.non_mated_scores.max(axis=1))


class TarPoint(BaseModel):
    far: float
    tar: float
    threshold: float
    impostor_pairs: int  # FAR below 1/impostor_pairs cannot be measured: read with care


class VerificationEval(BaseModel):
    source: str
    model: str
    pairs: int
    pairs_without_face: int
    genuine: int
    impostor: int
    accuracy: float
    accuracy_std: float
    tar_at_far: list[TarPoint]
    report_files: list[str] = []
