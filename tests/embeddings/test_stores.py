"""The store contract on both backends: FAISS files and Milvus (against a real Milvus Lite, in-process).

Same tests for each: save/load round trip, manifest, mismatch, missing, corruption, crash mid-write,
filters by document / language / kind, and search results equal to an exact inner-product scan.
Then Milvus-only parts: HNSW recall, BM25 with the jieba analyzer, copying a FAISS store, and
`open_index` end to end with a fake encoder.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from embeddings.stores import IndexCorrupt, IndexMismatch, IndexMissing, Store, StoreUnavailable, filter_ids, open_store  # noqa: E402
from embeddings.stores.faiss import VectorStore  # noqa: E402
from embeddings.stores.milvus import MilvusStore, collection_name, filter_expression  # noqa: E402

MANIFEST = {"model": "fake/model-a", "model_fingerprint": "abc", "corpus_sha256": "c1" * 32, "unit_type": "paragraph/v1"}
DOCS = ("A/HRC/1", "A/HRC/2", "E/CN.4/3")
LANGS = ("zh", "en", "fr")
KINDS = ("paragraph", "sentence", "footnote")


def vectors(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def units(n: int) -> list[dict]:
    out = []
    for i in range(n):
        u = {"doc": DOCS[i % 3], "paragraph": i + 1, "kind": KINDS[(i // 3) % 3], "text": f"第{i}段 人权", "span": None}
        if i % 7:  # some records carry no lang: they match no lang filter
            u["lang"] = LANGS[(i // 2) % 3]
        out.append(u)
    return out


def exact(v: np.ndarray, q: np.ndarray, k: int, keep: np.ndarray | None = None):
    """Reference: exhaustive inner product (optionally over the kept ids), -1 / float32 min padding."""
    keep = np.arange(len(v)) if keep is None else keep
    s = q @ v[keep].T
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    scores = np.full((len(q), k), np.finfo(np.float32).min, np.float32)
    ids = np.full((len(q), k), -1, np.int64)
    scores[:, :order.shape[1]] = np.take_along_axis(s, order, axis=1)
    ids[:, :order.shape[1]] = keep[order]
    return scores, ids


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory) -> str:
    """One Milvus Lite database for the module (each test uses its own collections in it)."""
    return str(tmp_path_factory.mktemp("milvus") / "store.db")


@pytest.fixture(params=["faiss", "milvus"])
def backend(request, tmp_path, lite_uri):
    """(location, key): `location.build(..., key=key)` writes the store, `location.load(key, ...)` reads it."""
    if request.param == "faiss":
        return open_store(None), tmp_path / "index"
    return open_store(lite_uri), f"t_{uuid.uuid4().hex[:12]}"


# --- the shared contract -------------------------------------------------------------------------

def test_roundtrip_and_manifest(backend):
    location, key = backend
    v, u = vectors(60), units(60)
    built = location.build(v, u, manifest=MANIFEST, key=key)
    loaded = location.load(key, expect=MANIFEST)
    assert isinstance(built, Store) and isinstance(loaded, Store)
    for k in ("model", "model_fingerprint", "corpus_sha256", "unit_type", "dimension", "count", "index_type",
              "created", "libraries"):
        assert k in loaded.manifest, k
    assert loaded.manifest["dimension"] == 16 and loaded.manifest["count"] == 60 and loaded.kind == "flat"
    assert loaded.units == u
    s1, i1 = built.search(v[:3], 5)
    s2, i2 = loaded.search(v[:3], 5)
    assert (i1 == i2).all() and np.allclose(s1, s2)
    assert list(i1[:, 0]) == [0, 1, 2]
    assert np.allclose(loaded.vectors(), v)


def test_search_equals_exact_inner_product(backend):
    location, key = backend
    v, q = vectors(300, d=24, seed=1), vectors(8, d=24, seed=2)
    store = location.build(v, units(300), manifest=MANIFEST, key=key)
    for k in (1, 10, 50):
        scores, ids = store.search(q, k)
        ref_s, ref_i = exact(v, q, k)
        assert (ids == ref_i).all() and np.allclose(scores, ref_s, atol=1e-5)
    scores, ids = store.search(q[0], 1000)  # k above the count: clipped to it, like FAISS
    assert ids.shape == (1, 300) and (ids >= 0).all()


@pytest.mark.parametrize("flt", [
    {"doc": ["A/HRC/2"]},
    {"doc": "E/CN.4/3", "lang": ["en"]},
    {"lang": ["zh", "fr"], "kind": ["sentence"]},
    {"doc": ["A/HRC/1", "A/HRC/2"], "kind": "footnote"},
    {"lang": ["xx"]},
])
def test_filters_by_document_language_and_kind(backend, flt):
    location, key = backend
    v, u, q = vectors(240, seed=3), units(240), vectors(4, seed=4)
    store = location.build(v, u, manifest=MANIFEST, key=key)
    keep = filter_ids(u, flt)
    scores, ids = store.search(q, 10, filter=flt)
    ref_s, ref_i = exact(v, q, 10, keep)
    assert (ids == ref_i).all() and np.allclose(scores, ref_s, atol=1e-5)
    for row in ids:
        for i in row[row >= 0]:
            rec = u[i]
            assert all(str(rec.get(f)) in ([w] if isinstance(w, str) else w) for f, w in flt.items())


def test_filter_rejects_unknown_fields(backend):
    location, key = backend
    store = location.build(vectors(20), units(20), manifest=MANIFEST, key=key)
    with pytest.raises(ValueError, match="paragraph"):
        store.search(vectors(1), 3, filter={"paragraph": [1]})


@pytest.mark.parametrize("field, value", [("model", "other-model"), ("corpus_sha256", "changed"), ("unit_type", "x"),
                                          ("model_fingerprint", "new-weights")])
def test_mismatch_is_detected(backend, field, value):
    location, key = backend
    location.build(vectors(10), units(10), manifest=MANIFEST, key=key)
    with pytest.raises(IndexMismatch, match=field):
        location.load(key, expect={**MANIFEST, field: value})


def test_missing_index(backend):
    location, key = backend
    with pytest.raises(IndexMissing):
        location.load(key, expect=MANIFEST)


def _damage_faiss(directory, how):
    m = json.loads((directory / "manifest.json").read_text())
    target = directory / m["files"]["units" if how == "record" else "index"]["name"]
    data = target.read_bytes()
    if how == "manifest":
        (directory / "manifest.json").write_text("{not json")
    elif how == "delete":
        target.write_bytes(data[: len(data) // 2])
    else:  # a changed record or vector: same size, different bytes
        target.write_bytes(data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:])


def _damage_milvus(store: MilvusStore, how):
    c, col = store.client, store.collection
    row = {"id": 5, "vector": store.vectors()[5], "doc": store.units[5]["doc"], "kind": store.units[5]["kind"],
           "lang": store.units[5].get("lang") or "", "record": store.units[5]}
    if how == "manifest":
        c.alter_collection_properties(col, properties={"report_qa.manifest": "{not json"})
    elif how == "no-manifest":
        c.drop_collection_properties(col, property_keys=["report_qa.manifest"])
    elif how == "delete":
        c.delete(col, ids=[7])
    elif how == "record":
        c.upsert(col, [{**row, "record": {**row["record"], "paragraph": 999}}])
    elif how == "vector":
        c.upsert(col, [{**row, "vector": -row["vector"]}])
    elif how == "extra":
        c.insert(col, [{**row, "id": 10_000}])


@pytest.mark.parametrize("how", ["manifest", "no-manifest", "delete", "record", "vector", "extra"])
def test_corruption_is_detected(backend, how):
    location, key = backend
    store = location.build(vectors(30), units(30), manifest=MANIFEST, key=key)
    if location.backend == "faiss":
        if how in ("no-manifest", "extra"):
            pytest.skip("a Milvus-only kind of damage")
        _damage_faiss(key, how)
    else:
        _damage_milvus(store, how)
    with pytest.raises(IndexCorrupt):
        location.load(key, expect=MANIFEST)


def test_build_then_save_at_its_key(backend, tmp_path):
    """What `open_index` does on either backend: the key for a manifest, a build, a save there, a load from there."""
    location, _ = backend
    key = location.key_for(MANIFEST, tmp_path / "folder")
    store = location.build(vectors(12), units(12), manifest=MANIFEST)
    location.save(store, key)  # FAISS writes its folder; Milvus wrote the collection while building
    assert location.address(key).endswith(str(key))
    loaded = location.load(key, expect=MANIFEST)
    assert loaded.units == units(12) and np.allclose(loaded.vectors(), vectors(12))


def test_crash_during_build_keeps_previous_index(backend, monkeypatch):
    location, key = backend
    location.build(vectors(20, seed=1), units(20), manifest=MANIFEST, key=key)
    if location.backend == "faiss":
        from tests.embeddings.test_stores_faiss import kill_at_manifest_replace

        kill_at_manifest_replace(monkeypatch)
    else:
        from pymilvus import MilvusClient

        def crash(self, *a, **kw):
            raise KeyboardInterrupt("killed before the alias switch")

        monkeypatch.setattr(MilvusClient, "alter_alias", crash)
        # A killed process cleans nothing up: the half-built collection stays behind.
        monkeypatch.setattr(MilvusStore, "_drop_quietly", staticmethod(lambda *a: None))
    with pytest.raises(KeyboardInterrupt):
        location.build(vectors(25, seed=2), units(25), manifest=MANIFEST, key=key)
    monkeypatch.undo()
    loaded = location.load(key, expect=MANIFEST)
    assert len(loaded.units) == 20 and np.allclose(loaded.vectors(), vectors(20, seed=1))
    if location.backend == "milvus":
        client = loaded.client
        assert len([c for c in client.list_collections() if c.startswith(key)]) == 2  # the orphan is there
        location.build(vectors(25, seed=2), units(25), manifest=MANIFEST, key=key)
        location.build(vectors(26, seed=3), units(26), manifest=MANIFEST, key=key)
        left = [c for c in client.list_collections() if c.startswith(key)]
        assert len(left) == 2  # the current generation and the one before; the orphan is gone
        assert len(location.load(key, expect=MANIFEST).units) == 26


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_faiss_approximate_filters(monkeypatch, kind):
    import embeddings.stores.faiss as st

    v = np.repeat(vectors(100, d=32, seed=9), 20, axis=0) + vectors(2000, d=32, seed=11) * 0.3  # topics, as embeddings
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    u, q = units(2000), vectors(20, d=32, seed=10)
    store = VectorStore.build(v, u, manifest=MANIFEST, approx_threshold=500, index_type=None if kind == "ivf" else kind)
    assert store.kind == kind
    flt = {"doc": ["A/HRC/1"], "lang": ["en"]}
    keep = filter_ids(u, flt)
    scores, ids = store.search(q, 10, filter=flt)  # few kept units: an exact scan of them
    ref_s, ref_i = exact(v, q, 10, keep)
    assert (ids == ref_i).all() and np.allclose(scores, ref_s, atol=1e-5)
    monkeypatch.setattr(st, "APPROX_THRESHOLD", 100)  # many kept units: the index itself, with an ID selector
    _, ids = store.search(q, 10, filter=flt)
    assert set(ids.ravel()) <= set(keep)
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ids, ref_i, strict=True)]) >= 0.9


# --- Milvus-only ----------------------------------------------------------------------------------

def test_open_store_parses_uris(tmp_path):
    assert open_store(None).backend == open_store("faiss").backend == "faiss"
    loc = open_store("milvus://db.example.org:19531/reports")
    assert (loc.backend, loc.uri, loc.db_name) == ("milvus", "http://db.example.org:19531", "reports")
    assert open_store("milvuss://db.example.org").uri == "https://db.example.org:19530"
    assert open_store(str(tmp_path / "x.db")).uri == str(tmp_path / "x.db")
    for bad in ("milvus://", "ftp://x:1", str(tmp_path / "x.sqlite"), str(tmp_path / "nowhere" / "x.db")):
        with pytest.raises(StoreUnavailable):
            open_store(bad)


def test_unreachable_server_is_a_clear_error(monkeypatch):
    import embeddings.stores.milvus as ms

    monkeypatch.setattr(ms, "TIMEOUT_S", 1.0)
    with pytest.raises(StoreUnavailable, match="cannot connect"):
        MilvusStore.load("milvus://127.0.0.1:9", expect=MANIFEST)


def test_names_and_expressions():
    name = collection_name(MANIFEST)
    assert name.startswith("rq_fake_model_a_") and name.endswith("c1c1c1c1c1c1c1c1") and len(name) < 255
    assert collection_name({**MANIFEST, "model": "fake-model/a"}) != name
    assert filter_expression({"doc": ['a"b', "c"], "lang": "zh"}) == 'doc in ["a\\"b", "c"] and lang in ["zh"]'
    assert filter_expression(None) == filter_expression({}) == ""


def test_hnsw_keeps_recall_and_filters(lite_uri):
    v, q = vectors(2000, d=32, seed=5), vectors(40, d=32, seed=6)
    name = f"t_{uuid.uuid4().hex[:12]}"
    store = MilvusStore.build(v, units(2000), manifest=MANIFEST, uri=lite_uri, name=name, approx_threshold=500)
    assert store.kind == "hnsw" and store.manifest["index"]["type"] == "HNSW"
    _, ids = store.search(q, 10)
    _, ref = exact(v, q, 10)
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ids, ref, strict=True)]) >= 0.9
    _, ids = store.search(q, 10, filter={"doc": ["A/HRC/2"]})
    assert {units(2000)[i]["doc"] for i in ids.ravel() if i >= 0} == {"A/HRC/2"}
    assert MilvusStore.load(lite_uri, name=name, expect=MANIFEST, verify_vectors=True).kind == "hnsw"


def test_copy_of_a_faiss_store_searches_the_same(lite_uri):
    v, q = vectors(200, seed=7), vectors(5, seed=8)
    faiss_store = VectorStore.build(v, units(200), manifest=MANIFEST)
    copy = MilvusStore.from_store(faiss_store, lite_uri, name=f"t_{uuid.uuid4().hex[:12]}")
    s1, i1 = faiss_store.search(q, 20, filter={"lang": ["en"]})
    s2, i2 = copy.search(q, 20, filter={"lang": ["en"]})
    assert (i1 == i2).all() and np.allclose(s1, s2, atol=1e-5)
    assert copy.units == faiss_store.units and copy.manifest["model"] == MANIFEST["model"]


def test_milvus_location_copies_another_store_in(lite_uri):
    location, name = open_store(lite_uri), f"t_{uuid.uuid4().hex[:12]}"
    location.save(VectorStore.build(vectors(30), units(30), manifest=MANIFEST), name)
    loaded = location.load(name, expect=MANIFEST)
    assert loaded.units == units(30) and np.allclose(loaded.vectors(), vectors(30))


def test_milvus_bm25_with_the_jieba_analyzer(lite_uri):
    pytest.importorskip("jieba")
    texts = ["乍得废除了反恐立法规定的死刑", "墨西哥的人权状况有所改善", "人权高专办支持条约机构", "The Office kept 87 field presences"]
    recs = [{"doc": "d", "kind": "sentence", "text": t} for t in texts]
    store = MilvusStore.build(vectors(4), recs, manifest=MANIFEST, uri=lite_uri, name=f"t_{uuid.uuid4().hex[:12]}",
                              text_field="text")
    scores, ids = store.search_text(["死刑", "墨西哥 人权", "field presences"], 2)
    assert list(ids[:, 0]) == [0, 1, 3]
    assert (scores[:, 0] > 0).all() and (scores[:, 0] >= scores[:, 1]).all()
    with pytest.raises(ValueError, match="text_field"):
        MilvusStore.build(vectors(4), recs, manifest=MANIFEST, uri=lite_uri, name=f"t_{uuid.uuid4().hex[:12]}"
                          ).search_text("死刑", 2)


def test_open_index_end_to_end_on_milvus_lite(tmp_path, caplog):
    from qa.ingest.txt import parse
    from qa.retrieval.index import IndexHome, build_units, open_index
    from qa.types import Corpus
    from tests.retrieval.test_index import TEXT, FakeEncoder

    corpus = Corpus([parse(TEXT, doc_id="t")])
    uri = str(tmp_path / "e2e.db")
    enc = FakeEncoder()
    home = IndexHome.resolve(tmp_path / "home")
    store, report = open_index(corpus, enc, home=home, quiet=True, store_uri=uri)
    assert isinstance(store, MilvusStore) and report["loaded"] is False and report["path"].startswith(uri)
    assert len(store.units) == len(build_units(corpus)) and report["store"].startswith("milvus")
    store2, report2 = open_index(corpus, enc, home=home, quiet=True, store_uri=uri)
    assert report2["loaded"] is True and store2.units == store.units
    lang = corpus.documents[0].language
    assert {u["lang"] for u in store2.units} == {lang}
    q = enc.encode_queries(["field presences and peace missions"])
    scores, ids = store2.search(q, 3, filter={"doc": ["t"], "lang": [lang]})
    faiss_store, _ = open_index(corpus, enc, home=home, quiet=True)  # the same units in FAISS
    s_ref, i_ref = faiss_store.search(q, 3, filter={"doc": ["t"], "lang": [lang]})
    assert np.allclose(scores, s_ref, atol=1e-5) and (ids >= 0).all()
    assert (store2.search(q, 3, filter={"doc": ["other"]})[1] == -1).all()
    other = FakeEncoder()
    other.fingerprint = "fp-new-weights"
    _, report3 = open_index(corpus, other, home=home, quiet=True, store_uri=uri)
    assert report3["loaded"] is False and "model_fingerprint" in report3["rebuilt_because"]
