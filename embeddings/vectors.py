"""Input cleaning and output normalization that every encoder backend shares (torch, ONNX Runtime, USE)."""

from __future__ import annotations

import numpy as np


def clean_texts(texts: list[str]) -> list[str]:
    """Texts as the tokenizers should see them: trailing whitespace and NULs change token ids, not meaning."""
    return [" ".join(t.replace("\x00", " ").split()) or "." for t in texts]


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Unit-length float32 rows (cosine = dot product)."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)
