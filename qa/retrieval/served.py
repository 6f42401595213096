"""Retrieval served by Milvus: the collection, its dense and BM25 searches and the filters stay in the engine.

`ServedRetriever` answers a question with a fixed number of engine round trips whatever the collection's size,
and holds no records, vectors or corpus: only the query encoders (e5, optionally USE), the per-document metadata
kept in the collection's manifest and, optionally, the multilingual bridge.

- `fusion="local"` (default): one dense search per vector field (e5, and USE where the collection has it; top
  `depth` units) and one BM25 search (Milvus' full-text search with the jieba analyzer over paragraph units: the
  question, plus the bridge's Chinese forms and the `place` forms as extra text queries, `depth` each), sent at
  once from worker threads: 2 (3 with USE) round trips. The lists are fused here with the weights of
  fusion.json for the question's group, each signal standardized with the mean and standard deviation over the
  union of the candidates (no collection statistics are needed).
- `fusion="rrf"` / `"weighted"`: the same requests in one `hybrid_search`, grouped by paragraph and fused in
  Milvus by `RRFRanker(60)` or `WeightedRanker` (the group's weights): 1 round trip.

Records (paragraph text, section, footnotes) come by id for the hits shown: `fetch` (1 more round trip).
A served collection is built by `build_served` from the unit vectors and records `open_index` makes: by default
paragraph and sentence units (`kinds=ALL_KINDS` keeps headings, clauses and footnotes too), optionally USE's
vectors of the same units as a second vector field; each record carries `passage` (the id of its paragraph's
unit) and the paragraph unit carries its section and footnotes.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from embeddings.stores.milvus import MAX_TOPK, MilvusStore, filter_expression
from qa.retrieval.bridge import PLACE_KINDS, Bridge, bridge_query
from qa.retrieval.fusion import FusionConfig, query_group
from qa.text import cjk_share, detect_language
from qa.types import Corpus

__all__ = ["SERVED_KINDS", "ServedHit", "ServedRetriever", "build_served", "served_records"]

SERVED_KINDS = ("paragraph", "sentence")  # the default: what pays off at scale
ALL_KINDS = ("paragraph", "heading", "sentence", "clause", "footnote")
DEPTH = 600  # candidates per list (units for dense, paragraphs for BM25)
RRF_K = 60


@dataclass
class ServedHit:
    doc: str
    paragraph: int
    score: float
    rank: int
    passage: int  # the id of the paragraph's unit: `fetch` reads its record
    signals: dict[str, float] = field(default_factory=dict)


def served_records(records: list[dict], corpus: Corpus | None = None,
                   kinds: tuple[str, ...] = SERVED_KINDS) -> tuple[np.ndarray, list[dict]]:
    """The units a served collection keeps (positions into `records`, and their new records): the units of
    `kinds` (always with the paragraph units), each with `passage` = the new id of its paragraph's unit; the paragraph unit also carries
    `section` and `footnotes` ([n, text] pairs) from `corpus` when given."""
    kinds = ("paragraph", *kinds)
    keep = [i for i, r in enumerate(records) if r.get("kind") in kinds]
    first: dict[tuple[str, int], int] = {}
    for new, i in enumerate(keep):
        r = records[i]
        if r["kind"] == "paragraph":
            first.setdefault((r["doc"], int(r["paragraph"])), new)
    out = []
    for i in keep:
        r = dict(records[i])
        key = (r["doc"], int(r["paragraph"]))
        if key not in first:
            raise ValueError(f"no paragraph unit for {key}")
        r["passage"] = first[key]
        if corpus is not None and r["kind"] == "paragraph":
            p = corpus.document(r["doc"]).paragraph(r["paragraph"])
            r["section"] = list(p.section)
            r["footnotes"] = [[f.n, f.text] for f in corpus.document(r["doc"]).footnotes if f.paragraph == p.n]
        out.append(r)
    return np.asarray(keep, dtype=np.int64), out


def document_metadata(corpus: Corpus) -> list[dict]:
    return [{"id": d.id, "title": d.title, "language": d.language, "paragraphs": len(d.paragraphs)}
            for d in corpus.documents]


def build_served(vectors: np.ndarray, records: list[dict], *, manifest: dict, uri: str, name: str,
                 corpus: Corpus | None = None, documents: list[dict] | None = None,
                 kinds: tuple[str, ...] = SERVED_KINDS, use_vectors: np.ndarray | None = None,
                 **options) -> MilvusStore:
    """A served collection from `open_index`'s unit vectors and records (see `served_records`); `use_vectors`:
    USE's vectors of the same units, kept beside e5's."""
    keep, out = served_records(records, corpus, kinds)
    if use_vectors is not None:
        options["extra_vectors"] = {"use": np.asarray(use_vectors)[keep]}
    docs = documents if documents is not None else (document_metadata(corpus) if corpus is not None else [])
    return MilvusStore.build(np.asarray(vectors)[keep], out, manifest={**manifest, "documents": docs,
                                                                       "served_kinds": sorted({"paragraph", *kinds})},
                             uri=uri,
                             name=name, served=True, **options)


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - float(x.mean())) / sd if sd > 1e-9 else np.zeros_like(x)


class ServedRetriever:
    """Hybrid search served by Milvus over a collection built by `build_served` (see the module docstring)."""

    def __init__(self, store: MilvusStore, encoder, *, config: FusionConfig | None = None,
                 bridge: Bridge | None = None, fusion: str = "local", depth: int = DEPTH, use=None):
        """`use`: the USE encoder, read when the collection has `vector_use` (built with `use_vectors`)."""
        if not store.manifest.get("served"):
            raise ValueError(f"{store.location} was not built for served search (build_served)")
        if fusion not in ("local", "rrf", "weighted"):
            raise ValueError(f"fusion {fusion!r}: local, rrf or weighted")
        self.store, self.encoder, self.bridge = store, encoder, bridge
        self.use = use if "use" in (store.manifest.get("extra_vectors") or {}) else None
        self.config = config or FusionConfig.load()
        self.fusion, self.depth = fusion, min(int(depth), MAX_TOPK)
        self.documents = list(store.manifest.get("documents") or [])
        self.round_trips = 0  # engine requests made so far
        self._params = dict(store.manifest.get("index", {}).get("search") or {})
        if "ef" in self._params:
            self._params["ef"] = max(int(self._params["ef"]), self.depth)

    @classmethod
    def open(cls, uri: str, name: str, encoder, **options) -> ServedRetriever:
        return cls(MilvusStore.open(uri, name=name), encoder, **options)

    # --- the requests ------------------------------------------------------------------------------

    def _texts(self, query: str, language: str) -> dict[str, str]:
        """The BM25 queries: the question, and the bridge's Chinese forms ("bridge") and place forms ("place")."""
        texts = {"bm25": query}
        if self.bridge is not None and "bridge" in self.config.enabled:
            entities = self.bridge.match(query, language)
            bq = bridge_query(entities)
            if bq:
                texts["bridge"] = bq
            pq = bridge_query([e for e in entities if e.kind in PLACE_KINDS])
            if pq:
                texts["place"] = pq
        return texts

    def _filter(self, docs, langs, kind: str | None = None) -> str:
        flt = {k: v for k, v in (("doc", docs), ("lang", langs), ("kind", [kind] if kind else None)) if v}
        return filter_expression(flt or None)

    def search(self, query: str, *, top_k: int = 10, docs: list[str] | None = None, langs: list[str] | None = None,
               language: str | None = None) -> list[ServedHit]:
        """The `top_k` best paragraphs for `query` (within `docs` / `langs` when given)."""
        weights, w_sentence, texts = self.plan(query, language)
        qvecs = {"e5": np.ascontiguousarray(self.encoder.encode_queries([query]), dtype=np.float32)}
        if self.use is not None:
            qvecs["use"] = np.ascontiguousarray(self.use.encode_queries([query]), dtype=np.float32)
        if self.fusion == "local":
            return self._local(qvecs, texts, weights, w_sentence, top_k, docs, langs)
        return self._hybrid(qvecs, texts, weights, top_k, docs, langs)

    def plan(self, query: str, language: str | None = None) -> tuple[dict[str, float], float, dict[str, str]]:
        """The weights of the question's group (e5 stands for USE when the collection has no USE vectors, and for
        the clause and heading signals when it lacks their units), the sentence share, and the BM25 texts."""
        language = language or detect_language(query)
        w = self.config.weights_for(query_group(cjk_share(query), language, min_cjk=self.config.lexical_min_cjk))
        kinds = set(self.store.manifest.get("served_kinds") or SERVED_KINDS)
        use = self.use is not None
        e5, clause, heading = w.e5 + (0 if use else w.use), w.e5_clause + (0 if use else w.use_clause), w.heading
        weights = {"e5": e5 + (0 if "clause" in kinds else clause) + (0 if "heading" in kinds else heading),
                   "e5_clause": clause if "clause" in kinds else 0.0, "heading": heading if "heading" in kinds else 0.0,
                   "use": w.use + (0 if "clause" in kinds else w.use_clause) if use else 0.0,
                   "use_clause": w.use_clause if use and "clause" in kinds else 0.0,
                   "bm25": w.bm25, "bridge": w.bridge, "place": w.place}
        return weights, w.sentence, self._texts(query, language)

    def _hybrid(self, qvecs, texts, weights, top_k, docs, langs) -> list[ServedHit]:
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker  # optional dependency (report-qa[milvus])

        reqs = [AnnSearchRequest(data=q, anns_field=_field(name), limit=self.depth, expr=self._filter(docs, langs),
                                 param={"metric_type": "IP", "params": self._params}) for name, q in qvecs.items()]
        names = list(qvecs)
        for name, text in texts.items():
            if weights.get(name, 0) > 0 or name == "bm25" and not any(weights.get(n, 0) > 0 for n in texts):
                reqs.append(AnnSearchRequest(data=[text], anns_field="sparse", limit=self.depth,
                                             expr=self._filter(docs, langs, "paragraph"),
                                             param={"metric_type": "BM25"}))
                names.append(name)
        ranker = RRFRanker(RRF_K) if self.fusion == "rrf" else WeightedRanker(*[max(weights[n], 1e-3) for n in names])
        self.round_trips += 1
        res = self.store.client.hybrid_search(self.store.collection, reqs, ranker=ranker, limit=top_k,
                                              group_by_field="passage", output_fields=["doc", "paragraph", "passage"])
        hits = []
        for rank, h in enumerate(res[0] if res else []):
            e = h["entity"]
            hits.append(ServedHit(e["doc"], int(e["paragraph"]), float(h["distance"]), rank + 1, int(e["passage"])))
        return hits

    def _local(self, qvecs, texts, weights, w_sentence, top_k, docs, langs) -> list[ServedHit]:
        """The dense searches (one per vector field) and the BM25 search, sent at once from worker threads."""
        client, coll = self.store.client, self.store.collection
        names = [n for n in texts if n == "bm25" or weights.get(n, 0) > 0]
        jobs = {name: _pool().submit(client.search, coll, data=q, anns_field=_field(name), limit=self.depth,
                                     filter=self._filter(docs, langs),
                                     output_fields=["doc", "paragraph", "passage", "kind"],
                                     search_params={"metric_type": "IP", "params": self._params})
                for name, q in qvecs.items()}
        lexical_job = _pool().submit(client.search, coll, data=[texts[n] for n in names], anns_field="sparse",
                                     limit=self.depth, filter=self._filter(docs, langs, "paragraph"),
                                     output_fields=["doc", "paragraph", "passage"],
                                     search_params={"metric_type": "BM25"}) if names else None
        self.round_trips += len(jobs) + (lexical_job is not None)
        dense = {name: job.result()[0] for name, job in jobs.items()}
        lexical = lexical_job.result() if lexical_job is not None else []
        return fuse_lists(dense, dict(zip(names, lexical, strict=True)), weights, w_sentence, top_k)

    def fetch(self, hits: list[ServedHit]) -> dict[int, dict]:
        """The records of these hits' paragraphs (text, section, footnotes), by id: one round trip."""
        self.round_trips += 1
        return {i: row["record"] for i, row in self.store.fetch([h.passage for h in hits]).items()}


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads that send a question's engine requests at once (its tasks never wait on one another)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="report-qa-served")


