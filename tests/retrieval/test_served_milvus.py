"""Search served by Milvus (qa/retrieval/served.py) against a real Milvus Lite: a collection opened without its
records, dense + BM25 lists fused locally or in Milvus, document filters in Milvus, records fetched by id, and a
fixed number of engine round trips per question whatever the collection's size."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from embeddings.stores.milvus import MilvusStore  # noqa: E402
from qa.retrieval.fusion import FusionConfig, Weights  # noqa: E402
from qa.retrieval.served import ServedRetriever, build_served, fuse_lists, served_records  # noqa: E402

DIM = 16
WORDS = ["气候变化", "妇女权利", "儿童保护", "选举监督", "水资源", "移民问题", "新闻自由", "酷刑预防"]
CONFIG = FusionConfig({g: Weights(e5=1.0, bm25=1.0, sentence=0.5) for g in ("zh", "en", "other")})


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def collection(n_par: int, seed: int = 0):
    """`n_par` paragraphs over 3 documents, each a paragraph unit, a sentence and a clause (dropped when served)."""
    rng = np.random.default_rng(seed)
    records, vecs = [], []
    for i in range(n_par):
        doc, p = f"D{i % 3}", i // 3 + 1
        word = WORDS[i % len(WORDS)]
        base = rng.normal(size=DIM)
        for kind, text in (("paragraph", f"第{p}段 {word} 报告"), ("sentence", f"{word} 报告"), ("clause", word)):
            records.append({"doc": doc, "paragraph": p, "kind": kind, "text": text, "lang": "zh"})
            vecs.append(unit(base + 0.05 * rng.normal(size=DIM)))
    return np.stack(vecs), records


class FakeEncoder:
    """Maps a question to a fixed vector (`vectors[question]`)."""

    name = "fake"

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors

    def encode_queries(self, texts):
        return np.stack([self.vectors.get(t, np.ones(DIM, np.float32) / np.sqrt(DIM)) for t in texts])


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("served") / "served.db")


def build(uri: str, n_par: int, name: str, **kw):
    vecs, records = collection(n_par)
    store = build_served(vecs, records, manifest={"model": "fake", "corpus_sha256": name}, uri=uri, name=name,
                         documents=[{"id": f"D{i}", "title": f"Doc {i}", "language": "zh"} for i in range(3)], **kw)
    return vecs, records, store


def test_served_records_keep_paragraphs_and_sentences_with_passage_keys():
    _, records = collection(6)
    keep, out = served_records(records)
    assert [records[i]["kind"] for i in keep] == ["paragraph", "sentence"] * 6
    for r in out:
        assert out[r["passage"]]["kind"] == "paragraph"
        assert (out[r["passage"]]["doc"], out[r["passage"]]["paragraph"]) == (r["doc"], r["paragraph"])


def test_open_reads_no_records_and_fetch_reads_by_id(uri):
    _, _, built = build(uri, 12, "served_open")
    store = MilvusStore.open(uri, name="served_open")
    assert store.units == [] and store.count == built.count == 24
    assert store.manifest["served"] and [d["id"] for d in store.manifest["documents"]] == ["D0", "D1", "D2"]
    got = store.fetch([0, 2, 999])
    assert sorted(got) == [0, 2] and got[2]["record"]["kind"] == "paragraph"


def test_dense_and_bm25_find_the_paragraph_and_filters_run_in_milvus(uri):
    vecs, records, _ = build(uri, 24, "served_find")
    keep, out = served_records(records)
    target = next(i for i, r in enumerate(out) if r["kind"] == "paragraph" and r["doc"] == "D1" and r["paragraph"] == 3)
    q = "妇女权利 第3段"
    enc = FakeEncoder({q: vecs[keep[target]]})
    for fusion in ("local", "rrf", "weighted"):
        served = ServedRetriever.open(uri, "served_find", enc, config=CONFIG, fusion=fusion)
        hits = served.search(q, top_k=5)
        assert (hits[0].doc, hits[0].paragraph) == ("D1", 3), fusion
        assert len({(h.doc, h.paragraph) for h in hits}) == len(hits)  # paragraphs, not units
        only = served.search(q, top_k=5, docs=["D2"])
        assert only and {h.doc for h in only} == {"D2"}
        assert served.search(q, top_k=5, langs=["en"]) == []
        rec = served.fetch(hits[:2])
        assert rec[hits[0].passage]["text"].startswith("第3段")


@pytest.mark.parametrize("fusion, per_query", [("local", 2), ("rrf", 1)])
def test_round_trips_per_question_do_not_grow_with_the_collection(uri, fusion, per_query):
    counts = []
    for n in (12, 96):
        build(uri, n, f"served_rt_{n}")
        served = ServedRetriever.open(uri, f"served_rt_{n}", FakeEncoder({}), config=CONFIG, fusion=fusion)
        for q in ("气候变化", "儿童保护 报告", "水资源"):
            served.search(q)
        counts.append(served.round_trips)
        hits = served.search("新闻自由")
        before = served.round_trips
        served.fetch(hits)
        assert served.round_trips - before == 1
    assert counts == [3 * per_query, 3 * per_query]


def test_use_vectors_are_a_second_field_searched_in_the_same_collection(uri):
    vecs, records = collection(9)
    use = unit(np.random.default_rng(5).normal(size=(len(vecs), 8)))
    build_served(vecs, records, manifest={"model": "fake"}, uri=uri, name="served_use", use_vectors=use)
    store = MilvusStore.open(uri, name="served_use")
    assert store.manifest["extra_vectors"] == {"use": 8}
    keep, _ = served_records(records)
    _, ids = store.search(use[keep[4]][None], 1, field="vector_use")
    assert ids[0, 0] == 4
    q = "水资源"
    served = ServedRetriever(store, FakeEncoder({}), use=FakeEncoder({q: use[keep[4]]}), config=FusionConfig(
        {g: Weights(e5=0.0, use=1.0, sentence=0.0) for g in ("zh", "en", "other")}))
    hits = served.search(q, top_k=3)
    assert hits[0].passage == 4 and served.round_trips == 3  # e5, USE, BM25


def test_a_collection_not_built_for_serving_is_refused(uri):
    vecs, records = collection(3)
    MilvusStore.build(vecs, records, manifest={"model": "fake"}, uri=uri, name="plain")
    with pytest.raises(ValueError, match="served"):
        ServedRetriever.open(uri, "plain", FakeEncoder({}))


def test_fuse_lists_standardizes_with_the_lists_own_statistics():
    def hit(p, d, kind="paragraph"):
        return {"distance": d, "entity": {"passage": p, "doc": "D", "paragraph": p, "kind": kind}}

    dense = {"e5": [hit(1, 0.9), hit(2, 0.5), hit(3, 0.4), hit(1, 0.95, "sentence")]}
    lexical = {"bm25": [hit(3, -12.0), hit(4, -3.0)]}  # Milvus Lite reports BM25 negated
    only_dense = fuse_lists(dense, lexical, {"e5": 1.0, "bm25": 0.0}, 0.5, 4)
    assert [h.paragraph for h in only_dense][:3] == [1, 2, 3]
    both = fuse_lists(dense, lexical, {"e5": 1.0, "bm25": 2.0}, 0.5, 4)
    assert both[0].paragraph == 3 and both[0].signals["bm25"] == 12.0
    assert {h.paragraph for h in both} == {1, 2, 3, 4}
