"""Wire the stages together: corpus → indexes (one per encoder) + lexical index → Retriever → `Engine`.

`load_engine()` is the one constructor the CLI, the terminal chat, the app, MCP and the benchmark share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from embeddings.encoders import DEFAULT_MODEL, load_encoder
from embeddings.errors import EncoderUnavailable
from qa.ingest import load_corpus
from qa.retrieval.bridge import Bridge
from qa.retrieval.fusion import FusionConfig
from qa.retrieval.index import IndexHome, open_index
from qa.retrieval.lexical import LexicalIndex
from qa.retrieval.retriever import Depth, Retriever
from qa.types import Corpus

log = logging.getLogger("report_qa")


@dataclass
class Engine:
    """The loaded corpus, its retriever and how each index was obtained (loaded or built, where, how long)."""

    corpus: Corpus
    retriever: Retriever
    index_reports: list[dict] = field(default_factory=list)
    store_uri: str | None = None  # the vector store it was built with (`--store`), reused by `rebuild_engine`
    candidates: Depth | None = None  # `--candidates`, likewise reused

    def describe(self) -> dict:
        """Models, indexes and documents, for the app's About panel and `qa index --json`."""
        models = []
        for name, (enc, store) in self.retriever.dense.items():
            m = store.manifest
            models.append({"signal": name, "model": enc.name, "dim": enc.dim, "fingerprint": enc.fingerprint,
                           "units": m.get("count"), "unit_type": m.get("unit_type"),
                           "index_type": m.get("index_type"), "created": m.get("created")})
        docs = [{"id": d.id, "title": d.title, "language": d.language, "paragraphs": len(d.paragraphs),
                 "footnotes": len(d.footnotes), "meta": dict(d.meta)} for d in self.corpus.documents]
        return {"models": models, "documents": docs, "indexes": list(self.index_reports),
                "search": self.retriever.depth()}


def search_summary(search: dict) -> str:
    """One line on how the engine searches (`Engine.describe()["search"]`), for the About panel and `qa index`."""
    if not search.get("two_stage"):
        return f"every paragraph scored exactly ({search['paragraphs']:,})"
    extra = "".join(f" (+{k} paragraphs for {name})" for name, k in search.get("paragraph_candidates", {}).items() if k)
    return (f"two stages over {search['paragraphs']:,} paragraphs: {search['dense_candidates']} candidates per dense "
            f"signal{extra}, {search['lexical_candidates']} per lexical signal, then exact scores "
            "(`--candidates all` scores every paragraph)")


def load_engine(corpus: Corpus | None = None, *, model: str | None = None, use_second: bool = True,
                rebuild: bool = False, home: IndexHome | None = None,
                progress: Callable[[int, int], None] | None = None, quiet: bool = False,
                store_uri: str | None = None, candidates: Depth | None = None) -> Engine:
    """The default engine: e5-small (or `model`) + USE-multilingual + BM25 over the corpus.

    `store_uri` picks the vector store (`--store`): None = FAISS files, or Milvus (embeddings/stores/).
    `candidates` (`--candidates`): how many candidates each signal fetches in a collection searched in two
    stages (more: closer to exhaustive scoring, slower), or "all" to score every paragraph.
    A Milvus `store_uri` that holds a served collection (`qa add --store` / `qa index --store … --served`) gives an
    engine served by Milvus instead (qa/retrieval/served_engine.py): `corpus` is then the collection's.
    """
    if store_uri and not rebuild:
        from qa.retrieval.served_engine import served_store

        served = served_store(store_uri)
        if served is not None:
            return load_served_engine(served, model=model, use_second=use_second, candidates=candidates)
    corpus = corpus or load_corpus()
    home = home or IndexHome.resolve()
    dense = {}
    reports = []
    # USE's weights, BM25 (jieba's dictionary, the tokenized corpus) and the multilingual bridge load in a second
    # thread while e5 loads and embeds: mostly Python and file reading beside ONNX Runtime's native work.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-qa-load") as pool:
        use_ready = pool.submit(_second_encoder) if use_second else None
        lexical_ready = pool.submit(LexicalIndex.build, corpus)
        bridge_ready = pool.submit(Bridge.for_corpus, corpus)
        primary = load_encoder(model or DEFAULT_MODEL)
        store, report = open_index(corpus, primary, home=home, rebuild=rebuild, progress=progress, quiet=quiet,
                                   store_uri=store_uri)
        dense["e5"] = (primary, store)
        reports.append(report)
        use = use_ready.result() if use_ready else None
        if use is not None:
            store2, report2 = open_index(corpus, use, home=home, rebuild=rebuild, progress=progress, quiet=quiet,
                                         store_uri=store_uri)
            dense["use"] = (use, store2)
            reports.append(report2)
        lexical, bridge = lexical_ready.result(), bridge_ready.result()
    retriever = Retriever(corpus, dense, lexical, FusionConfig.load(), bridge=bridge, candidates=candidates)
    return Engine(corpus, retriever, reports, store_uri, candidates)