def _field(encoder: str) -> str:
    return "vector" if encoder == "e5" else f"vector_{encoder}"


def fuse_lists(dense: dict[str, list], lexical: dict[str, list], weights: dict[str, float], w_sentence: float,
               top_k: int) -> list[ServedHit]:
    """Fuse the engine's candidate lists (`dense`: per encoder, "e5" and "use"): an encoder's score of a paragraph
    is (1 − w_sentence) × its paragraph unit's cosine + w_sentence × its best sentence's or footnote's,
    "<encoder>_clause" its best clause's and "heading" its heading's (e5; a unit missing from a list takes that
    list's lowest cosine); each lexical signal is the BM25 score (0 off its list; "place": 1 on it). Every signal
    is standardized over the union of the candidates, with that union's own mean and standard deviation."""
    meta: dict[int, tuple[str, int]] = {}
    best: dict[str, dict[str, dict[int, float]]] = {}
    floors: dict[str, float] = {}
    for enc, hits in dense.items():
        tables = best[enc] = {"paragraph": {}, "sentence": {}, "clause": {}, "heading": {}}
        floors[enc] = min((float(h["distance"]) for h in hits), default=0.0)
        for h in hits:
            e = h["entity"]
            p = int(e["passage"])
            meta[p] = (e["doc"], int(e["paragraph"]))
            table = tables.get(e.get("kind"), tables["sentence"])  # a footnote counts as a sentence, as in DenseIndex
            table[p] = max(table.get(p, -np.inf), float(h["distance"]))
    lex: dict[str, dict[int, float]] = {}
    for name, hits in lexical.items():
        lex[name] = {}
        for h in hits:
            e = h["entity"]
            p = int(e["passage"])
            meta[p] = (e["doc"], int(e["paragraph"]))
            lex[name][p] = 1.0 if name == "place" else abs(float(h["distance"]))  # Milvus Lite: BM25 negated
    if not meta:
        return []
    keys = np.fromiter(meta, dtype=np.int64)
    parts: dict[str, np.ndarray] = {}
    for enc, tables in best.items():
        para, sent, floor = tables["paragraph"], tables["sentence"], floors[enc]
        pv = np.array([para.get(int(p), floor) for p in keys], dtype=np.float64)
        sv = np.array([sent.get(int(p), para.get(int(p), floor)) for p in keys], dtype=np.float64)
        parts[enc] = (1 - w_sentence) * pv + w_sentence * sv
        for kind, name in (("clause", f"{enc}_clause"), ("heading", "heading" if enc == "e5" else "")):
            if name and weights.get(name, 0.0) and tables[kind]:
                parts[name] = np.array([tables[kind].get(int(p), floor) for p in keys], dtype=np.float64)
    for name, table in lex.items():
        parts[name] = np.array([table.get(int(p), 0.0) for p in keys], dtype=np.float64)
    fused = np.zeros(len(keys))
    for name, x in parts.items():
        fused += weights.get(name, 0.0) * _zscore(x)
    if not any(weights.get(n, 0.0) for n in parts):  # no signal weighted: the dense list (or BM25) alone
        fused = _zscore(parts.get("e5", parts.get("bm25", fused)))
    order = np.lexsort((keys, -fused))[:top_k]
    return [ServedHit(*meta[int(keys[i])], float(fused[i]), r + 1, int(keys[i]),
                      {n: float(x[i]) for n, x in parts.items()}) for r, i in enumerate(order)]


def timed_search(retriever: ServedRetriever, query: str, **kw) -> tuple[list[ServedHit], float, int]:
    """Hits, milliseconds and engine round trips of one search."""
    before = retriever.round_trips
    t = time.perf_counter()
    hits = retriever.search(query, **kw)
    return hits, (time.perf_counter() - t) * 1000, retriever.round_trips - before
