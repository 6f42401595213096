"""Hybrid retrieval over paragraphs, their headings, sentences, clauses and footnotes, in any UN language.

Signals per paragraph, each standardized per query (z-score over all paragraphs):
  e5 / use          the paragraph vector mixed with its best sentence-or-footnote vector
  e5_clause / ...   the best clause window (small units an English question can match)
  heading           the section/subsection title (both encoders)
  bm25              jieba words + CJK bigrams + symbols
Fusion weights depend on the query's group (Chinese, English, other) and were tuned on
eval/questions.jsonl as a whole (`python -m qa tune`), never question by question. "Not covered"
is a calibrated rule: the best paragraph barely stands out (fused top-1 margin), or nothing is close
for USE (top raw similarity); thresholds per group, in qa/fusion.json.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from embeddings.encoders import Encoder
from embeddings.store import VectorStore
from qa.retrieval.index import Unit
from qa.retrieval.lexical import LexicalIndex, tokenize
from qa.text import cjk_share, detect_language
from qa.types import Corpus

MODES = ("dense", "lexical", "hybrid")
CONFIG_PATH = Path(__file__).with_name("fusion.json")


@dataclass
class Hit:
    doc: str
    paragraph: int
    score: float
    rank: int
    sentences: list[int] = field(default_factory=list)
    footnotes: list[int] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)


@dataclass
class SearchResult:
    query: str
    mode: str
    language: str
    hits: list[Hit]
    abstained: bool
    confidence: float
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Weights:
    """Weights of the standardized signals for one kind of query."""

    e5: float = 1.0
    use: float = 0.0
    e5_clause: float = 0.0  # best clause (or clause pair) of the paragraph, e5
    use_clause: float = 0.0  # same with USE
    heading: float = 0.0  # the paragraph's section/subsection title (both encoders)
    bm25: float = 0.0
    sentence: float = 0.5  # share of the best sentence/footnote vector in a dense signal (rest: paragraph)
    abstain_margin: float = 3.0  # below this fused top-1 margin the report is taken not to cover the question
    abstain_use: float = 0.0  # …or when no unit is this close to the question for USE (0: rule off)


GROUPS = ("zh", "en", "other")
# The `dense` mode is e5 alone at every granularity (paragraph, best sentence/footnote, best clause),
# a fixed recipe independent of the hybrid tuning, so it stays an honest single-model baseline.
DENSE_WEIGHTS = Weights(e5=1.0, e5_clause=1.0, sentence=0.5)


def query_group(query: str, cjk: float | None = None, *, min_cjk: float = 0.3) -> str:
    """Which weights a query gets: Chinese script, English, or another language (fr, es, ar, ru …)."""
    if (cjk if cjk is not None else cjk_share(query)) >= min_cjk:
        return "zh"
    return "en" if detect_language(query) == "en" else "other"


@dataclass
class FusionConfig:
    groups: dict[str, Weights] = field(default_factory=lambda: {
        "zh": Weights(e5=1.0, use=0.3, bm25=1.0), "en": Weights(e5=1.0, use=1.0, bm25=0.1),
        "other": Weights(e5=1.0, use=0.5, bm25=0.1)})
    lexical_min_cjk: float = 0.3

    @classmethod
    def load(cls, path: Path = CONFIG_PATH) -> FusionConfig:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls({g: Weights(**data["groups"][g]) for g in GROUPS}, data.get("lexical_min_cjk", 0.3))

    def weights_for(self, group: str) -> Weights:
        return self.groups[group]

    def with_group(self, group: str, weights: Weights) -> FusionConfig:
        return FusionConfig({**self.groups, group: weights}, self.lexical_min_cjk)

    def save(self, path: Path = CONFIG_PATH, extra: dict | None = None) -> None:
        data = asdict(self)
        if extra:
            data["tuned_on"] = extra
        path.write_text(json.dumps(data, indent=2) + "\n")


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-9 else np.zeros_like(x)


@dataclass
class DenseSignal:
    """Per-paragraph scores from one encoder: the paragraph vector, best sentence and best footnote."""

    para: np.ndarray
    sent: np.ndarray
    fn: np.ndarray
    clause: np.ndarray
    heading: np.ndarray
    best_sentence: dict[int, tuple[int, float]]
    best_footnote: dict[int, tuple[int, float]]
    best_clause: dict[int, tuple[int, float]]

    def combined(self, w_sentence: float) -> np.ndarray:
        detail = np.maximum(self.sent, self.fn)
        return (1 - w_sentence) * self.para + w_sentence * detail


class Retriever:
    def __init__(self, corpus: Corpus, dense: dict[str, tuple[Encoder, VectorStore]], lexical: LexicalIndex,
                 config: FusionConfig | None = None):
        self.corpus = corpus
        self.dense = dense
        self.lexical = lexical
        self.config = config or FusionConfig.load()
        self.keys = lexical.keys
        self.pos = {k: i for i, k in enumerate(self.keys)}
        self._unit_rows = {}
        self._units = {}
        for name, (_, store) in dense.items():
            units = [Unit.from_record(r) for r in store.units]
            self._units[name] = units
            self._unit_rows[name] = np.array([self.pos.get((u.doc, u.paragraph), -1) for u in units])

    # --- signals ---------------------------------------------------------------------------------

    def dense_signal(self, name: str, qvec: np.ndarray) -> DenseSignal:
        _, store = self.dense[name]
        n = len(self.keys)
        k = len(store.units) if len(store.units) <= 5000 else 1000
        scores, ids = store.search(qvec, k)
        scores, ids = scores[0], ids[0]
        valid = ids >= 0
        scores, ids = scores[valid], ids[valid]
        floor = float(scores.min()) if len(scores) else 0.0
        para = np.full(n, floor, dtype=np.float32)
        sent = np.full(n, floor, dtype=np.float32)
        fn = np.full(n, floor, dtype=np.float32)
        clause = np.full(n, floor, dtype=np.float32)
        heading = np.full(n, floor, dtype=np.float32)
        best_s: dict[int, tuple[int, float]] = {}
        best_f: dict[int, tuple[int, float]] = {}
        best_c: dict[int, tuple[int, float]] = {}
        rows = self._unit_rows[name]
        units = self._units[name]
        for s, i in zip(scores.tolist(), ids.tolist(), strict=True):
            row = rows[i]
            if row < 0:
                continue
            u = units[i]
            if u.kind == "paragraph":
                para[row] = s
            elif u.kind == "sentence":
                if row not in best_s or s > best_s[row][1]:
                    best_s[row] = (u.sentence, s)
                    sent[row] = s
            elif u.kind == "heading":
                heading[row] = s
            elif u.kind == "clause":
                if row not in best_c or s > best_c[row][1]:
                    best_c[row] = (u.sentence, s)
                    clause[row] = s
            elif u.kind == "footnote":
                if row not in best_f or s > best_f[row][1]:
                    best_f[row] = (u.footnote, s)
                    fn[row] = s
        # A paragraph without footnotes has no footnote score: fall back to its own vector.
        fn = np.where(np.isin(np.arange(n), list(best_f)), fn, para)
        # A one-clause sentence has no clause units: its sentence score stands in.
        clause = np.maximum(clause, sent)
        return DenseSignal(para, sent, fn, clause, heading, best_s, best_f, best_c)

    def signals(self, query: str, modes: tuple[str, ...] = ("e5", "use", "bm25")) -> dict:
        """Raw per-paragraph signals for a query (also what `tune` grid-searches over)."""
        out: dict = {"timings_ms": {}, "group": query_group(query, min_cjk=self.config.lexical_min_cjk)}
        for name in ("e5", "use"):
            if name in modes and name in self.dense:
                enc, _ = self.dense[name]
                t0 = time.perf_counter()
                qvec = enc.encode_queries([query])
                t1 = time.perf_counter()
                out[name] = self.dense_signal(name, qvec)
                out["timings_ms"][f"encode_{name}"] = (t1 - t0) * 1000
                out["timings_ms"][f"search_{name}"] = (time.perf_counter() - t1) * 1000
        if "bm25" in modes:
            t0 = time.perf_counter()
            toks = tokenize(query)
            out["query_tokens"] = toks
            out["bm25"] = self.lexical.scores(toks)
            out["bm25_fn"] = self.lexical.footnote_scores(toks)
            out["cjk"] = cjk_share(query)
            out["timings_ms"]["lexical"] = (time.perf_counter() - t0) * 1000
        return out

    # --- fusion ------------------------------------------------------------------------------------

    def fuse(self, sig: dict, mode: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Weighted sum of the standardized signals for the query's group (or the fixed dense recipe)."""
        parts: dict[str, np.ndarray] = {}
        if mode == "lexical":
            return sig["bm25"].astype(np.float32), {"bm25": sig["bm25"]}
        dense_only = mode == "dense"
        w = DENSE_WEIGHTS if dense_only else self.config.weights_for(sig["group"])
        fused = np.zeros(len(self.keys), dtype=np.float32)
        for name, weight, cweight in (("e5", w.e5, w.e5_clause), ("use", w.use, w.use_clause)):
            if name not in sig or (dense_only and name != "e5"):
                continue
            if weight:
                raw = sig[name].combined(w.sentence)
                parts[name] = raw
                fused += weight * _z(raw)
            if cweight:
                parts[f"{name}_clause"] = sig[name].clause
                fused += cweight * _z(sig[name].clause)
        if w.heading:
            heads = [sig[name].heading for name in ("e5", "use") if name in sig and not (dense_only and name != "e5")]
            if heads:
                parts["heading"] = np.mean(heads, axis=0)
                fused += w.heading * np.mean([_z(h) for h in heads], axis=0)
        if dense_only:
            return fused, parts
        bm = sig.get("bm25")
        if bm is not None and w.bm25 and bm.max() > 0:
            parts["bm25"] = bm
            fused += w.bm25 * _z(bm)
        return fused, parts

    def search(self, query: str, *, mode: str = "hybrid", top_k: int = 10,
               also: list[tuple[str, float]] | None = None) -> SearchResult:
        """Rank paragraphs for `query`. `also` adds weighted extra queries (a follow-up's own words)."""
        if mode not in MODES:
            from qa.errors import UserError

            raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        t0 = time.perf_counter()
        need = {"dense": ("e5",), "lexical": ("bm25",), "hybrid": ("e5", "use", "bm25")}[mode]
        sig = self.signals(query, need)
        t1 = time.perf_counter()
        fused, parts = self.fuse(sig, mode)
        for extra, weight in also or []:
            extra_fused, _ = self.fuse(self.signals(extra, need), mode)
            fused = _z(fused) + weight * _z(extra_fused)
        order = np.argsort(-fused, kind="stable")[:max(1, top_k)]
        margin = _margin(fused)
        best_use = top_similarity(sig.get("use"))
        abstained = mode != "lexical" and self.abstains(sig["group"], margin, best_use)
        if mode == "lexical":
            abstained = float(fused.max()) <= 0.0
        hits = []
        for rank, row in enumerate(order.tolist(), 1):
            doc, n = self.keys[row]
            signals = {name: round(float(v[row]), 4) for name, v in parts.items()}
            sentences, footnotes = self._evidence(sig, row, doc, n)
            hits.append(Hit(doc, n, round(float(fused[row]), 4), rank, sentences, footnotes, signals))
        t2 = time.perf_counter()
        timings = dict(sig["timings_ms"])
        timings["fusion"] = (t2 - t1) * 1000
        timings["total"] = (t2 - t0) * 1000
        return SearchResult(query, mode, detect_language(query), hits, bool(abstained), round(margin, 3),
                            {k: round(v, 3) for k, v in timings.items()})

    def abstains(self, group: str, margin: float, best_use: float | None) -> bool:
        """The calibrated "not covered" rule: the best paragraph barely stands out, or nothing is close for USE."""
        w = self.config.weights_for(group)
        if margin < w.abstain_margin:
            return True
        return bool(w.abstain_use and best_use is not None and best_use < w.abstain_use)

    def _evidence(self, sig: dict, row: int, doc: str, n: int) -> tuple[list[int], list[int]]:
        """Best-matching sentence(s) and, when a footnote matched better than any sentence, that footnote."""
        sentences: list[int] = []
        footnotes: list[int] = []
        for name in ("e5", "use"):
            ds: DenseSignal | None = sig.get(name)
            if ds is None:
                continue
            s = ds.best_sentence.get(row)
            c = ds.best_clause.get(row)
            f = ds.best_footnote.get(row)
            for cand in sorted((x for x in (s, c) if x), key=lambda x: -x[1]):
                if cand[0] not in sentences:
                    sentences.append(cand[0])
                    break
            if f and (not s or f[1] > s[1]) and f[0] not in footnotes:
                footnotes.append(f[0])
        if "bm25_fn" in sig and sig["bm25_fn"].size:
            fs = sig["bm25_fn"]
            for j, (d, p, fnum) in enumerate(self.lexical.footnote_keys):
                if (d, p) == (doc, n) and fs[j] > 0 and fs[j] >= 0.6 * fs.max() and fnum not in footnotes:
                    footnotes.append(fnum)
        if not sentences and "bm25" in sig:
            sentences = _lexical_sentences(self.corpus, doc, n, sig)
        return sentences[:2], footnotes


def top_similarity(ds: DenseSignal | None) -> float | None:
    """The highest raw cosine of any paragraph, sentence or clause unit (None without that encoder)."""
    if ds is None:
        return None
    return float(max(ds.para.max(), ds.sent.max(), ds.clause.max()))


def _margin(fused: np.ndarray) -> float:
    """How far the best paragraph stands above the field, in standard deviations of the fused scores."""
    if fused.size < 3:
        return 10.0
    srt = np.sort(fused)[::-1]
    rest = srt[1:]
    sd = float(rest.std()) or 1e-9
    return float((srt[0] - rest.mean()) / sd)


def _lexical_sentences(corpus: Corpus, doc_id: str, n: int, sig: dict) -> list[int]:
    doc = corpus.document(doc_id)
    p = doc.paragraph(n) if doc else None
    if p is None:
        return []
    q = set(sig.get("query_tokens", []))
    sents = [p.sentence(i) for i in range(len(p.spans))]
    if not q:
        return [0] if sents else []
    scored = [(len(q & set(tokenize(s))), i) for i, s in enumerate(sents)]
    scored.sort(reverse=True)
    return [scored[0][1]] if scored and scored[0][0] > 0 else [0]