def load_served_engine(store, *, model: str | None = None, use_second: bool = True,
                       candidates: Depth | None = None) -> Engine:
    """An Engine over an open served collection (qa/retrieval/served_engine.py): the encoders and the collection;
    its corpus is read by id."""
    import time

    from qa.retrieval.served_engine import open_served

    t0 = time.perf_counter()
    encoder = load_encoder(model or DEFAULT_MODEL)
    use = _second_encoder() if use_second and "use" in (store.manifest.get("extra_vectors") or {}) else None
    search = open_served(store, encoder, use=use, candidates=candidates)
    report = {"model": encoder.name, "path": store.location, "store": "milvus (served)", "loaded": True,
              "seconds": round(time.perf_counter() - t0, 3), "units": int(store.manifest.get("count", 0)), "served": True}
    return Engine(search.corpus, search, [report], None, candidates)


def build_served_index(corpus: Corpus, store_uri: str, *, model: str | None = None, use_second: bool = True,
                       home: IndexHome | None = None, quiet: bool = False) -> dict:
    """The served collection of `corpus` in a Milvus `store_uri` (`qa add --store`, `qa index --store … --served`)."""
    from qa.retrieval.served_engine import build_served_collection

    encoder = load_encoder(model or DEFAULT_MODEL)
    use = _second_encoder() if use_second else None
    return build_served_collection(corpus, store_uri, encoder, use=use, home=home, quiet=quiet)


def _second_encoder():
    """USE-multilingual with its weights loaded, or None (hybrid then runs without it)."""
    try:
        use = load_encoder("use")
        use.encode_queries(["report-qa"])  # the weights and tokenizer load on first use: now, in this thread
        return use
    except EncoderUnavailable as exc:
        log.warning("USE-multilingual unavailable (%s); hybrid runs without it", exc)
        return None


def rebuild_engine(engine: Engine, corpus: Corpus, *, home: IndexHome | None = None,
                   progress: Callable[[int, int], None] | None = None, quiet: bool = True) -> Engine:
    """A new Engine over `corpus` (a report added or removed) with `engine`'s loaded encoders, store and fusion
    settings. Incremental: the embedding cache is keyed by content hash, so only texts new to it are embedded;
    `engine` itself is left untouched, so a caller can swap the new one in when it is complete."""
    home = home or IndexHome.resolve()
    dense, reports = {}, []
    for name, (enc, _store) in engine.retriever.dense.items():
        store, report = open_index(corpus, enc, home=home, progress=progress, quiet=quiet, store_uri=engine.store_uri)
        dense[name] = (enc, store)
        reports.append(report)
    retriever = Retriever(corpus, dense, LexicalIndex.build(corpus), engine.retriever.config,
                          candidates=engine.candidates)
    return Engine(corpus, retriever, reports, engine.store_uri, engine.candidates)
