"""Ranking metrics, one small file each (ranx-style). All take a ranked list and a relevant set."""

from qa.metrics.hit import hit_at_k
from qa.metrics.mrr import mrr_at_k
from qa.metrics.ndcg import ndcg_at_k
from qa.metrics.recall import recall_at_k

__all__ = ["hit_at_k", "mrr_at_k", "ndcg_at_k", "recall_at_k"]
