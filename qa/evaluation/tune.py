"""Choose the fusion weights and the "not covered" thresholds by k-fold cross-validation.

For every question the signals are computed once (`Retriever.signals`); every candidate setting is
then scored with the public `fuse` alone. Per query group (Chinese, English, other languages):
1. weights: coordinate ascent over a coarse grid, maximizing mean nDCG@10 on the training
   questions (ties go to the setting nearest an even mix);
2. thresholds: the fused margin, USE top similarity and the looser margin for questions naming a
   place or year the report lacks, maximizing abstention F1 while declining at most
   `MAX_FALSE_DECLINE` of the answerable training questions.
`cross_validate` repeats this on k folds and scores each held-out fold with weights it never saw:
those out-of-fold figures are the honest ones. The final weights are tuned on all questions and
saved to fusion.json (the one copy), with the out-of-fold figures beside them. Nothing is fitted
question by question: a handful of weights is shared by every question of a group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from qa.evaluation.metrics import hit_at_k, ndcg_at_k, recall_at_k
from qa.retrieval.bridge import missing_places
from qa.retrieval.fusion import FusionConfig, Weights, abstains, fuse, margin
from qa.retrieval.retriever import Retriever
from qa.retrieval.signals import GROUPS, QuerySignals

GRID = {
    "use": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e5_clause": (0.0, 0.5, 1.0, 1.5),
    "use_clause": (0.0, 0.5, 1.0, 1.5),
    "heading": (0.0, 0.25, 0.5, 1.0),
    "bm25": (0.0, 0.25, 0.5, 1.0, 1.5),
    "bridge": (0.0, 0.25, 0.5, 1.0, 1.5, 2.0),
    "prf": (0.0, 0.25, 0.5, 1.0),
    "place": (0.0, 0.25, 0.5, 1.0, 1.5),
    "sentence": (0.0, 0.5, 1.0),
}
EVEN = {"use": 1.0, "e5_clause": 1.0, "use_clause": 0.5, "heading": 0.0, "bm25": 0.5, "bridge": 0.5, "prf": 0.0,
        "place": 0.0, "sentence": 0.5}
MAX_FALSE_DECLINE = 0.04
MARGINS = tuple(np.round(np.arange(0.0, 5.0, 0.1), 2))
USE_SIMS = (0.0, *np.round(np.arange(0.15, 0.45, 0.02), 2))
MISSING_MARGINS = (0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 99.0)


@dataclass
class Item:
    """One tuning question with its precomputed signals."""

    id: str
    lang: str
    kind: str
    relevant: set[int]
    sig: QuerySignals
    keys: list[tuple[str, int]]

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


def prepare(retriever: Retriever, questions: list[dict]) -> list[Item]:
    """Signals for every standalone question, with every optional signal computed (weights decide later)."""
    everything = replace(retriever.config, groups={g: replace(w, prf=1.0) for g, w in retriever.config.groups.items()})
    saved, retriever.config = retriever.config, everything
    try:
        items = [Item(q["id"], q.get("lang", "und"), q.get("kind", ""), set(q["relevant"]),
                      retriever.signals(q["question"]), retriever.keys)
                 for q in questions if not q.get("history")]
    finally:
        retriever.config = saved
    return items


def ranked(item: Item, w: Weights, k: int = 10) -> tuple[list[int], np.ndarray]:
    fused, _ = fuse(item.sig, w)
    order = np.argsort(-fused, kind="stable")
    return [item.keys[int(item.sig.rows[i])][1] for i in order[:k]], fused


def _score(items: list[Item], w: Weights) -> float:
    return float(np.mean([ndcg_at_k(ranked(it, w)[0], it.relevant, 10) for it in items])) if items else 0.0


def tune_weights(items: list[Item], start: Weights, *, passes: int = 3) -> tuple[Weights, float]:
    """Coordinate ascent over GRID from `start`, maximizing mean nDCG@10 of the answerable items."""
    items = [it for it in items if it.answerable]
    best, best_score = start, _score(items, start)
    for _ in range(passes):
        improved = False
        for name, values in GRID.items():
            trials = []
            for v in values:
                w = replace(best, **{name: v})
                trials.append((round(_score(items, w), 6), -abs(v - EVEN[name]), v, w))
            trials.sort(key=lambda t: (t[0], t[1]), reverse=True)
            if trials[0][0] > best_score + 1e-9:
                best, best_score, improved = trials[0][3], trials[0][0], True
        if not improved:
            break
    return best, best_score


def _abstain_points(items: list[Item], w: Weights) -> list[tuple[float, float, bool, bool]]:
    points = []
    for it in items:
        _, fused = ranked(it, w)
        best = int(np.argmax(fused))
        points.append((margin(fused, it.sig.sample, best), it.sig.top_similarity("use") or 0.0,
                       bool(missing_places(it.sig.entities)), not it.answerable))
    return points


def tune_thresholds(items: list[Item], w: Weights) -> tuple[Weights, dict]:
    """Margin, USE and missing-place thresholds with the best abstention F1 at ≤ MAX_FALSE_DECLINE declines."""
    points = _abstain_points(items, w)
    answerable = sum(1 for *_, u in points if not u)
    best = (-1.0, 0.0, 0.0, 99.0)
    for tm in MISSING_MARGINS:
        for t in MARGINS:
            for tu in USE_SIMS:
                cand = replace(w, abstain_margin=float(t), abstain_use=float(tu), abstain_missing=float(tm))
                pred = [(abstains(cand, m, us, miss), u) for m, us, miss, u in points]
                fp = sum(1 for p, u in pred if p and not u)
                if answerable and fp / answerable > MAX_FALSE_DECLINE:
                    continue
                tp = sum(1 for p, u in pred if p and u)
                fn = sum(1 for p, u in pred if not p and u)
                f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
                # Ties: the least aggressive rule (lowest margins) generalizes best.
                if f1 > best[0] + 1e-9:
                    best = (f1, float(t), float(tu), float(tm))
    if best[0] < 0:
        return replace(w, abstain_margin=0.0, abstain_use=0.0, abstain_missing=0.0), {"f1": 0.0}
    f1, t, tu, tm = best
    return replace(w, abstain_margin=t, abstain_use=tu, abstain_missing=tm), {"f1": round(f1, 4)}


def tune_config(items: list[Item], base: FusionConfig, *, log: Callable[[str], None] = lambda _: None) -> FusionConfig:
    """Weights then thresholds for every group, from these items only."""
    cfg = base
    for group in GROUPS:
        group_items = [it for it in items if it.sig.group == group]
        if not group_items:
            continue
        w, score = tune_weights(group_items, base.weights_for(group))
        w, info = tune_thresholds(group_items, w)
        cfg = cfg.with_group(group, w)
        log(f"{group}: nDCG@10 {score:.4f} (in-sample, {len(group_items)} questions), abstention F1 {info['f1']:.3f}; {w}")
    return cfg


def fold_of(qid: str, k: int) -> int:
    """A stable fold for a question id (independent of file order)."""
    return int(hashlib.sha256(qid.encode()).hexdigest(), 16) % k


def _metrics(items: list[Item], cfg: FusionConfig) -> list[dict]:
    rows = []
    for it in items:
        w = cfg.weights_for(it.sig.group)
        top, fused = ranked(it, w)
        best = int(np.argmax(fused))
        m = margin(fused, it.sig.sample, best)
        declined = abstains(w, m, it.sig.top_similarity("use"), bool(missing_places(it.sig.entities)))
        row = {"id": it.id, "lang": it.lang, "kind": it.kind, "answerable": it.answerable, "abstained": declined}
        if it.answerable:
            row.update({"ndcg@10": ndcg_at_k(top, it.relevant, 10), "hit@1": hit_at_k(top, it.relevant, 1),
                        "recall@5": recall_at_k(top, it.relevant, 5)})
        rows.append(row)
    return rows


def summarize(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    out = {m: round(float(np.mean([r[m] for r in ans])), 4) for m in ("ndcg@10", "hit@1", "recall@5")} if ans else {}
    out["n"] = len(ans)
    by_lang = {}
    for lang in sorted({r["lang"] for r in ans}):
        sel = [r["ndcg@10"] for r in ans if r["lang"] == lang]
        by_lang[lang] = round(float(np.mean(sel)), 4)
    out["by_language"] = by_lang
    tp = sum(1 for r in rows if r["abstained"] and not r["answerable"])
    fp = sum(1 for r in rows if r["abstained"] and r["answerable"])
    fn = sum(1 for r in rows if not r["abstained"] and not r["answerable"])
    out["abstention"] = {"f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0,
                         "false_decline": round(fp / len(ans), 4) if ans else 0.0, "unanswerable": tp + fn}
    return out


def cross_validate(items: list[Item], base: FusionConfig, *, k: int = 5) -> tuple[list[dict], dict]:
    """Out-of-fold rows: each fold scored with weights and thresholds tuned on the other folds."""
    rows: list[dict] = []
    for fold in range(k):
        train = [it for it in items if fold_of(it.id, k) != fold]
        test = [it for it in items if fold_of(it.id, k) == fold]
        rows += _metrics(test, tune_config(train, base))
    return rows, summarize(rows)


def tune(retriever: Retriever, questions: list[dict], *, folds: int = 5, log: Callable[[str], None] = print
         ) -> tuple[FusionConfig, dict]:
    """Cross-validated figures, then the final weights tuned on every question."""
    items = prepare(retriever, questions)
    base = retriever.config
    log(f"{len(items)} standalone questions; {folds}-fold cross-validation …")
    _, oof = cross_validate(items, base, k=folds)
    log(f"out-of-fold: nDCG@10 {oof['ndcg@10']:.4f}, hit@1 {oof['hit@1']:.4f}, Recall@5 {oof['recall@5']:.4f}; "
        f"by language {oof['by_language']}; abstention {oof['abstention']}")
    cfg = tune_config(items, base, log=log)
    insample = summarize(_metrics(items, cfg))
    log(f"in-sample (final weights): nDCG@10 {insample['ndcg@10']:.4f}; by language {insample['by_language']}")
    return cfg, {"folds": folds, "questions": len(items), "out_of_fold": oof, "in_sample": insample}
