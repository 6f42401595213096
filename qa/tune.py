"""Tune the fusion weights and the abstention margin on an evaluation set, as a whole.

One grid per script group (Chinese queries, other queries), maximizing mean nDCG@10 over the
group's answerable questions; then the abstention margin that maximizes abstention F1. The
grid is coarse on purpose: a handful of weights shared by every question, not a fit per question.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from qa.metrics import ndcg_at_k
from qa.retrieve import GROUPS, FusionConfig, Retriever, Weights, _margin

GRID = {
    "use": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e5_clause": (0.0, 0.5, 1.0, 1.5),
    "use_clause": (0.0, 0.5, 1.0, 1.5),
    "bm25": (0.0, 0.25, 0.5, 1.0, 1.5),
    "sentence": (0.0, 0.5, 1.0),
    "heading": (0.0, 0.25, 0.5, 1.0),
}


def _ranked(retriever: Retriever, fused: np.ndarray, k: int = 10) -> list[int]:
    return [retriever.keys[i][1] for i in np.argsort(-fused, kind="stable")[:k]]


def tune(retriever: Retriever, questions: list[dict], *, log=print) -> tuple[FusionConfig, dict]:
    items = [q for q in questions if not q.get("history")]
    cache = [(q, retriever.signals(q["question"])) for q in items]
    base = retriever.config
    best: dict[str, Weights] = {}
    summary: dict = {}
    for group in GROUPS:
        group_items = [(q, s) for q, s in cache if s["group"] == group and q["relevant"]]
        if not group_items:
            best[group] = base.weights_for(group)
            continue
        scored = []
        keys = ("use", "e5_clause", "use_clause", "bm25", "sentence", "heading")
        for use, ec, uc, bm25, sent, head in itertools.product(*(GRID[k] for k in keys)):
            w = Weights(e5=1.0, use=use, e5_clause=ec, use_clause=uc, bm25=bm25, sentence=sent, heading=head)
            retriever.config = base.with_group(group, w)
            vals = [ndcg_at_k(_ranked(retriever, retriever.fuse(s, "hybrid", q["question"])[0]), set(q["relevant"]), 10)
                    for q, s in group_items]
            # Ties go to the weights nearest an even mix: fewer extreme settings generalize better.
            scored.append((float(np.mean(vals)), -abs(use - 1) - abs(ec - 1) - abs(bm25 - 0.5) - head, w))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        best[group] = scored[0][2]
        summary[group] = {"ndcg@10": round(scored[0][0], 4), "questions": len(group_items), "weights": vars(scored[0][2])}
        log(f"{group}: best nDCG@10 {scored[0][0]:.4f} over {len(group_items)} questions with {scored[0][2]}")
    cfg = FusionConfig(dict(best), base.lexical_min_cjk)
    retriever.config = cfg
    for group in GROUPS:
        margins = [(_margin(retriever.fuse(s, "hybrid", q["question"])[0]), not q["relevant"])
                   for q, s in cache if s["group"] == group]
        w = cfg.weights_for(group)
        t, f1 = best_threshold(margins, w.abstain_margin)
        cfg = cfg.with_group(group, replace(w, abstain_margin=t))
        summary[group + "_abstain"] = {"margin": t, "f1": round(f1, 4)}
        log(f"{group}: abstain below margin {t:.2f} (F1 {f1:.3f} over {len(margins)} questions)")
    retriever.config = cfg
    return cfg, summary


def best_threshold(margins: list[tuple[float, bool]], default: float) -> tuple[float, float]:
    """The margin threshold with the best abstention F1 (lowest among ties: abstaining wrongly costs more)."""
    if not any(u for _, u in margins):
        return default, 0.0
    best_t, best_f1 = default, -1.0
    for t in np.arange(1.0, 8.0, 0.05):
        tp = sum(1 for m, u in margins if m < t and u)
        fp = sum(1 for m, u in margins if m < t and not u)
        fn = sum(1 for m, u in margins if m >= t and u)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        if f1 > best_f1 + 1e-9:
            best_t, best_f1 = round(float(t), 2), f1
    return best_t, best_f1
