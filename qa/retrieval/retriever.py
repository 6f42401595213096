"""The retriever: question → `QuerySignals` (signals.py) → `fuse` (fusion.py) → ranked `Hit`s with evidence.

`Retriever.signals` runs the stages that make a `QuerySignals` record, one method each, with typed outputs
(`LexicalSignals`, `Scope`, `DenseScores`); `Retriever.search` fuses them (fusion.py), ranks the candidates,
applies the "not covered" rule and picks each hit's evidence. The language of the question is detected once
and travels with the signals. Weights depend on the query's group (Chinese, English, other).
A collection of up to `signals.SAMPLE_SIZE` paragraphs is scored exhaustively; a larger one in two
stages (candidates per signal, then exact scores for their union), with the same code path.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from embeddings.encoders import Encoder
from qa.errors import UserError
from qa.retrieval.bridge import PLACE_KINDS, Bridge, Entity, bridge_query, missing_places, names_in
from qa.retrieval.fusion import (
    ENCODERS,
    FusionConfig,
    Weights,
    abstains,
    combine,
    fuse,
    margin,
    moments,
    query_group,
    standardize,
    weighted_encoders,
)
from qa.retrieval.lexical import LexicalIndex, tokenize
from qa.retrieval.signals import (
    DENSE_CANDIDATES,
    LEXICAL_CANDIDATES,
    PARAGRAPH_CANDIDATES,
    PARAGRAPH_SEARCH,
    PRF_DOCS,
    SAMPLE_SIZE,
    DenseIndex,
    DenseScores,
    LexicalSignals,
    QuerySignals,
    Scope,
    prf_terms,
)
from qa.text import cjk_share, detect_language
from qa.types import MODES, Corpus, Mode

__all__ = ["Depth", "Hit", "Retriever", "SearchResult"]


Depth = int | Literal["all"]  # candidates per signal in two stages, or "all": exhaustive scoring


def _top(x: np.ndarray, positive: np.ndarray, k: int) -> np.ndarray:
    """The (at most) `k` best of the positions `positive` (where `x` > 0)."""
    return positive if len(positive) <= k else positive[np.argpartition(-x[positive], k)[:k]]


@functools.cache
def _workers() -> ThreadPoolExecutor:
    """Threads shared by every retriever for the per-encoder work of two-stage search (stage-1 searches and
    `Retriever._each_encoder`): one per core, at least two. Its tasks never wait on one another."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="report-qa-stage")


@contextlib.contextmanager
def _timed(timings: dict[str, float], key: str):
    """Records how long the block takes, in ms, as `timings[key]`."""
    t0 = time.perf_counter()
    yield
    timings[key] = (time.perf_counter() - t0) * 1000


@contextlib.contextmanager
def _collected():
    """A dict for the stage-1 searches a query submits: when the query fails before collecting them, they are
    cancelled or waited for, not left running unobserved on the shared threads."""
    searches: dict = {}
    try:
        yield searches
    except BaseException:
        for search in searches.values():
            search.cancel()
        wait(searches.values())
        raise


@dataclass
class Hit:
    doc: str
    paragraph: int
    score: float
    rank: int
    sentences: list[int] = field(default_factory=list)  # indexes into Paragraph.spans
    footnotes: list[int] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)


@dataclass
class SearchResult:
    query: str
    mode: Mode
    language: str
    hits: list[Hit]
    abstained: bool
    confidence: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # places/years named in the question that the report lacks

    def to_json(self) -> dict:
        return asdict(self)


