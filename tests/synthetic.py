"""Synthetic `QuerySignals` records built from given score arrays: fusion and tuning tested without a model or index."""

from __future__ import annotations

import numpy as np

from qa.retrieval.signals import DenseScores, QuerySignals


def dense_scores(para, *, sent=None, fn=None, clause=None, head=None) -> DenseScores:
    """One encoder's components; a component not given is the paragraph's score, and no row has a best unit."""
    para = np.asarray(para, dtype=np.float32)

    def component(x) -> np.ndarray:
        return para.copy() if x is None else np.asarray(x, dtype=np.float32)

    sent, fn, clause, head = component(sent), component(fn), component(clause), component(head)
    none = np.full(len(para), -1, dtype=np.int64)
    return DenseScores(para, sent, fn, clause, head, none, none.copy(), none.copy(), sent.copy(), clause.copy(),
                       fn.copy())


def query_signals(dense: dict[str, DenseScores] | None = None, lexical: dict | None = None, *, group: str = "en",
                  pool=None, sample=None, stats: dict | None = None, entities: list | None = None) -> QuerySignals:
    """A record over rows 0..n-1 (n from the first array given); every row a candidate and in the sample unless
    `pool` / `sample` (bool masks) say otherwise."""
    dense = dense or {}
    lexical = {name: np.asarray(x, dtype=np.float32) for name, x in (lexical or {}).items()}
    n = len(next(iter(dense.values())).para) if dense else len(next(iter(lexical.values())))
    every = np.ones(n, dtype=bool)
    return QuerySignals("q", "en", group, np.arange(n), every if pool is None else np.asarray(pool, dtype=bool),
                        every if sample is None else np.asarray(sample, dtype=bool), dense, lexical, stats or {},
                        [], entities or [], {})
