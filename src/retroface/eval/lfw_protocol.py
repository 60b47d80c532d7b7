"""Read the standard LFW pairs file (``pairs.txt``) into labelled, folded image pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retroface.errors import InvalidInputError


@dataclass(frozen=True)
class LfwPair:
    first: Path
    second: Path
    same: bool
    fold: int


def lfw_image(root: Path, name: str, number: int) -> Path:
    return root / name / f"{name}_{number:04d}.jpg"


def read_lfw_pairs(pairs_file: Path, lfw_root: Path) -> list[LfwPair]:
    """Header ``folds n``; then per fold n same-person lines then n different-person lines."""
    lines = [ln.split() for ln in pairs_file.read_text().splitlines() if ln.strip()]
    try:
        folds, per_fold = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError) as exc:
        raise InvalidInputError(f"{pairs_file}: the first line must be 'FOLDS N'") from exc
    body = lines[1:]
    if len(body) != folds * per_fold * 2:
        raise InvalidInputError(
            f"{pairs_file}: expected {folds * per_fold * 2} pairs, found {len(body)}"
        )
    pairs = []
    for i, parts in enumerate(body):
        fold = i // (2 * per_fold)
        if len(parts) == 3:
            name, a, b = parts
            pairs.append(
                LfwPair(
                    lfw_image(lfw_root, name, int(a)), lfw_image(lfw_root, name, int(b)), True, fold
                )
            )
        elif len(parts) == 4:
            name_a, a, name_b, b = parts
            pairs.append(
                LfwPair(
                    lfw_image(lfw_root, name_a, int(a)),
                    lfw_image(lfw_root, name_b, int(b)),
                    False,
                    fold,
                )
            )
        else:
            raise InvalidInputError(f"{pairs_file}: line {i + 2} is not a pair")
    return pairs
