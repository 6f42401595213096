from __future__ import annotations

import math


def ndcg_at_k(ranked: list, relevant: set, k: int) -> float:
    """Binary-gain nDCG@k (the trec_eval / ranx definition: gain 1, discount log2(rank + 1))."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, r in enumerate(ranked[:k], 1) if r in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal
