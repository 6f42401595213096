"""Embeddings are re-used by content hash: adding text embeds only the new text."""

from __future__ import annotations

import numpy as np

from embeddings.cache import EmbeddingCache


class CountingEncoder:
    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_only_new_text_is_embedded(tmp_path):
    enc = CountingEncoder()
    cache = EmbeddingCache(tmp_path / "emb.sqlite3")
    a = cache.embed(["alpha", "beta"], fingerprint="m1", role="passage", dim=3, encode=enc)
    assert sorted(enc.seen) == ["alpha", "beta"]
    # A new process (new cache object) re-uses what was stored on disk.
    cache2 = EmbeddingCache(tmp_path / "emb.sqlite3")
    b = cache2.embed(["alpha", "beta", "gamma"], fingerprint="m1", role="passage", dim=3, encode=enc)
    assert sorted(enc.seen) == ["alpha", "beta", "gamma"]
    assert np.allclose(a, b[:2]) and b[2, 0] == 5
    assert (cache2.hits, cache2.misses) == (2, 1)


def test_each_distinct_text_is_embedded_once_shortest_first(tmp_path):
    enc = CountingEncoder()
    cache = EmbeddingCache(tmp_path / "emb.sqlite3")
    texts = ["a long sentence", "mid text", "a long sentence", "x", "mid text"]
    out = cache.embed(texts, fingerprint="m1", role="passage", dim=3, encode=enc, batch=2)
    assert enc.seen == ["x", "mid text", "a long sentence"]  # no repeats, by length, over two batches
    assert np.array_equal(out[0], out[2]) and np.array_equal(out[1], out[4]) and not np.array_equal(out[0], out[1])
    assert out[0, 0] == len("a long sentence") and (cache.hits, cache.misses) == (0, 3)


def test_model_and_role_are_part_of_the_key(tmp_path):
    enc = CountingEncoder()
    cache = EmbeddingCache(tmp_path / "emb.sqlite3")
    cache.embed(["x"], fingerprint="m1", role="passage", dim=3, encode=enc)
    cache.embed(["x"], fingerprint="m2", role="passage", dim=3, encode=enc)
    cache.embed(["x"], fingerprint="m1", role="query", dim=3, encode=enc)
    assert enc.seen == ["x", "x", "x"]


def test_unwritable_location_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = EmbeddingCache(blocker / "sub" / "emb.sqlite3")
    enc = CountingEncoder()
    out = cache.embed(["a", "a"], fingerprint="m", role="passage", dim=3, encode=enc)
    assert out.shape == (2, 3) and cache.db is None
