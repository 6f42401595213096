from __future__ import annotations


def hit_at_k(ranked: list, relevant: set, k: int) -> float:
    """1.0 when any relevant item is in the top k."""
    return 1.0 if any(r in relevant for r in ranked[:k]) else 0.0
