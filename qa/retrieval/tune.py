"""Tune the fusion weights and the abstention margin on an evaluation set, as a whole.

One grid per query group (Chinese, English, other languages), maximizing mean nDCG@10 over the
group's answerable questions; then, per group, the abstention thresholds (fused margin, USE top
similarity) with the best F0.5 at precision ≥ 0.5. The grid is coarse on purpose: a handful of
weights shared by every question, not a fit per question.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from qa.evaluation.metrics import ndcg_at_k
from qa.retrieval.retriever import GROUPS, FusionConfig, Retriever, Weights, _margin, top_similarity

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
            vals = [ndcg_at_k(_ranked(retriever, retriever.fuse(s, "hybrid")[0]), set(q["relevant"]), 10)
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
        points = [(_margin(retriever.fuse(s, "hybrid")[0]), top_similarity(s.get("use")) or 0.0,
                   not q["relevant"]) for q, s in cache if s["group"] == group]
        w = cfg.weights_for(group)
        t, tu, f = best_rule(points, w.abstain_margin)
        cfg = cfg.with_group(group, replace(w, abstain_margin=t, abstain_use=tu))
        summary[group + "_abstain"] = {"margin": t, "use": tu, "f0.5": round(f, 4)}
        log(f"{group}: abstain below margin {t:.2f} or USE top similarity {tu:.2f} (F0.5 {f:.3f} over {len(points)} questions)")
    retriever.config = cfg
    return cfg, summary


def best_rule(points: list[tuple[float, float, bool]], default: float, beta: float = 0.5) -> tuple[float, float, float]:
    """Thresholds (margin, USE similarity) with the best abstention F-beta at precision ≥ 0.5.

    beta 0.5 weighs precision: telling a user "not covered" when the report does cover it costs more
    than showing a weak answer. With no rule that precise, abstain only below every answerable margin seen.
    """
    best = (default, 0.0, -1.0)
    if any(u for _, _, u in points):
        b2 = beta * beta
        for t in np.arange(1.0, 6.0, 0.05):
            for tu in (0.0, *np.arange(0.15, 0.45, 0.01)):
                pred = [(m < t or (tu and us < tu), u) for m, us, u in points]
                tp = sum(1 for p, u in pred if p and u)
                fp = sum(1 for p, u in pred if p and not u)
                fn = sum(1 for p, u in pred if not p and u)
                prec = tp / (tp + fp) if tp + fp else 0.0
                rec = tp / (tp + fn) if tp + fn else 0.0
                f = (1 + b2) * prec * rec / (b2 * prec + rec) if prec + rec else 0.0
                if prec >= 0.5 and f > best[2] + 1e-9:
                    best = (round(float(t), 2), round(float(tu), 2), f)
    if best[2] < 0:
        answerable = [m for m, _, u in points if not u]
        return (round(min(answerable) - 0.05, 2) if answerable else default), 0.0, 0.0
    return best
