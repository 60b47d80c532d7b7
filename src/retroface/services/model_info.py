"""Model cards for the `models` command: what each backend is and how well it measured."""

from __future__ import annotations

from retroface.faces.model_cards import ModelCard, model_cards


def list_model_cards() -> tuple[ModelCard, ...]:
    return model_cards()
