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
from qa.retrieval.lexical import tokenize  # noqa: E402
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
    layout = served_records(records)
    keep, out = layout.keep, layout.records
    assert [records[i]["kind"] for i in keep] == ["paragraph", "sentence"] * 6
    for r in out:
        assert out[r["passage"]]["kind"] == "paragraph"
        assert (out[r["passage"]]["doc"], out[r["passage"]]["paragraph"]) == (r["doc"], r["paragraph"])


def test_each_paragraphs_units_are_one_run_of_ids_led_by_its_paragraph_unit():
    """Footnote units come after every paragraph of their document in `build_units`' order; served, each paragraph's
    units are ids `passage` .. `passage + units - 1`, which is how stage 2 reads a candidate's units by id."""
    _, records = collection(9)
    records += [{"doc": f"D{i % 3}", "paragraph": i // 3 + 1, "kind": "footnote", "text": "注", "lang": "zh"}
                for i in (1, 4)]
    out = served_records(records, kinds=("sentence", "footnote"), sample_size=4).records
    assert len(out) == 9 * 2 + 2
    seen = set()
    for r in out:
        run = out[r["passage"]:r["passage"] + r["units"]]
        assert run[0]["kind"] == "paragraph" and all(u["passage"] == r["passage"] for u in run)
        seen.add((r["doc"], r["paragraph"], r["units"]))
    assert ("D1", 1, 3) in seen and ("D1", 2, 3) in seen and ("D0", 1, 2) in seen  # ¶ + sentence (+ footnote)


def test_stage_two_by_id_scores_as_the_filtered_search_does(uri):
    """A collection larger than its sample: stage 2 reads the candidates' units by id (one request, cosines computed
    here) and gives the scores stage 2 by a filtered search gives (one search per vector field)."""
    vecs, records, _ = build(uri, 90, "served_runs", sample_size=6)
    layout = served_records(records, sample_size=6)
    rng = np.random.default_rng(9)
    queries = {q: unit(vecs[layout.keep[k]] + 0.4 * rng.normal(size=DIM))
               for q, k in (("水资源 报告", 31), ("新闻自由", 100), ("第7段 移民问题", 150))}
    enc = FakeEncoder(queries)
    by_id = ServedRetriever.open(uri, "served_runs", enc, config=CONFIG, depth=8, first_read=3)  # two reads
    by_search = ServedRetriever.open(uri, "served_runs", enc, config=CONFIG, depth=8)
    assert by_id.runs
    by_search.runs = False
    for q in queries:
        a, b = by_id.query(q, top_k=10), by_search.query(q, top_k=10)
        assert [h.passage for h in a.hits] == [h.passage for h in b.hits], q
        assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], abs=1e-5), q
        # a candidate whose units are all listed, or whose upper bound is below the 10th exact score, is not read
        assert by_id.timings["candidates_read"] <= by_search.timings["candidates_read"]
    assert 3 * 4 <= by_id.round_trips <= 3 * 5 and by_search.round_trips == 3 * 4
    deep = ServedRetriever.open(uri, "served_runs", enc, config=CONFIG, depth=600)  # every unit listed: no stage 2,
    deep.query("新闻自由", top_k=10)  # and the BM25 list, not full, gives the sample's BM25
    assert deep.round_trips == 2


def test_open_reads_no_records_and_fetch_reads_by_id(uri):
    _, _, built = build(uri, 12, "served_open")
    store = MilvusStore.open(uri, name="served_open")
    assert store.units == [] and store.count == built.count == 24
    assert store.manifest["served"] and [d["id"] for d in store.manifest["documents"]] == ["D0", "D1", "D2"]
    got = store.fetch([0, 2, 999])
    assert sorted(got) == [0, 2] and got[2]["record"]["kind"] == "paragraph"


def test_dense_and_bm25_find_the_paragraph_and_filters_run_in_milvus(uri):
    vecs, records, _ = build(uri, 24, "served_find")
    layout = served_records(records)
    keep, out = layout.keep, layout.records
    target = next(i for i, r in enumerate(out) if r["kind"] == "paragraph" and r["doc"] == "D1" and r["paragraph"] == 3)
    q = "酷刑预防 第3段"  # its word and its number: BM25 and the dense vector both point at D1 ¶3
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


@pytest.mark.parametrize("fusion, per_query", [("local", 4), ("rrf", 1)])
def test_round_trips_per_question_do_not_grow_with_the_collection(uri, fusion, per_query):
    """Local fusion: e5, BM25 and the sample's BM25 at once, then one read of the units the lists lack of the best
    candidates off the sample (skipped when the sample or the lists hold them all: in the smaller collection, a
    sample of 8 paragraphs of 12); lists of 4 units."""
    counts = []
    for n in (12, 96):
        build(uri, n, f"served_rt_{n}", sample_size=8)
        served = ServedRetriever.open(uri, f"served_rt_{n}", FakeEncoder({}), config=CONFIG, fusion=fusion, depth=4)
        trips = []
        for q in ("气候变化", "儿童保护 报告", "水资源"):
            before = served.round_trips
            served.search(q)
            trips.append(served.round_trips - before)
        counts.append(trips)
        hits = served.search("新闻自由")
        before = served.round_trips
        served.fetch(hits)
        assert served.round_trips - before == 1
    assert max(counts[0]) <= per_query and counts[1] == [per_query] * 3


