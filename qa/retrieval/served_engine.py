"""The app on a served collection: `--store PATH.db` / `milvus://HOST:PORT` holding one (built by `qa add --store` or
`qa index --store … --served`) gives an `Engine` whose search goes through `ServedRetriever` (served.py).

At start it loads the encoders and opens the collection: no records, no corpus, no vectors but the fixed statistics
sample's. The per-document metadata and the bridge's data come from the collection's manifest.

- `ServedCorpus` / `ServedDocument` stand for `Corpus` / `Document` where the answer stage reads them: a paragraph is
  read by id when a hit shows it (the search fetches its hits' records, with their best sentence and footnote units,
  in one request, and keeps them), or by (document, number) otherwise; `Document.paragraphs` / `.footnotes` of one
  document are read whole only where the answer stage asks for them (a lookup, a report with language versions).
- `ServedSearch` answers `Retriever.search`'s call with a `SearchResult`: hits with their evidence (the best
  sentence, clause or footnote unit of each encoder, as `Retriever._evidence` picks them; without one, the sentence
  sharing most tokens with the question), the fused top-1 margin over the sample as `confidence`, and the calibrated
  "not covered" rule of fusion.json.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from embeddings.stores import open_store
from embeddings.stores.base import IndexMissing
from qa.errors import UserError
from qa.retrieval.bridge import Bridge, missing_places, names_in
from qa.retrieval.bridge import _concepts as bridge_concepts
from qa.retrieval.fusion import FusionConfig, abstains, query_group
from qa.retrieval.lexical import tokenize
from qa.retrieval.retriever import Hit, SearchResult, add_evidence
from qa.retrieval.served import ALL_KINDS, ServedHit, ServedRetriever, build_served
from qa.text import cjk_share, detect_language
from qa.types import MODES, Corpus, Footnote, Marker, Paragraph

log = logging.getLogger("report_qa")

SERVED_NAME = "report_qa_served"  # the served collection's alias in a store
CACHE_PARAGRAPHS = 4096  # paragraph records kept (least recently read dropped)


# --- the corpus, read by id ---------------------------------------------------------------------------

def paragraph_of(record: dict) -> Paragraph:
    """A paragraph unit's record as the answer stage's `Paragraph`."""
    text = record.get("body")
    if text is None:  # a collection built without its corpus: the unit's text (headings and text)
        text = record.get("text") or ""
    return Paragraph(int(record["paragraph"]), text, list(record.get("section") or []),
                     [int(n) for n in record.get("notes") or []],
                     [Marker(int(n), int(o)) for n, o in record.get("markers") or []])


def footnotes_of(record: dict) -> list[Footnote]:
    return [Footnote(int(f[0]), f[1], int(record["paragraph"]), list(f[2]) if len(f) > 2 else [])
            for f in record.get("footnotes") or []]


class _Lazy(Sequence):
    """A document's paragraphs or footnotes: its length from the manifest, its items read whole on first use."""

    def __init__(self, length: int, load: Callable[[], list]):
        self._length, self._load = length, load

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i):
        return self._load()[i]

    def __iter__(self):
        return iter(self._load())


class ServedDocument:
    """One report of a served collection: metadata from the manifest, paragraphs and footnotes read by id."""

    def __init__(self, corpus: ServedCorpus, meta: dict):
        self._corpus = corpus
        self.id, self.title, self.language = meta["id"], meta.get("title", meta["id"]), meta.get("language", "")
        self.meta = dict(meta.get("meta") or {})
        self.warnings: list[str] = []
        self._whole: tuple[list[Paragraph], list[Footnote]] | None = None
        self.paragraphs = _Lazy(int(meta.get("paragraphs") or 0), lambda: self._read_whole()[0])
        self.footnotes = _Lazy(int(meta.get("footnotes") or 0), lambda: self._read_whole()[1])

    def paragraph(self, n: int) -> Paragraph | None:
        got = self._corpus.cached(self.id, n)
        if got is not None:
            return got[0]
        if self._whole is not None:
            return next((p for p in self._whole[0] if p.n == n), None)
        got = self._corpus.read(self.id, n)
        return got[0] if got else None

    def footnote(self, n: int) -> Footnote | None:
        for f in self._corpus.cached_footnotes(self.id):
            if f.n == n:
                return f
        return next((f for f in self._read_whole()[1] if f.n == n), None)

    def _read_whole(self) -> tuple[list[Paragraph], list[Footnote]]:
        if self._whole is None:
            records = self._corpus.read_document(self.id)
            paragraphs = sorted((paragraph_of(r) for r in records), key=lambda p: p.n)
            footnotes = sorted((f for r in records for f in footnotes_of(r)), key=lambda f: f.n)
            self._whole = (paragraphs, footnotes)
        return self._whole

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "language": self.language,
                "paragraphs": [{"n": p.n, "text": p.text, "section": list(p.section), "footnotes": list(p.footnotes)}
                               for p in self.paragraphs],
                "footnotes": [{"n": f.n, "text": f.text, "paragraph": f.paragraph, "urls": list(f.urls)}
                              for f in self.footnotes]}


