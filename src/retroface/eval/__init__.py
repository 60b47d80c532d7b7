"""Evaluation: accuracy protocols and their metrics (library code; bench/ scripts drive it)."""