def test_use_vectors_are_a_second_field_searched_in_the_same_collection(uri):
    vecs, records = collection(9)
    use = unit(np.random.default_rng(5).normal(size=(len(vecs), 8)))
    build_served(vecs, records, manifest={"model": "fake"}, uri=uri, name="served_use", use_vectors=use)
    store = MilvusStore.open(uri, name="served_use")
    assert store.manifest["extra_vectors"] == {"use": 8}
    keep = served_records(records).keep
    _, ids = store.search(use[keep[4]][None], 1, field="vector_use")
    assert ids[0, 0] == 4
    q = "水资源"
    served = ServedRetriever(store, FakeEncoder({}), use=FakeEncoder({q: use[keep[4]]}), config=FusionConfig(
        {g: Weights(e5=0.0, use=1.0, sentence=0.0) for g in ("zh", "en", "other")}))
    hits = served.search(q, top_k=3)
    assert hits[0].passage == 4 and served.round_trips == 3  # e5, USE, BM25 (not full: it gives the sample's)


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
    only_dense = fuse_lists(dense, lexical, {"e5": 1.0, "bm25": 0.0}, 0.5, 4).hits
    assert [h.paragraph for h in only_dense][:3] == [1, 2, 3]
    both = fuse_lists(dense, lexical, {"e5": 1.0, "bm25": 2.0}, 0.5, 4).hits
    assert both[0].paragraph == 3 and both[0].signals["bm25"] == 12.0
    assert {h.paragraph for h in both} == {1, 2, 3, 4}


# --- statistics as the local engine takes them --------------------------------------------------------

def exhaustive(served: ServedRetriever, vecs_by_id: np.ndarray, out: list[dict], q: str, enc) -> dict:
    """Every paragraph's fused score, computed here from every unit's vector and every paragraph's BM25, each signal
    standardized over the whole collection: what the served search must reproduce when its sample is every
    paragraph."""
    weights, w_sentence, texts = served.plan(q)
    qv = enc.encode_queries([q])[0]
    dense = {"e5": [{"distance": float(vecs_by_id[i] @ qv), "entity": {"passage": r["passage"], "doc": r["doc"],
                                                                        "paragraph": r["paragraph"], "kind": r["kind"]}}
                    for i, r in enumerate(out)]}
    names = [n for n in texts if n == "bm25" or weights.get(n, 0) > 0]
    lex = served.lexical.client.search(served.lexical.collection, data=[texts[n] for n in names], anns_field="sparse",
                                       limit=1000, output_fields=["doc", "paragraph", "passage"],
                                       search_params={"metric_type": "BM25"})
    res = fuse_lists(dense, dict(zip(names, lex, strict=True)), weights, w_sentence, 10_000, complete=True)
    return {h.passage: h.score for h in res.hits}


def test_with_every_paragraph_in_the_sample_shallow_lists_give_the_exhaustive_scores(uri):
    """Lists of 4 candidates only: their dense components come from the sample, their BM25 statistics from the list
    and the sample, so each hit's fused score (and the margin) is what exhaustive scoring gives."""
    vecs, records, _ = build(uri, 30, "served_exact")
    layout = served_records(records)
    keep, out = layout.keep, layout.records
    assert len(layout.sample) == 30 and layout.sample_units == len(out)
    rng = np.random.default_rng(3)
    q = "酷刑预防 报告 第4段"
    enc = FakeEncoder({q: unit(vecs[keep[7]] + 0.3 * rng.normal(size=DIM))})
    served = ServedRetriever.open(uri, "served_exact", enc, config=CONFIG, depth=4)
    res = served.query(q, top_k=5)
    ref = exhaustive(served, vecs[keep], out, q, enc)
    assert len(res.hits) == 5
    for h in res.hits:
        assert h.score == pytest.approx(ref[h.passage], abs=1e-5)
    best = res.hits[0].passage
    rest = np.array([v for p, v in ref.items() if p != best])
    assert res.confidence == pytest.approx((ref[best] - rest.mean()) / rest.std(), abs=1e-4)
    assert max(ref, key=ref.get) == best