class ServedCorpus:
    """`Corpus` for the answer stage, over a served collection: documents from the manifest, paragraphs kept as the
    searches fetch them (at most `CACHE_PARAGRAPHS`)."""

    def __init__(self, served: ServedRetriever):
        self.served = served
        self.documents = [ServedDocument(self, d) for d in served.documents]
        self._by_id = {d.id: d for d in self.documents}
        self._cache: dict[tuple[str, int], tuple[Paragraph, list[Footnote]]] = {}
        self._lock = threading.Lock()
        self.reads = 0  # requests for records made outside the searches

    def document(self, doc_id: str) -> ServedDocument | None:
        return self._by_id.get(doc_id)

    def cached(self, doc: str, n: int) -> tuple[Paragraph, list[Footnote]] | None:
        with self._lock:
            got = self._cache.pop((doc, n), None)
            if got is not None:
                self._cache[(doc, n)] = got  # most recent last
            return got

    def cached_footnotes(self, doc: str) -> list[Footnote]:
        with self._lock:
            return [f for (d, _), (_, fns) in self._cache.items() if d == doc for f in fns]

    def keep(self, records: list[dict]) -> None:
        """Keep these paragraph units' records (from a search's fetch)."""
        with self._lock:
            for r in records:
                if r.get("kind") == "paragraph":
                    self._cache.pop((r["doc"], int(r["paragraph"])), None)
                    self._cache[(r["doc"], int(r["paragraph"]))] = (paragraph_of(r), footnotes_of(r))
            while len(self._cache) > CACHE_PARAGRAPHS:
                self._cache.pop(next(iter(self._cache)))

    def read(self, doc: str, n: int) -> tuple[Paragraph, list[Footnote]] | None:
        """One paragraph by (document, number): one request."""
        rows = self._query(f'doc == "{_quote(doc)}" and paragraph == {int(n)} and kind == "paragraph"', 1)
        self.keep(rows)
        return self.cached(doc, n)

    def read_document(self, doc: str) -> list[dict]:
        """Every paragraph record of one document (its paragraphs, not the collection's)."""
        meta = self._by_id.get(doc)
        limit = max(1, len(meta.paragraphs) if meta is not None else 16_384)
        return self._query(f'doc == "{_quote(doc)}" and kind == "paragraph"', min(limit, 16_384))

    def _query(self, flt: str, limit: int) -> list[dict]:
        store = self.served.store
        self.reads += 1
        rows = store.client.query(store.collection, filter=flt, output_fields=["record"], limit=limit)
        return [r["record"] for r in rows]