class Retriever:
    def __init__(self, corpus: Corpus, dense: dict[str, tuple[Encoder, object]], lexical: LexicalIndex,
                 config: FusionConfig | None = None, *, bridge: Bridge | None = None, seed: int = 0,
                 two_stage: bool | None = None, dense_candidates: int = DENSE_CANDIDATES,
                 lexical_candidates: int = LEXICAL_CANDIDATES, paragraph_candidates: int = PARAGRAPH_CANDIDATES,
                 candidates: Depth | None = None):
        """`candidates` (the user's `--candidates`) sets every depth (`set_candidates`, over the other arguments), or
        "all": score every paragraph (exact)."""
        if candidates == "all":
            two_stage = False
        self.corpus = corpus
        self.dense = dense
        self.lexical = lexical
        self.config = config or FusionConfig.load()
        self.keys = lexical.keys
        self.pos = {k: i for i, k in enumerate(self.keys)}
        n = len(self.keys)
        self.indexes = {name: DenseIndex(name, enc, store, self.pos, n) for name, (enc, store) in dense.items()}
        self.bridge = bridge or Bridge.for_corpus(corpus)
        rng = np.random.default_rng(seed)
        self.sample_rows = np.arange(n) if n <= SAMPLE_SIZE else np.sort(rng.choice(n, SAMPLE_SIZE, replace=False))
        self.two_stage = n > SAMPLE_SIZE if two_stage is None else two_stage
        self._sample_mask = np.zeros(n, dtype=bool)
        self._sample_mask[self.sample_rows] = True
        if self.two_stage:
            for index in self.indexes.values():
                index.prepare_linear()
                index.prepare_sample(self.sample_rows)
        self.dense_candidates, self.lexical_candidates = dense_candidates, lexical_candidates
        self.paragraph_candidates = paragraph_candidates
        if candidates not in (None, "all"):
            self.set_candidates(int(candidates))
        by_doc: dict[str, list[int]] = {d.id: [] for d in corpus.documents}
        for i, (doc, _) in enumerate(self.keys):
            by_doc.setdefault(doc, []).append(i)
        self._doc_rows = {d: np.array(rows, dtype=np.int64) for d, rows in by_doc.items()}
        self._fn_rows: dict[int, list[int]] = {}
        for j, (d, p, _) in enumerate(lexical.footnote_keys):
            row = self.pos.get((d, p))
            if row is not None:
                self._fn_rows.setdefault(row, []).append(j)

    def set_candidates(self, n: int) -> None:
        """The stage-1 depth `--candidates n` asks for: n per dense and per lexical signal, paragraphs in proportion."""
        self.dense_candidates = self.lexical_candidates = n
        self.paragraph_candidates = round(n * PARAGRAPH_CANDIDATES / DENSE_CANDIDATES)

    def depth(self) -> dict:
        """How this retriever searches: exhaustively, or in two stages with this many candidates per signal."""
        if not self.two_stage:
            return {"two_stage": False, "paragraphs": len(self.keys)}
        return {"two_stage": True, "paragraphs": len(self.keys), "dense_candidates": self.dense_candidates,
                "lexical_candidates": self.lexical_candidates,
                "paragraph_candidates": {n: self.paragraph_candidates for n in self.indexes if n in PARAGRAPH_SEARCH},
                "sample": len(self.sample_rows)}

    # --- signals -------------------------------------------------------------------------------------

    def paragraph(self, row: int):
        doc, n = self.keys[row]
        return self.corpus.document(doc).paragraph(n)

    def rows_of(self, docs: list[str]) -> np.ndarray:
        """Paragraph rows of these documents (an unknown id is a user error)."""
        unknown = [d for d in docs if d not in self._doc_rows]
        if unknown:
            raise UserError(f"no report {', '.join(map(repr, unknown))}; known: {', '.join(self._doc_rows)}")
        return np.concatenate([self._doc_rows[d] for d in docs])

    def entities(self, text: str, language: str | None = None) -> list[Entity]:
        return self.bridge.match(text, language or detect_language(text))

    def signals(self, query: str, *, mode: Mode = "hybrid", language: str | None = None,
                rows: np.ndarray | None = None) -> QuerySignals:
        """Every signal for `query`: exact on the candidate pool (or on `rows`), and on the sample from its block.

        The stages, in order, each timed in `timings_ms`: the query's vectors (`_encode`; in two stages each
        encoder's stage-1 search starts as its vector is ready), the lexical signals over every paragraph
        (`_lexical_signals`) and the collection's exact statistics (`_collection_stats`), the rows to score
        (`_candidate_scope`: stage 1, or `_given_scope`), their exact dense scores (`_dense_scores`: stage 2), and
        pseudo-relevance feedback (`_feedback`)."""
        t_start = time.perf_counter()
        language = language or detect_language(query)
        group = query_group(cjk_share(query), language, min_cjk=self.config.lexical_min_cjk)
        timings: dict[str, float] = {}
        staged = self.two_stage and rows is None
        with _collected() as searches:  # the stage-1 dense searches, until `_candidate_scope` collects them
            vectors = self._encode(query, mode, timings, searches if staged else None)
            with _timed(timings, "lexical"):
                lexical = self._lexical_signals(query, language, mode)
                stats = self._collection_stats(lexical.scores, vectors)
            if staged:
                with _timed(timings, "candidates"):
                    scope = self._candidate_scope(lexical.scores, stats, group, mode, searches)
            else:
                scope = self._given_scope(rows)
        with _timed(timings, "dense_scores"):
            dense = self._dense_scores(vectors, scope, group, mode, staged)
        scores = {name: x[scope.rows] for name, x in lexical.scores.items()}
        if dense and self._uses_feedback(mode, group):
            with _timed(timings, "prf"):
                feedback = self._feedback(scope, dense)
                scores["prf"] = feedback[scope.rows]
                if self.two_stage:
                    stats["prf"] = moments(feedback)
        timings["signals"] = (time.perf_counter() - t_start) * 1000
        return QuerySignals(query, language, group, scope.rows, scope.pool, scope.sample, dense, scores, stats,
                            lexical.tokens, lexical.entities, timings)

    def _encode(self, query: str, mode: Mode, timings: dict[str, float],
                searches: dict[str, Future] | None) -> dict[str, np.ndarray]:
        """The query's vector for each encoder the mode reads. Given `searches` (two stages), each encoder's
        stage-1 search starts on a worker thread as soon as its vector is ready (FAISS releases the GIL), while
        this thread encodes with the next encoder and computes the lexical signals."""
        vectors = {}
        for name in ENCODERS[mode]:
            if name not in self.indexes:
                continue
            index = self.indexes[name]
            with _timed(timings, f"encode_{name}"):
                vectors[name] = index.encoder.encode_queries([query])
            if searches is not None:
                searches[name] = _workers().submit(index.candidates, vectors[name], self.dense_candidates,
                                                   self.paragraph_candidates if name in PARAGRAPH_SEARCH else 0)
        return vectors

    def _lexical_signals(self, query: str, language: str, mode: Mode) -> LexicalSignals:
        """BM25 of the query's tokens over every paragraph; in hybrid mode with the bridge on, also BM25 of the
        report's Chinese forms of the places and terms it names ("bridge"; zeros when none has one) and 1 for
        every paragraph that names one of its places, long or short ("place": "What did OHCHR do in Ukraine?")."""
        tokens = tokenize(query)
        scores = {"bm25": self.lexical.scores(tokens)}
        entities = self.bridge.match(query, language) if mode == "hybrid" and "bridge" in self.config.enabled else []
        if entities:
            bq = bridge_query(entities)
            scores["bridge"] = self.lexical.scores(tokenize(bq)) if bq else np.zeros(len(self.keys), np.float32)
            pq = bridge_query([e for e in entities if e.kind in PLACE_KINDS])
            if pq:
                scores["place"] = (self.lexical.scores(tokenize(pq)) > 0).astype(np.float32)
        return LexicalSignals(tokens, entities, scores)

    def _collection_stats(self, lexical: dict[str, np.ndarray],
                          vectors: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
        """In two stages, the (mean, sd) over the whole collection that fusion standardizes with instead of the
        sample's estimate, as exhaustive scoring does: each lexical signal's (its scores exist for every paragraph)
        and those of the dense components that are one unit's cosine (`DenseIndex.linear_stats`: paragraph,
        heading). None when every row is scored: the sample is then the collection."""
        if not self.two_stage:
            return {}
        stats = {name: moments(x) for name, x in lexical.items()}
        for name, q in vectors.items():
            stats.update({f"{name}.{k}": v for k, v in self.indexes[name].linear_stats(q).items()})
        return stats

    def _given_scope(self, rows: np.ndarray | None) -> Scope:
        """`rows`, or every row (exhaustive scoring), all of them candidates."""
        rows = np.arange(len(self.keys)) if rows is None else np.asarray(rows)
        return Scope(rows, np.ones(len(rows), dtype=bool), self._in_sample(rows))

    def _candidate_scope(self, lexical: dict[str, np.ndarray], stats: dict[str, tuple[float, float]], group: str,
                         mode: Mode, searches: dict[str, Future]) -> Scope:
        """Stage 1: the union of the lexical signals' candidates and the dense searches', beside the sample rows."""
        candidates = self._lexical_candidates(lexical, stats, group, mode)
        candidates += [search.result() for search in searches.values()]
        chosen = np.zeros(len(self.keys), dtype=bool)  # masks, not sorted sets: linear in n but ~10× faster at 10⁵
        for c in candidates:
            chosen[c] = True
        rows = np.flatnonzero(chosen | self._sample_mask)
        return Scope(rows, chosen[rows], self._in_sample(rows))

    def _in_sample(self, rows: np.ndarray) -> np.ndarray:
        """Which of `rows` stand for the collection in per-query statistics: the sample's in two stages, else all."""
        return self._sample_mask[rows] if self.two_stage else np.ones(len(rows), dtype=bool)

    def _dense_scores(self, vectors: dict[str, np.ndarray], scope: Scope, group: str, mode: Mode,
                      staged: bool) -> dict[str, DenseScores]:
        """Stage 2: each encoder's exact components over the scope's rows. After stage 1, a row that only stands in
        the sample is scored from the sample's block, and only with the encoders fusion reads."""
        if staged:
            used = weighted_encoders(self.config.weights_for(group), mode=mode, enabled=self.config.enabled)
            return self._each_encoder(
                lambda name, q: self._pool_and_sample(name, q, scope.rows, scope.pool, name in used), vectors)
        return self._each_encoder(lambda name, q: self.indexes[name].scores(q, scope.rows), vectors)

    def _pool_and_sample(self, name: str, q: np.ndarray, rows: np.ndarray, pool: np.ndarray,
                         used: bool) -> DenseScores:
        """One encoder's scores over `rows`: exact, with their best units, for the candidates (`pool`); for the rows
        that only stand in the sample, their values from the sample's block, or -inf when fusion reads nothing
        of this encoder."""
        index = self.indexes[name]
        out = DenseScores.unscored(len(rows))
        out.put(pool, index.scores(q, rows[pool]))
        if used and not pool.all():
            out.put(~pool, index.sample_scores(q).take(np.searchsorted(self.sample_rows, rows[~pool])))
        return out

    def _each_encoder(self, fn, qvecs: dict) -> dict:
        """{name: `fn(name, query vector)`} for each encoder. In two stages the encoders' exact scores are
        independent work on large stores (FAISS releases the GIL): the first encoder's runs on a worker thread."""
        names = list(qvecs)
        first = _workers().submit(fn, names[0], qvecs[names[0]]) if self.two_stage and len(names) > 1 else None
        out = {name: fn(name, qvecs[name]) for name in names[0 if first is None else 1:]}
        return out if first is None else {names[0]: first.result(), **out}

    def _lexical_candidates(self, lexical: dict[str, np.ndarray], stats: dict, group: str, mode: Mode) -> list:
        """Stage 1 for the lexical signals: each one's best paragraphs, and the best of their weighted sum as
        fusion adds them (among many near-equal paragraphs, those strong in several signals at once)."""
        k = min(self.lexical_candidates, len(self.keys) - 1)
        w, on = self.config.weights_for(group), set(self.config.enabled)
        # only the signals fusion adds for this query (a weight of 0, or dense mode, would spend stage 2 on
        # paragraphs no score of theirs can lift)
        used = {"hybrid": [n for n in lexical if getattr(w, n) and n in on], "lexical": ["bm25"], "dense": []}[mode]
        positive = {name: np.flatnonzero(lexical[name] > 0) for name in used}
        picks = [_top(lexical[name], where, k) for name, where in positive.items()]
        # Only a paragraph with some lexical score can have a positive sum (the others' is minus the weighted
        # means), so the sum is taken over those alone (several signals: hybrid mode only).
        summed = [name for name, where in positive.items() if len(where)]
        if len(summed) > 1:
            mask = np.zeros(len(self.keys), dtype=bool)  # a mask, not np.unique: a place can be named in 10⁴+
            for name in summed:  # paragraphs, and sorting their union took ~20 ms at 10⁵
                mask[positive[name]] = True
            some = np.flatnonzero(mask)
            total = np.zeros(len(some), dtype=np.float32)
            for name in summed:
                total += getattr(w, name) * standardize(lexical[name], self.sample_rows, at=some, stats=stats[name])
            picks.append(some[_top(total, np.flatnonzero(total > 0), k)])
        return picks

    def _uses_feedback(self, mode: Mode, group: str) -> bool:
        """Whether fusion adds pseudo-relevance feedback for this query."""
        return mode == "hybrid" and "prf" in self.config.enabled and bool(self.config.weights_for(group).prf)

    def _feedback(self, scope: Scope, dense: dict[str, DenseScores]) -> np.ndarray:
        """BM25 scores over every paragraph of the distinctive words of the top dense candidates (pseudo-relevance
        feedback)."""
        dense_rank = sum(standardize(d.combined(0.5), scope.sample) for d in dense.values())
        cand = np.flatnonzero(scope.pool)
        top = cand[np.argsort(-dense_rank[cand], kind="stable")[:PRF_DOCS]]
        texts = [self.paragraph(int(scope.rows[i])).text for i in top]
        terms = prf_terms(texts, tokenize, self.lexical.doc_freq, len(self.keys))
        return self.lexical.scores(terms)

    # --- search ---------------------------------------------------------------------------------------

    def search(self, query: str, *, mode: Mode = "hybrid", top_k: int = 10,
               also: list[tuple[str, float]] | None = None, language: str | None = None,
               docs: list[str] | None = None) -> SearchResult:
        """Rank paragraphs for `query`. `also` adds weighted extra queries (a follow-up's own words);
        `docs` limits the answer to those documents (statistics still come from the whole collection)."""
        if mode not in MODES:
            raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        t0 = time.perf_counter()
        within = self.rows_of(docs) if docs else None
        if within is not None and self.two_stage:  # score the chosen reports whole, the sample for statistics
            sig = self.signals(query, mode=mode, language=language, rows=np.union1d(within, self.sample_rows))
        else:
            sig = self.signals(query, mode=mode, language=language)
        t1 = time.perf_counter()
        w = self.config.weights_for(sig.group)
        fused, parts = self._fused(sig, w, mode, also or [])
        order = self._ranking(sig, fused, within)
        best = int(order[0]) if len(order) else 0
        confidence = margin(fused, sig.sample, best) if len(order) else 0.0
        missing = missing_places(sig.entities) if "bridge" in self.config.enabled else []
        if mode == "lexical":  # BM25 alone: declined when no paragraph shares a word with the question
            abstained = not len(order) or float(fused[best]) <= 0.0
        else:
            named = bool(len(order)) and names_in(sig.entities, self.paragraph(int(sig.rows[best])).text)
            abstained = abstains(w, confidence, sig.top_similarity("use"), bool(missing), named=named)
        hits = self._hits(sig, fused, parts, order[:max(1, top_k)])
        t2 = time.perf_counter()
        timings = dict(sig.timings_ms)
        timings["fusion"] = (t2 - t1) * 1000
        timings["total"] = (t2 - t0) * 1000
        return SearchResult(query, mode, sig.language, hits, bool(abstained), round(confidence, 3),
                            {k: round(v, 3) for k, v in timings.items()}, [e.surface for e in missing])

    def _fused(self, sig: QuerySignals, weights: Weights, mode: Mode,
               also: list[tuple[str, float]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The fused score of each of `sig.rows` and the components behind it (`fuse`), combined with the fused
        scores of the weighted extra queries `also` over the same rows (`combine`)."""
        fused, parts = fuse(sig, weights, mode=mode, enabled=self.config.enabled)
        extras = []
        for extra, weight in also:
            extra_sig = self.signals(extra, mode=mode, rows=sig.rows)
            extra_fused, _ = fuse(extra_sig, self.config.weights_for(extra_sig.group), mode=mode,
                                  enabled=self.config.enabled)
            extras.append((extra_fused, weight))
        return combine(fused, extras, sig.sample), parts

    def _ranking(self, sig: QuerySignals, fused: np.ndarray, within: np.ndarray | None) -> np.ndarray:
        """Positions in `sig.rows` of the candidates (of the documents' rows `within`, if given), best first."""
        allowed = sig.pool if within is None else sig.pool & np.isin(sig.rows, within)
        cand = np.flatnonzero(allowed)
        return cand[np.argsort(-fused[cand], kind="stable")]

    def _hits(self, sig: QuerySignals, fused: np.ndarray, parts: dict[str, np.ndarray],
              positions: np.ndarray) -> list[Hit]:
        """A hit for each of these positions in `sig.rows`, ranked in their order, with its evidence and the raw
        components of its score."""
        fn_scores = self.lexical.footnote_scores(sig.query_tokens)
        hits = []
        for rank, i in enumerate(positions.tolist(), 1):
            row = int(sig.rows[i])
            doc, n = self.keys[row]
            signals = {name: round(float(v[i]), 4) for name, v in parts.items()}
            sentences, footnotes = self._evidence(sig, i, row, fn_scores)
            hits.append(Hit(doc, n, round(float(fused[i]), 4), rank, sentences, footnotes, signals))
        return hits

    def _evidence(self, sig: QuerySignals, i: int, row: int, fs: np.ndarray) -> tuple[list[int], list[int]]:
        """Best-matching sentence(s) and, when a footnote matched better than any sentence, that footnote."""
        sentences: list[int] = []
        footnotes: list[int] = []
        for d in sig.dense.values():
            s = (int(d.best_sentence[i]), float(d.sent_score[i])) if d.best_sentence[i] >= 0 else None
            c = (int(d.best_clause[i]), float(d.clause_score[i])) if d.best_clause[i] >= 0 else None
            f = (int(d.best_footnote[i]), float(d.fn_score[i])) if d.best_footnote[i] >= 0 else None
            add_evidence(sentences, footnotes, s, c, f)
        js = self._fn_rows.get(row)
        if js and fs.size:
            top = float(fs.max())
            for j in js:
                fnum = self.lexical.footnote_keys[j][2]
                if fs[j] > 0 and fs[j] >= 0.6 * top and fnum not in footnotes:
                    footnotes.append(fnum)
        if not sentences:
            sentences = self._lexical_sentences(row, sig.query_tokens)
        return sentences[:2], footnotes

    def _lexical_sentences(self, row: int, query_tokens: list[str]) -> list[int]:
        p = self.paragraph(row)
        if p is None or not p.spans:
            return []
        q = set(query_tokens)
        if not q:
            return [0]
        scored = sorted(((len(q & set(tokenize(p.sentence(i)))), i) for i in range(len(p.spans))), reverse=True)
        return [scored[0][1]] if scored[0][0] > 0 else [0]


def add_evidence(sentences: list[int], footnotes: list[int], s: tuple[int, float] | None,
                 c: tuple[int, float] | None, f: tuple[int, float] | None) -> None:
    """One encoder's evidence for a paragraph: its best sentence or clause (whichever scored higher, if not yet
    listed), and its best footnote when that scored above the sentence. Each is (index, score) or None."""
    for cand in sorted((x for x in (s, c) if x), key=lambda x: -x[1]):
        if cand[0] not in sentences:
            sentences.append(cand[0])
            break
    if f and (not s or f[1] > s[1]) and f[0] not in footnotes:
        footnotes.append(f[0])
