"""The app on a served collection (qa/retrieval/served_engine.py) against a real Milvus Lite: the bundled report's
units in a served collection (random vectors; a fake encoder points a question at one paragraph), answered by the
chat with no corpus loaded, its records read by id."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from embeddings.stores.milvus import MilvusStore  # noqa: E402
from qa.answer.chat import SEARCH_DEPTH, ChatSession  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.ingest import load_corpus  # noqa: E402
from qa.retrieval.bridge import Bridge  # noqa: E402
from qa.retrieval.bridge import _concepts as concepts  # noqa: E402
from qa.retrieval.fusion import FusionConfig, Weights  # noqa: E402
from qa.retrieval.index import build_units  # noqa: E402
from qa.retrieval.served import ALL_KINDS, ServedRetriever, bridge_text, build_served, served_records  # noqa: E402
from qa.retrieval.served_engine import SERVED_NAME, ServedSearch, served_store  # noqa: E402

DIM = 24
CONFIG = FusionConfig({g: Weights(e5=1.0, bm25=0.5, sentence=0.5, abstain_margin=0.0) for g in ("zh", "en", "other")})


class FakeEncoder:
    name, fingerprint = "fake", "fake"

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def encode_queries(self, texts):
        return np.stack([self.vectors.get(t, np.full(DIM, DIM ** -0.5, np.float32)) for t in texts])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    corpus = load_corpus()
    units = build_units(corpus)
    records = [{**u.record(), "lang": "zh"} for u in units]
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(units), DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    uri = str(tmp_path_factory.mktemp("served_engine") / "served.db")
    build_served(vecs, records, manifest={"model": "fake"}, uri=uri, name=SERVED_NAME, corpus=corpus, kinds=ALL_KINDS)
    return corpus, units, records, vecs, uri


def engine_for(uri: str, question: str, target_vector: np.ndarray) -> Engine:
    store = served_store(uri)
    assert store is not None and store.units == []  # opened without its records
    bridge = Bridge(concepts(), store.manifest["bridge_text"])
    served = ServedRetriever(store, FakeEncoder({question: target_vector}), config=CONFIG, bridge=bridge)
    search = ServedSearch(served)
    return Engine(search.corpus, search)


@pytest.mark.slow  # Milvus Lite and a served build: the full tier (`make test`) keeps it
def test_the_bridge_from_the_manifest_matches_as_the_corpus_bridge_does():
    corpus = load_corpus()
    ours, theirs = Bridge(concepts(), bridge_text(corpus)), Bridge.for_corpus(corpus)
    assert ours.present == theirs.present and ours.years == theirs.years
    for q in ("What did OHCHR do in Ukraine?", "乍得的死刑", "¿Qué hizo la Oficina en Colombia en 2020?"):
        assert [(e.id, e.in_corpus) for e in ours.match(q, "en")] == [(e.id, e.in_corpus) for e in theirs.match(q, "en")]


@pytest.mark.slow  # Milvus Lite and a served build: the full tier (`make test`) keeps it
def test_a_question_is_answered_from_records_read_by_id(built):
    corpus, units, records, vecs, uri = built
    doc = corpus.documents[0]
    p = next(p for p in doc.paragraphs if p.footnotes and len(p.spans) > 1)
    # the question's vector is that of the paragraph's second sentence
    i = next(i for i, u in enumerate(units) if u.doc == doc.id and u.paragraph == p.n and u.kind == "sentence"
             and u.sentence == 1)
    q = "zzqx qqzz"  # no word of the report: BM25 lists nothing, the dense vector decides
    engine = engine_for(uri, q, vecs[i])
    served_corpus = engine.corpus
    assert served_corpus._cache == {} and [d.id for d in served_corpus.documents] == [d.id for d in corpus.documents]
    assert len(served_corpus.document(doc.id).paragraphs) == len(doc.paragraphs)  # from the manifest
    res = engine.retriever.search(q, top_k=5)
    top = res.hits[0]
    assert (top.doc, top.paragraph) == (doc.id, p.n) and top.sentences[0] == 1
    trips = engine.retriever.served.round_trips
    ans = ChatSession(engine, "hybrid", 3).ask(q)
    # e5 and BM25 (the list, not full, gives the sample's BM25); the hits' records
    assert engine.retriever.served.round_trips - trips == 3
    cited = ans.paragraphs[0]
    assert (cited.doc, cited.n, cited.text) == (doc.id, p.n, p.text) and cited.section == p.section
    want = {f.n: f.text for f in doc.footnotes if f.n in p.footnotes}
    assert {f.n: f.text for f in cited.footnotes} == want
    assert served_corpus.reads == 0 and served_corpus.document(doc.id)._whole is None  # no document read whole
    assert len(served_corpus._cache) <= 5 + SEARCH_DEPTH  # the paragraphs the two searches listed, no others


def test_a_paragraph_not_yet_shown_is_read_by_its_number(built):
    corpus, _, _, vecs, uri = built
    engine = engine_for(uri, "x", vecs[0])
    doc = corpus.documents[0]
    last = doc.paragraphs[-1]
    got = engine.corpus.document(doc.id).paragraph(last.n)
    assert got.text == last.text and got.footnotes == last.footnotes and got.spans == last.spans
    assert engine.corpus.reads == 1
    assert engine.corpus.document(doc.id).paragraph(10_000) is None
    # a lookup ("¶ 3") reads the one paragraph, and its footnotes come with it
    ans = ChatSession(engine, "hybrid", 3).ask("第3段")
    assert ans.kind == "lookup" and ans.quotes and ans.quotes[0].paragraph == 3


def test_layout_and_manifest_of_the_bundled_collection(built):
    corpus, _, records, _, uri = built
    store = MilvusStore.open(uri, name=SERVED_NAME)
    m = store.manifest
    layout = served_records(records, corpus, ALL_KINDS)
    assert m["paragraphs"] == sum(len(d.paragraphs) for d in corpus.documents) == len(m["sample"])
    assert m["sample_units"] == len(layout.records) == store.count  # a small collection: every paragraph samples
    assert set(m["served_kinds"]) == set(ALL_KINDS) and m["lexical"]["k1"] == 1.5 and m["lexical"]["b"] == 0.75


# --- the real engine: the app's path through `--store` ------------------------------------------------------

@pytest.mark.slow
def test_load_engine_with_a_served_store_answers_as_the_faiss_engine(engine, questions, tmp_path):
    """`qa index --store … --served`'s collection of the bundled report (every unit kind, e5 + USE), opened by
    `load_engine(store_uri=…)` without records or corpus, ranks the evaluation questions' paragraphs as the
    embedded FAISS engine does, and the chat answers from it."""
    from qa.engine import build_served_index, load_engine
    from qa.retrieval.index import IndexHome

    uri = str(tmp_path / "served.db")
    report = build_served_index(engine.corpus, uri, home=IndexHome.resolve(), quiet=True)
    assert report["use"] and report["paragraphs"] == sum(len(d.paragraphs) for d in engine.corpus.documents)
    served = load_engine(store_uri=uri, quiet=True)
    assert isinstance(served.retriever, ServedSearch) and served.retriever.served.store.units == []
    assert served.corpus._cache == {}
    agree, n = 0.0, 0
    for q in [q for q in questions if q.relevant][:40]:
        ours = [h.paragraph for h in served.retriever.search(q.question, top_k=10).hits]
        theirs = [h.paragraph for h in engine.retriever.search(q.question, top_k=10).hits]
        agree += len(set(ours) & set(theirs)) / 10
        n += 1
    assert agree / n >= 0.85
    ans = ChatSession(served, "hybrid", 3).ask("乍得在死刑问题上有什么进展？")
    assert ans.covered and ans.paragraphs
    p = engine.corpus.document(ans.paragraphs[0].doc).paragraph(ans.paragraphs[0].n)
    assert ans.paragraphs[0].text == p.text
