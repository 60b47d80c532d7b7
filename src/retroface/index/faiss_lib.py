"""FAISS itself, loaded once and set to one OpenMP thread (flat_index.py says why).

The index modules import it inside the functions that build, read, write or search an
index, so importing them (for a type, a file suffix, the index factory) costs nothing
until a gallery is actually indexed or searched.
"""

from __future__ import annotations

import faiss

faiss.omp_set_num_threads(1)  # see flat_index.py: single queries dominate

__all__ = ["faiss"]
