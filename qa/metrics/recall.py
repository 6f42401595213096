from __future__ import annotations


def recall_at_k(ranked: list, relevant: set, k: int) -> float:
    """Share of the relevant items found in the top k."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)
