"""Per-query retrieval signals, computed in two stages, as one typed record (`QuerySignals`).

Stage 1 — candidates. Each signal fetches its own top candidates from its own index: every dense
encoder its top units from its vector store (FAISS or Milvus), and USE also its top paragraph units;
each lexical signal fusion adds its top paragraphs, and so does their weighted sum. The union is the candidate
pool (`Scope`). The lexical signals (`LexicalSignals`) are computed for every paragraph before stage 1.

Stage 2 — exact scores. For the pool every component is computed exactly from the units' vectors, with the
unit behind each best score (the evidence); for the rows of a fixed random sample of paragraphs that stands
for the whole collection, from a packed copy of the sample's vectors, with the encoders fusion reads:
  para      the paragraph (with its headings) as one vector
  sent      its best sentence            fn    its best footnote
  clause    its best clause window       head  its section/subsection titles
  bm25      BM25 over jieba words + CJK bigrams + Latin tokens
  bridge    BM25 of the Chinese forms of the places and UN terms the question names (any language)
  place     1 for every paragraph that names a place the question names
  prf       BM25 of distinctive words of the top dense paragraphs (pseudo-relevance feedback, after stage 2)
Fusion standardizes each dense component with its mean and spread over the sample, except where they are
known exactly: each lexical signal's from its scores for every paragraph (computed in stage 1 anyway), the
paragraph and heading components' from the mean and covariance of those vectors (`DenseIndex.linear_stats`).
So the cost of a query grows with the pool and the sample, not with the collection. A collection no larger than
the sample is scored exhaustively: pool and sample are then every paragraph, exactly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from qa.retrieval.bridge import Entity
from qa.text import Language

Group = Literal["zh", "en", "other"]
GROUPS: tuple[Group, ...] = ("zh", "en", "other")
KINDS = ("paragraph", "heading", "sentence", "clause", "footnote")
_KIND = {k: i for i, k in enumerate(KINDS)}
# Paragraphs that stand for the collection when it is larger: the per-query mean and spread of the dense
# components that are not one unit's cosine, and the fused margin, are taken over them. Stage 2 scores a sampled
# paragraph at the cost of a candidate, so the size trades agreement with exhaustive scoring against query time
# (figures: docs/measurements.md).
SAMPLE_SIZE = 768
# Units each dense signal fetches in stage 1 (`--candidates`): more come closer to exhaustive scoring, and cost more.
DENSE_CANDIDATES = 600
# Paragraph units fetched in a search of their own, for the encoders whose top units crowd paragraphs out: USE, a
# sentence encoder, ranks short clauses above whole paragraphs for a short question (e5, a passage-retrieval model,
# does not, and gains nothing from it).
PARAGRAPH_CANDIDATES = 400
PARAGRAPH_SEARCH = frozenset({"use"})
LEXICAL_CANDIDATES = 600  # paragraphs each lexical signal (and their weighted sum) fetches in stage 1
PRF_DOCS = 3
PRF_TERMS = 12


@dataclass
class DenseScores:
    """One encoder's components over `QuerySignals.rows`, with the unit that gave each best score."""

    para: np.ndarray
    sent: np.ndarray
    fn: np.ndarray
    clause: np.ndarray
    head: np.ndarray
    best_sentence: np.ndarray  # sentence index of the best sentence (-1: none)
    best_clause: np.ndarray  # sentence index of the best clause's sentence (-1: none)
    best_footnote: np.ndarray  # footnote number of the best footnote (-1: none)
    sent_score: np.ndarray  # raw scores of those best units (for choosing evidence)
    clause_score: np.ndarray
    fn_score: np.ndarray

    def detail(self) -> np.ndarray:
        return np.maximum(self.sent, self.fn)

    def combined(self, w_sentence: float) -> np.ndarray:
        if not w_sentence:  # the paragraph alone (a sample row of an encoder fusion does not read is -inf, 0·-inf nan)
            return self.para
        return (1 - w_sentence) * self.para + w_sentence * self.detail()

    def take(self, idx: np.ndarray) -> DenseScores:
        return DenseScores(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @staticmethod
    def unscored(n: int) -> DenseScores:
        """`n` rows of no score (-inf) and no best unit (-1), to be filled with `put`."""
        return DenseScores(*(np.full(n, -1, dtype=np.int64) if f.startswith("best_") else
                             np.full(n, -np.inf, dtype=np.float32) for f in DenseScores.__dataclass_fields__))

    def put(self, where: np.ndarray, other: DenseScores) -> None:
        for f in self.__dataclass_fields__:
            getattr(self, f)[where] = getattr(other, f)


@dataclass
class QuerySignals:
    """Everything fusion needs about one query; `rows` index `Retriever.keys` (doc, ¶)."""

    query: str
    language: Language
    group: Group
    rows: np.ndarray  # paragraph rows scored exactly (pool ∪ sample)
    pool: np.ndarray  # bool over rows: a candidate that may be ranked
    sample: np.ndarray  # bool over rows: stands for the collection in per-query statistics
    dense: dict[str, DenseScores] = field(default_factory=dict)
    lexical: dict[str, np.ndarray] = field(default_factory=dict)  # bm25, bridge, prf over rows
    # (mean, sd) over the whole collection, known exactly in two stages, so fusion standardizes with them as
    # exhaustive scoring does instead of with the sample's estimate: each lexical signal (its scores exist for every
    # paragraph) and "e5.para", "e5.head", "use.para", "use.head" (one unit's cosine: `DenseIndex.linear_stats`)
    stats: dict[str, tuple[float, float]] = field(default_factory=dict)
    query_tokens: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def top_similarity(self, name: str = "use") -> float | None:
        """The highest raw cosine of any paragraph, sentence or clause unit for that encoder (None without it)."""
        d = self.dense.get(name)
        if d is None or not len(self.rows):
            return None
        return float(max(d.para.max(), d.sent.max(), d.clause.max()))


@dataclass
class LexicalSignals:
    """One query's lexical signals over every paragraph (`Retriever.keys` order), and what they were computed from."""

    tokens: list[str]  # the query's BM25 tokens
    entities: list[Entity]  # the places and UN terms it names (the bridge's)
    scores: dict[str, np.ndarray]  # "bm25"; with entities, "bridge" and (with places) "place"


@dataclass
class Scope:
    """The rows stage 2 scores exactly (they index `Retriever.keys`), and which of them are candidates that may
    be ranked (`pool`) or stand for the collection in per-query statistics (`sample`): bool masks over `rows`."""

    rows: np.ndarray
    pool: np.ndarray
    sample: np.ndarray


class DenseIndex:
    """One encoder's units laid out for stage 2: unit → paragraph row and kind, grouped by row."""

    def __init__(self, name: str, encoder, store, pos: dict[tuple[str, int], int], n_rows: int,
                 *, keep_vectors_below: int = 300_000):
        self.name, self.encoder, self.store = name, encoder, store
        units = store.units  # records as `Unit.record()` writes them, read field by field (10× faster than Units)
        self.unit_row = np.array([pos.get((r["doc"], r["paragraph"]), -1) for r in units], dtype=np.int64)
        self.unit_kind = np.array([_KIND[r["kind"]] for r in units], dtype=np.int8)
        self.unit_sentence = np.array([r.get("sentence", -1) for r in units], dtype=np.int32)
        self.unit_footnote = np.array([-1 if r.get("footnote") is None else r["footnote"] for r in units], dtype=np.int32)
        valid = np.flatnonzero(self.unit_row >= 0)
        # grouped by row, and inside a row by kind (unit order within a kind): each (row, kind) is one run
        order = valid[np.lexsort((self.unit_kind[valid], self.unit_row[valid]))]
        self.by_row = order
        self.row_start = np.searchsorted(self.unit_row[order], np.arange(n_rows + 1))
        # A store that scores given units itself (FAISS) or hands back their vectors (when large) is asked for
        # the few stage 2 needs; otherwise the vectors are copied into memory once.
        asked = hasattr(store, "similarities") or (len(units) > keep_vectors_below and hasattr(store, "reconstruct"))
        self.vectors = None if asked else store.vectors()
        self.linear: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # see prepare_linear
        self.sample: tuple | None = None  # see prepare_sample

    def prepare_linear(self) -> None:
        """The mean vector and covariance matrix of each row's paragraph vector and of its heading vector (the
        paragraph's where it has no heading), over every row. `para` and `head` are one unit's cosine per row,
        linear in the query, so their mean and spread over the whole collection follow exactly for any query
        (`linear_stats`, O(d²)), as exhaustive scoring computes them, instead of being estimated from the sample.
        A row without units scores 0 (a zero vector)."""
        n = len(self.row_start) - 1
        kinds, rows = self.unit_kind[self.by_row], self.unit_row[self.by_row]
        first = {}
        for kind in (0, 1):  # each row's first unit of the kind (assigned last to first: the first one stays)
            at = np.flatnonzero(kinds == kind)[::-1]
            first[kind] = np.full(n, -1, dtype=np.int64)
            first[kind][rows[at]] = self.by_row[at]
        # a row with two paragraph (or heading) units scores their best: not linear, the sample estimates it
        single = [np.bincount(rows[kinds == kind], minlength=n).max(initial=0) <= 1 for kind in (0, 1)]
        if single[0]:
            self.linear["para"] = _mean_cov(self._vectors_of, first[0])
        if single[0] and single[1]:  # a row without a heading scores its paragraph there
            self.linear["head"] = _mean_cov(self._vectors_of, np.where(first[1] >= 0, first[1], first[0]))

    def _vectors_of(self, ids: np.ndarray) -> np.ndarray:
        return self.vectors[ids] if self.vectors is not None else self.store.reconstruct(ids)

    def linear_stats(self, qvec: np.ndarray) -> dict[str, tuple[float, float]]:
        """{"para"/"head": (mean, sd)} of the query's cosine with those vectors over every row (after `prepare_linear`)."""
        q = np.asarray(qvec, dtype=np.float32).reshape(-1)
        out = {}
        for kind, (mean, cov) in self.linear.items():
            var = float(q @ _dot(cov, q))
            out[kind] = (float(q @ mean), float(np.sqrt(max(var, 0.0))))
        return out

    def units_of(self, rows: np.ndarray) -> np.ndarray:
        starts, ends = self.row_start[rows], self.row_start[rows + 1]
        if not len(rows):
            return np.zeros(0, dtype=np.int64)
        lengths = ends - starts
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        return self.by_row[np.arange(lengths.sum()) + offsets]

    def candidates(self, qvec: np.ndarray, k: int, paragraphs: int = 0) -> np.ndarray:
        """Rows of the query's top `k` units, and of its top `paragraphs` paragraph units. A paragraph's own vector
        competes for the top units with ten times as many sentences and clauses, and with every copy of a
        sentence that many reports repeat, so the paragraph vectors get a search of their own."""
        found = [self.store.search(qvec, min(k, len(self.unit_row)))[1][0]]
        if paragraphs:
            found.append(self.store.search(qvec, paragraphs, filter={"kind": ["paragraph"]})[1][0])
        rows = self.unit_row[np.concatenate([ids[ids >= 0] for ids in found])]
        return np.unique(rows[rows >= 0])

    def scores(self, qvec: np.ndarray, rows: np.ndarray) -> DenseScores:
        """Exact components for `rows`: each unit's cosine, then the best unit of each kind per row.

        `units_of` yields the units in (row, kind) runs, so the best of each run is a segmented max
        (`reduceat`) and its unit the run's first position that reaches it: linear in the units, no sort."""
        n = len(rows)
        ids = self.units_of(rows)
        best = np.full((len(KINDS), n), -np.inf, dtype=np.float32)
        arg = np.full((len(KINDS), n), -1, dtype=np.int64)
        if len(ids):
            q = np.asarray(qvec, dtype=np.float32).reshape(-1)
            if self.vectors is not None:
                sims = _dot(self.vectors[ids], q)
            elif hasattr(self.store, "similarities"):  # computed inside the store, without copying the vectors
                sims = self.store.similarities(q, ids)
            else:
                sims = _dot(self.store.reconstruct(ids), q)
            sims = sims.astype(np.float32, copy=False)
            local, kinds, starts = self._runs(rows, ids)
            top = np.maximum.reduceat(sims, starts)
            reached = np.where(sims >= np.repeat(top, np.diff(np.r_[starts, len(sims)])), np.arange(len(sims)), len(sims))
            first = np.minimum.reduceat(reached, starts)
            best[kinds[starts], local[starts]] = top
            arg[kinds[starts], local[starts]] = ids[first]
        return self._components(best, arg)

    def _runs(self, rows: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For `ids = units_of(rows)`: each unit's position in `rows`, its kind, and where each (row, kind) run starts."""
        local = np.repeat(np.arange(len(rows)), self.row_start[rows + 1] - self.row_start[rows])
        kinds = self.unit_kind[ids]
        key = local * len(KINDS) + kinds
        return local, kinds, np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(ids) else np.zeros(0, np.int64)

    def prepare_sample(self, rows: np.ndarray) -> None:
        """Copy the vectors of every unit of the sample `rows` into one block, with its (row, kind) runs: the sample
        is fixed, so its scores (`sample_scores`) are one contiguous scan per query instead of a gather from 10⁶
        units (~2 ms instead of ~2.5 ms per encoder for 1,024 paragraphs and their ~11k units at 10⁵: memory traffic
        either way)."""
        ids = self.units_of(rows)
        local, kinds, starts = self._runs(rows, ids)
        block = self._vectors_of(ids) if len(ids) else np.zeros((0, 1), dtype=np.float32)
        self.sample = (len(rows), np.ascontiguousarray(block, dtype=np.float32), starts, kinds[starts], local[starts])

    def sample_scores(self, qvec: np.ndarray) -> DenseScores:
        """The components of every sample row (`prepare_sample`), without the best units (-1): the sample only
        stands for the collection in statistics and the margin, it is never a hit."""
        n, block, starts, kinds, local = self.sample
        best = np.full((len(KINDS), n), -np.inf, dtype=np.float32)
        if len(block):
            best[kinds, local] = np.maximum.reduceat(_dot(block, np.asarray(qvec, dtype=np.float32)), starts)
        return self._components(best, np.full((len(KINDS), n), -1, dtype=np.int64))

    def _components(self, best: np.ndarray, arg: np.ndarray) -> DenseScores:
        """DenseScores from the best score (and unit) of each kind per row; a kind a row lacks falls back as documented."""
        para = np.where(np.isfinite(best[0]), best[0], 0.0).astype(np.float32)
        sent = np.where(np.isfinite(best[2]), best[2], para).astype(np.float32)
        fn = np.where(np.isfinite(best[4]), best[4], para).astype(np.float32)
        clause = np.maximum(np.where(np.isfinite(best[3]), best[3], sent), sent).astype(np.float32)
        head = np.where(np.isfinite(best[1]), best[1], para).astype(np.float32)

        def pick(kind: int, table: np.ndarray) -> np.ndarray:
            a = arg[kind]
            return np.where(a >= 0, table[np.maximum(a, 0)], -1)

        return DenseScores(para, sent, fn, clause, head, pick(2, self.unit_sentence), pick(3, self.unit_sentence),
                           pick(4, self.unit_footnote), best[2], best[3], best[4])


def _mean_cov(vectors_of, ids: np.ndarray, *, chunk: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float32; each chunk's product in float32, their sum in float64) of the vectors of
    `ids` (-1: a zero vector)."""
    n = max(len(ids), 1)

    def blocks():
        for s in range(0, len(ids), chunk):
            take = ids[s:s + chunk]
            x = vectors_of(np.maximum(take, 0)).astype(np.float32, copy=True)
            x[take < 0] = 0.0
            yield x

    if not len(ids):
        return np.zeros(1, dtype=np.float32), np.zeros((1, 1), dtype=np.float32)
    mean = (sum(x.sum(axis=0, dtype=np.float64) for x in blocks()) / n).astype(np.float32)
    centered = (x - mean for x in blocks())
    cov = sum((c.T @ c).astype(np.float64) for c in centered) / n
    return mean, np.asarray(cov, dtype=np.float32)


def _dot(vectors: np.ndarray, q: np.ndarray) -> np.ndarray:
    """`vectors @ q` with FAISS' single-threaded SIMD kernel, for stores whose vectors are held in memory or handed
    back (Milvus; FAISS scores inside its own storage). In two stages the encoders' exact scores run on two
    threads, and numpy's product would wake OpenBLAS' thread pool, whose spinning threads slow the other thread
    and the next question's encoding on two cores (measured with a block of 24k vectors scored per question at
    10⁵ paragraphs: stage 2 7 → 12 ms, USE encoding 3.7 → 6 ms)."""
    import faiss  # at the first query, as embeddings/store.py does: a start-up that searches nothing never loads it

    v = np.ascontiguousarray(vectors, dtype=np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32).reshape(-1)
    if v.ndim != 2 or q.shape[0] != v.shape[1]:  # the kernel would read past the query
        raise ValueError(f"query of dimension {q.shape[0]} against vectors of shape {v.shape}")
    out = np.empty(len(v), dtype=np.float32)
    if len(v):
        faiss.fvec_inner_products_ny(faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(v), v.shape[1], len(v))
    return out


def prf_terms(texts: list[str], tokenize, df: Counter, n_docs: int, *, top: int = PRF_TERMS) -> list[str]:
    """RM3-style expansion: the words of the feedback paragraphs weighted by tf · idf, best first."""
    tf: Counter = Counter()
    for t in texts:
        tf.update(tok for tok in tokenize(t) if not tok.startswith("§") and len(tok) > 1)
    scored = [(c * np.log((n_docs + 1) / (df.get(tok, 0) + 0.5)), tok) for tok, c in tf.items()]
    scored.sort(reverse=True)
    return [tok for _, tok in scored[:top]]
