"""Wire the stages together: corpus → indexes (one per encoder) + lexical index → Retriever → `Engine`.

`load_engine()` is the one constructor the CLI, the terminal chat, the app, MCP and the benchmark share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from embeddings.encoders import DEFAULT_MODEL, load_encoder
from embeddings.errors import EncoderUnavailable
from qa.ingest.txt import load_corpus
from qa.retrieval.index import IndexHome, open_index
from qa.retrieval.lexical import LexicalIndex
from qa.retrieval.retriever import FusionConfig, Retriever
from qa.types import Corpus

log = logging.getLogger("report_qa")


@dataclass
class Engine:
    """The loaded corpus, its retriever and how each index was obtained (loaded or built, where, how long)."""

    corpus: Corpus
    retriever: Retriever
    index_reports: list[dict] = field(default_factory=list)
    store_uri: str | None = None  # the vector store it was built with (`--store`), reused by `rebuild_engine`

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
        return {"models": models, "documents": docs, "indexes": list(self.index_reports)}


def load_engine(corpus: Corpus | None = None, *, model: str | None = None, use_second: bool = True,
                rebuild: bool = False, home: IndexHome | None = None,
                progress: Callable[[int, int], None] | None = None, quiet: bool = False,
                store_uri: str | None = None) -> Engine:
    """The default engine: e5-small (or `model`) + USE-multilingual + BM25 over the corpus.

    `store_uri` picks the vector store (`--store`): None = FAISS files, or Milvus (embeddings/stores.py).
    """
    corpus = corpus or load_corpus()
    home = home or IndexHome.resolve()
    dense = {}
    reports = []
    primary = load_encoder(model or DEFAULT_MODEL)
    store, report = open_index(corpus, primary, home=home, rebuild=rebuild, progress=progress, quiet=quiet,
                               store_uri=store_uri)
    dense["e5"] = (primary, store)
    reports.append(report)
    if use_second:
        try:
            use = load_encoder("use")
        except EncoderUnavailable as exc:
            log.warning("USE-multilingual unavailable (%s); hybrid runs without it", exc)
        else:
            store2, report2 = open_index(corpus, use, home=home, rebuild=rebuild, progress=progress, quiet=quiet,
                                         store_uri=store_uri)
            dense["use"] = (use, store2)
            reports.append(report2)
    return Engine(corpus, Retriever(corpus, dense, LexicalIndex.build(corpus), FusionConfig.load()), reports,
                  store_uri)


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
    retriever = Retriever(corpus, dense, LexicalIndex.build(corpus), engine.retriever.config)
    return Engine(corpus, retriever, reports, engine.store_uri)