def test_a_sample_smaller_than_the_collection_stands_for_it(uri):
    vecs, records, _ = build(uri, 60, "served_sampled", sample_size=12)
    layout = served_records(records, sample_size=12)
    store = MilvusStore.open(uri, name="served_sampled")
    assert store.manifest["sample"] == layout.sample.tolist() and len(layout.sample) == 12
    assert store.manifest["paragraphs"] == 60 and store.manifest["sample_units"] == 24
    out = layout.records
    assert {out[i]["passage"] for i in range(24)} == set(layout.sample.tolist())  # the sample's units come first
    q = "水资源"
    served = ServedRetriever(store, FakeEncoder({q: vecs[layout.keep[40]]}), config=CONFIG)
    assert len(served.sample.passages) == 12 and served.sample.vectors["e5"].shape == (24, DIM)
    assert served._sample_filter == "id < 12"  # the sample's paragraphs are the BM25 collection's first rows
    lex = served.lexical.client.query(served.lexical.collection, filter=served._sample_filter, output_fields=["passage"])
    assert sorted(int(r["passage"]) for r in lex) == layout.sample.tolist()
    res = served.query(q, top_k=3)
    assert res.hits[0].passage == out[40]["passage"] and res.confidence is not None
    # the BM25 list is not full: the sample's BM25 comes from it, one request fewer, the same scores
    eager = ServedRetriever(store, FakeEncoder({q: vecs[layout.keep[40]]}), config=CONFIG)
    eager.sample_when_needed = False
    before = served.round_trips
    a, b = served.query(q, top_k=10), eager.query(q, top_k=10)
    assert [h.passage for h in a.hits] == [h.passage for h in b.hits]
    assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], abs=1e-6)
    assert a.confidence == pytest.approx(b.confidence, abs=1e-6)
    assert served.round_trips - before == eager.round_trips - 1


def test_lexical_moments_are_exact_when_the_list_holds_every_match():
    from qa.retrieval.served import Sample, _lexical_moments

    sample = Sample(np.array([0, 5]), np.zeros(0, np.int64), np.zeros(0, np.int64), {}, paragraphs=10)
    listed = {1: 3.0, 2: 1.0}
    x = np.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0])
    assert _lexical_moments(listed, np.array([3.0, 1.0]), np.zeros(2), sample, 600, False) == pytest.approx(
        (x.mean(), x.std()))
    # a full list (depth 2): the sample's paragraphs off the list stand for the other 8
    got = _lexical_moments(listed, np.array([3.0, 1.0]), np.array([0.5, 0.0]), sample, 2, False)
    rest = np.array([0.5, 0.0] * 4)
    y = np.r_[3.0, 1.0, rest]
    assert got == pytest.approx((y.mean(), y.std()))
    # a signal the sample never sees under a filter: the union's moments
    assert _lexical_moments(listed, np.array([3.0, 1.0]), np.zeros(2), sample, 600, True) == pytest.approx((2.0, 1.0))


def test_milvus_bm25_scores_the_engine_tokens_as_lexical_index_does(uri):
    """The paragraphs' BM25 collection ranks as the local engine's bm25s index: same tokens, k1, b and IDF (Milvus
    multiplies every score by k1 + 1)."""
    from qa.retrieval.lexical import LexicalIndex
    from qa.types import Corpus, Document, Footnote, Paragraph

    texts = ["乍得废除了死刑。", "人权理事会第 43/1 号决议（A/HRC/43/3）。", "COVID-19 疫情期间的儿童保护与死刑问题。",
             "The Office monitored elections in Chad.", "妇女权利和儿童保护。", "没有关键词的段落。"]
    doc = Document("R", "Report", "zh", [Paragraph(i + 1, t, section=["A", "一、人权"]) for i, t in enumerate(texts)],
                   [Footnote(1, "关于死刑的脚注", paragraph=2)])
    doc.paragraphs[1].footnotes = [1]
    corpus = Corpus([doc])
    records = [{"doc": "R", "paragraph": p.n, "kind": "paragraph", "text": p.text, "lang": "zh"} for p in doc.paragraphs]
    vecs = unit(np.random.default_rng(0).normal(size=(len(records), DIM)))
    build_served(vecs, records, manifest={"model": "fake"}, uri=uri, name="served_bm25", corpus=corpus)
    served = ServedRetriever.open(uri, "served_bm25", FakeEncoder({}), config=CONFIG)
    local = LexicalIndex.build(corpus)
    for q in ("死刑", "儿童保护 COVID-19", "决议 43/1", "elections Chad office"):
        expect = local.scores(tokenize(q))
        _, text = served.plan(q)[0], served.plan(q)[2]["bm25"]
        hits = served.lexical.client.search(served.lexical.collection, data=[text], anns_field="sparse", limit=10,
                                            output_fields=["paragraph"], search_params={"metric_type": "BM25"})[0]
        got = np.zeros(len(texts))
        for h in hits:
            got[int(h["entity"]["paragraph"]) - 1] = abs(h["distance"])
        assert expect.max() > 0, q
        assert got == pytest.approx(2.5 * expect, rel=1e-4), q
