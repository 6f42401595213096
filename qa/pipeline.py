"""Wire the stages together: corpus → indexes (one per encoder) + lexical index → Retriever."""

from __future__ import annotations

import logging
from collections.abc import Callable

from embeddings.encoders import DEFAULT_MODEL, load_encoder
from qa.corpus import load_corpus
from qa.index import IndexHome, open_index
from qa.lexical import LexicalIndex
from qa.retrieve import FusionConfig, Retriever
from qa.types import Corpus

log = logging.getLogger("report_qa")


def load_retriever(corpus: Corpus | None = None, *, model: str | None = None, use_second: bool = True,
                   rebuild: bool = False, home: IndexHome | None = None,
                   progress: Callable[[int, int], None] | None = None, quiet: bool = False,
                   reports: list | None = None) -> Retriever:
    """The default retriever: e5-small (or `model`) + USE-multilingual + BM25 over the corpus."""
    corpus = corpus or load_corpus()
    home = home or IndexHome.resolve()
    dense = {}
    primary = load_encoder(model or DEFAULT_MODEL)
    store, report = open_index(corpus, primary, home=home, rebuild=rebuild, progress=progress, quiet=quiet)
    dense["e5"] = (primary, store)
    if reports is not None:
        reports.append(report)
    if use_second:
        try:
            use = load_encoder("use")
        except Exception as exc:  # noqa: BLE001 - the second encoder is optional
            log.warning("USE-multilingual unavailable (%s); hybrid runs without it", exc)
        else:
            store2, report2 = open_index(corpus, use, home=home, rebuild=rebuild, progress=progress, quiet=quiet)
            dense["use"] = (use, store2)
            if reports is not None:
                reports.append(report2)
    return Retriever(corpus, dense, LexicalIndex.build(corpus), FusionConfig.load())