def _quote(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


# --- the search ---------------------------------------------------------------------------------------

class ServedSearch:
    """`Retriever`'s part the app, the chat and `qa eval` call, served by Milvus (see the module docstring)."""

    two_stage = True

    def __init__(self, served: ServedRetriever, corpus: ServedCorpus | None = None):
        self.served = served
        self.corpus = corpus or ServedCorpus(served)
        self.config = served.config
        self.bridge = served.bridge
        self.dense = {"e5": (served.encoder, served.store)}
        if served.use is not None:
            self.dense["use"] = (served.use, served.store)

    def depth(self) -> dict:
        sample = self.served.sample
        return {"two_stage": True, "served": True, "paragraphs": int(self.served.store.manifest.get("paragraphs") or 0),
                "dense_candidates": self.served.depth, "lexical_candidates": self.served.depth,
                "paragraph_candidates": {}, "sample": len(sample.passages) if sample is not None else 0}

    def entities(self, text: str, language: str | None = None) -> list:
        return self.bridge.match(text, language or detect_language(text)) if self.bridge is not None else []

    def search(self, query: str, *, mode: str = "hybrid", top_k: int = 10, also: list[tuple[str, float]] | None = None,
               language: str | None = None, docs: list[str] | None = None) -> SearchResult:
        if mode not in MODES:
            raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        unknown = [d for d in docs or [] if self.corpus.document(d) is None]
        if unknown:
            raise UserError(f"no report {', '.join(map(repr, unknown))}; known: "
                            f"{', '.join(d.id for d in self.corpus.documents)}")
        t0 = time.perf_counter()
        language = language or detect_language(query)
        k = max(1, top_k)
        res = self.served.query(query, top_k=10_000 if also else k, docs=docs or None, language=language, mode=mode)
        hits, confidence = res.hits, res.confidence
        if also:
            hits, confidence = self._combined(res, also, docs, mode)
        hits = hits[:k]
        t1 = time.perf_counter()
        wanted = [h.passage for h in hits] + [uid for h in hits for _, _, uid, _ in h.evidence]
        records = self.served.records(wanted) if hits else {}
        self.corpus.keep([r for r in records.values() if r])
        out = [self._hit(h, records, tokenize(query), rank) for rank, h in enumerate(hits, 1)]
        w = self.config.weights_for(query_group(cjk_share(query), language, min_cjk=self.config.lexical_min_cjk))
        entities = self.entities(query, language) if mode == "hybrid" and "bridge" in self.config.enabled else []
        missing = missing_places(entities) if entities else []
        confidence = 10.0 if confidence is None else confidence
        if mode == "lexical":
            abstained = not out or out[0].signals.get("bm25", 0.0) <= 0.0
        else:
            top_use = res.top_similarity.get("use") if self.served.use is not None else None
            top = self.corpus.document(out[0].doc).paragraph(out[0].paragraph) if out else None
            named = top is not None and names_in(entities, top.text)
            abstained = abstains(w, confidence, top_use, bool(missing), named=named)
        t2 = time.perf_counter()
        timings = {"search": (t1 - t0) * 1000, "fetch": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
        return SearchResult(query, mode, language, out, bool(abstained), round(float(confidence), 3),
                            {n: round(v, 3) for n, v in timings.items()}, [e.surface for e in missing])

    def _combined(self, res, also, docs, mode) -> tuple[list[ServedHit], float | None]:
        """The question's candidates re-ranked with the fused scores of weighted extra queries (a follow-up's own
        words), as `fusion.combine`: both standardized over the sample (over the candidates without one), added with
        the extra query's weight; a candidate an extra query did not list takes its lowest score."""
        fused = np.array([h.score for h in res.hits])
        sample = res.sample_scores
        total = _standardize(fused, sample)
        sample_total = _standardize(sample, sample) if sample is not None else None
        for extra, weight in also:
            ex = self.served.query(extra, top_k=10_000, docs=docs or None, mode=mode)
            scores = {h.passage: h.score for h in ex.hits}
            floor = min(scores.values(), default=0.0)
            x = np.array([scores.get(h.passage, floor) for h in res.hits])
            total = _standardize(total, sample_total) + weight * _standardize(x, ex.sample_scores)
            if sample_total is not None and ex.sample_scores is not None:
                sample_total = _standardize(sample_total, sample_total) + weight * _standardize(ex.sample_scores,
                                                                                                 ex.sample_scores)
        order = np.argsort(-total, kind="stable")
        hits = []
        for rank, i in enumerate(order, 1):
            h = res.hits[int(i)]
            h.score, h.rank = float(total[i]), rank
            hits.append(h)
        confidence = None
        if sample_total is not None and hits:
            confidence = float((hits[0].score - sample_total.mean()) / (float(sample_total.std()) or 1e-9))
        return hits, confidence

    def _hit(self, h: ServedHit, records: dict[int, dict], query_tokens: list[str], rank: int) -> Hit:
        """A `Hit` with its evidence, as `Retriever._evidence` picks it from each encoder's best units."""
        sentences: list[int] = []
        footnotes: list[int] = []
        by_encoder: dict[str, dict[str, tuple[int, float]]] = {}
        for enc, kind, uid, d in h.evidence:
            by_encoder.setdefault(enc, {})[kind] = (uid, d)
        for enc in ("e5", "use"):
            units = by_encoder.get(enc)
            if not units:
                continue

            def unit(kind: str, key: str, units=units):
                uid_d = units.get(kind)
                rec = records.get(uid_d[0]) if uid_d else None
                value = rec.get(key) if rec else None
                return (int(value), uid_d[1]) if value is not None and int(value) >= 0 else None

            s, c, f = unit("sentence", "sentence"), unit("clause", "sentence"), unit("footnote", "footnote")
            add_evidence(sentences, footnotes, s, c, f)
        if not sentences:
            record = records.get(h.passage)
            p = paragraph_of(record) if record else None
            if p is not None and p.spans:
                q = set(query_tokens)
                scored = sorted(((len(q & set(tokenize(p.sentence(i)))), i) for i in range(len(p.spans))),
                                reverse=True)
                sentences = [scored[0][1] if q and scored[0][0] > 0 else 0]
        signals = {n: round(float(v), 4) for n, v in h.signals.items()}
        return Hit(h.doc, h.paragraph, round(float(h.score), 4), rank, sentences[:2], footnotes, signals)


def _standardize(x: np.ndarray, sample: np.ndarray | None) -> np.ndarray:
    ref = sample if sample is not None and len(sample) else x
    sd = float(ref.std()) if len(ref) else 0.0
    return (x - float(ref.mean())) / sd if sd > 1e-9 else np.zeros_like(x)


# --- opening and building -----------------------------------------------------------------------------

def served_store(store_uri: str | None, name: str = SERVED_NAME):
    """The served collection of a Milvus `--store`, opened without records (None: FAISS, or no served collection)."""
    if not store_uri:
        return None
    location = open_store(store_uri)
    if getattr(location, "backend", "") != "milvus":
        return None
    from embeddings.stores.milvus import MilvusStore

    try:
        return MilvusStore.open(location.uri, name=name, db_name=location.db_name)
    except IndexMissing:
        return None


def open_served(store, encoder, *, use=None, candidates=None) -> ServedSearch:
    """`ServedSearch` over an open served collection (`served_store`) with these encoders (`use`: USE, read when the
    collection has its vectors): the bridge from the manifest; no corpus, records or vectors beyond the sample's."""
    m = store.manifest
    if m.get("model_fingerprint") and m["model_fingerprint"] != encoder.fingerprint:
        raise UserError(f"the served collection {store.location} was built with {m.get('model')} "
                        f"({m['model_fingerprint'][:12]}), not {encoder.name}; rebuild it: "
                        "qa index --store … --served")
    bridge = Bridge(bridge_concepts(), m["bridge_text"]) if m.get("bridge_text") is not None else None
    depth = {} if candidates in (None, "all") else {"depth": int(candidates)}
    return ServedSearch(ServedRetriever(store, encoder, config=FusionConfig.load(), bridge=bridge, use=use, **depth))


def build_served_collection(corpus: Corpus, store_uri: str, encoder, *, use=None, home=None, progress=None,
                            quiet: bool = False, name: str = SERVED_NAME, kinds: tuple[str, ...] = ALL_KINDS) -> dict:
    """Build (or rebuild, for a changed corpus) the served collection of `corpus` in a Milvus `store_uri`: the unit
    vectors come from the local index (`open_index` on FAISS files: only texts new to the embedding cache are
    embedded), then `build_served` writes every unit kind with e5's (`encoder`) and USE's (`use`) vectors into a new
    generation and switches the alias `name` to it. Returns a report."""
    from qa.retrieval.index import open_index

    location = open_store(store_uri)
    if getattr(location, "backend", "") != "milvus":
        raise UserError(f"--store {store_uri}: a served collection lives in Milvus (PATH.db or milvus://HOST:PORT)")
    t0 = time.perf_counter()
    e5_store, _ = open_index(corpus, encoder, home=home, progress=progress, quiet=quiet)
    use_vectors = None
    if use is not None:
        use_store, _ = open_index(corpus, use, home=home, progress=progress, quiet=quiet)
        if use_store.units == e5_store.units:
            use_vectors = use_store.vectors()
        else:  # never expected: both index the same units
            log.warning("USE's units differ from e5's; the served collection keeps e5 alone")
    store = build_served(e5_store.vectors(), e5_store.units, manifest=dict(e5_store.manifest), uri=location.uri,
                         name=name, corpus=corpus, kinds=kinds, use_vectors=use_vectors, db_name=location.db_name)
    return {"model": encoder.name, "path": store.location, "store": "milvus (served)", "units": store.count,
            "paragraphs": store.manifest.get("paragraphs"), "use": use_vectors is not None,
            "seconds": round(time.perf_counter() - t0, 2), "loaded": False, "served": True}


__all__ = ["SERVED_NAME", "ServedCorpus", "ServedDocument", "ServedSearch", "build_served_collection", "open_served",
           "served_store"]
