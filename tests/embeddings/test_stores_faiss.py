"""FAISS store logic with a fake encoder: manifest, atomic saves, mismatch and corruption detection."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from embeddings.stores import IndexCorrupt, IndexMismatch, IndexMissing
from embeddings.stores.faiss import VectorStore


def vectors(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def units(n: int) -> list[dict]:
    return [{"doc": "doc", "paragraph": i + 1, "kind": "paragraph", "text": f"t{i}"} for i in range(n)]


MANIFEST = {"model": "fake", "model_fingerprint": "abc", "corpus_sha256": "c1", "unit_type": "paragraph/v1"}


def test_roundtrip_and_manifest(tmp_path):
    v = vectors(50)
    store = VectorStore.build(v, units(50), manifest=MANIFEST)
    store.save(tmp_path)
    m = json.loads((tmp_path / "manifest.json").read_text())
    for key in ("model", "model_fingerprint", "corpus_sha256", "unit_type", "dimension", "created", "libraries", "files"):
        assert key in m
    assert m["index_type"] == "flat" and m["dimension"] == 16
    loaded = VectorStore.load(tmp_path, expect=MANIFEST)
    s1, i1 = store.search(v[:3], 5)
    s2, i2 = loaded.search(v[:3], 5)
    assert (i1 == i2).all() and np.allclose(s1, s2)
    assert i1[0, 0] == 0 and loaded.units[7] == units(50)[7]


@pytest.mark.parametrize("key, value", [("model", "other-model"), ("corpus_sha256", "changed"), ("unit_type", "x")])
def test_mismatch_is_detected(tmp_path, key, value):
    VectorStore.build(vectors(10), units(10), manifest=MANIFEST).save(tmp_path)
    with pytest.raises(IndexMismatch, match=key):
        VectorStore.load(tmp_path, expect={**MANIFEST, key: value})


def test_missing_index(tmp_path):
    with pytest.raises(IndexMissing):
        VectorStore.load(tmp_path / "nothing", expect=MANIFEST)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_corruption_is_detected(tmp_path, damage):
    VectorStore.build(vectors(30), units(30), manifest=MANIFEST).save(tmp_path)
    m = json.loads((tmp_path / "manifest.json").read_text())
    index_file = tmp_path / m["files"]["index"]["name"]
    data = index_file.read_bytes()
    if damage == "truncate":
        index_file.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        index_file.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "delete":
        index_file.unlink()
    else:
        (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        VectorStore.load(tmp_path, expect=MANIFEST)


def kill_at_manifest_replace(monkeypatch):
    """From now on os.replace stops like a killed process when it would put a manifest in place; returns the real one."""
    real_replace = os.replace

    def crash(src, dst):
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt("killed while writing the manifest")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    return real_replace


def test_crash_during_save_keeps_previous_index(tmp_path, monkeypatch):
    old = VectorStore.build(vectors(20, seed=1), units(20), manifest=MANIFEST)
    old.save(tmp_path)
    new = VectorStore.build(vectors(25, seed=2), units(25), manifest=MANIFEST)
    real_replace = kill_at_manifest_replace(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        new.save(tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    loaded = VectorStore.load(tmp_path, expect=MANIFEST)
    assert len(loaded.units) == 20
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("kind", [None, "hnsw"])  # None: the default above the threshold (IVF)
def test_approximate_index_above_threshold_keeps_recall(tmp_path, kind):
    # embeddings are clustered by topic, not uniform on the sphere: 3,000 vectors around 150 topics
    v = np.repeat(vectors(150, d=32, seed=3), 20, axis=0) + vectors(3000, d=32, seed=8) * 0.3
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    exact = VectorStore.build(v, units(3000), manifest=MANIFEST)
    approx = VectorStore.build(v, units(3000), manifest=MANIFEST, approx_threshold=1000, index_type=kind)
    assert exact.kind == "flat" and approx.kind == (kind or "ivf")
    q = vectors(50, d=32, seed=4)
    _, ie = exact.search(q, 10)
    sa, ia = approx.search(q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ia, ie, strict=True)])
    assert recall >= 0.9
    assert np.allclose(sa, np.take_along_axis(q @ v.T, ia, axis=1), atol=1e-5)  # exact scores, not int8 codes
    approx.save(tmp_path)
    loaded = VectorStore.load(tmp_path, expect=MANIFEST)
    assert loaded.kind == (kind or "ivf") and np.array_equal(loaded.search(q, 10)[1], ia)


def test_the_default_approximate_index_finds_repeated_text():
    """Collections repeat sentences (boilerplate across reports): 60 texts, each stored 100 times with slightly
    different vectors. The default index must still find the exact top 200 of a query across the copies of
    several texts. (Where HNSW failed, 10⁶ units of real embeddings, is measured by bench/bench.py, not here.)"""
    rng = np.random.default_rng(5)
    base = vectors(60, d=32, seed=6)
    v = np.repeat(base, 100, axis=0) + rng.standard_normal((6000, 32)).astype(np.float32) * 0.01
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    store = VectorStore.build(v, units(6000), manifest=MANIFEST, approx_threshold=1000)
    q = base[:20] + vectors(20, d=32, seed=7) * 0.5
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = np.argsort(-(q @ v.T), axis=1)[:, :200]
    _, ids = store.search(q, 200)
    recall = np.mean([len(set(a) & set(e)) / 200 for a, e in zip(ids, exact, strict=True)])
    assert store.kind == "ivf" and recall >= 0.95


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_reconstruct_returns_the_stored_vectors(kind):
    v = vectors(40)
    store = VectorStore.build(v, units(40), manifest=MANIFEST, index_type=kind)
    ids = np.array([3, 0, 39, 7])
    assert np.allclose(store.reconstruct(ids), v[ids])
    assert store.reconstruct(np.array([], dtype=np.int64)).shape == (0, 16)
    q = vectors(1)[0]
    assert np.allclose(store.similarities(q, ids), v[ids] @ q, atol=1e-6)  # inside FAISS' storage, no copy
    assert store.similarities(q, np.array([], dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_a_loaded_store_reads_its_own_storage(tmp_path, kind):
    v = vectors(60)
    VectorStore.build(v, units(60), manifest=MANIFEST, index_type=kind).save(tmp_path)
    store = VectorStore.load(tmp_path, expect=MANIFEST)
    ids = np.array([59, 1, 30])
    assert store._flat() is not None  # the deserialized index's storage is found, not the slow per-id path
    assert np.allclose(store.reconstruct(ids), v[ids]) and np.allclose(store.similarities(v[1], ids), v[ids] @ v[1], atol=1e-6)
