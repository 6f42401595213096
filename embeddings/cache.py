"""Embeddings re-used by content hash, so adding a document embeds only its new text.

One SQLite file per cache directory: key = sha256(model fingerprint, role, text). SQLite gives
atomic writes and safe concurrent readers for free. A read-only or broken location falls back
to memory with a clear message instead of failing the index build.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger("report_qa")


def content_key(fingerprint: str, role: str, text: str) -> str:
    return hashlib.sha256(f"{fingerprint}\x1f{role}\x1f{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path | None):
        self.path = path
        self.memory: dict[str, bytes] = {}
        self.db: sqlite3.Connection | None = None
        self.hits = self.misses = 0
        if path is None:
            return
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
            self.db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
            self.db.commit()
        except (OSError, sqlite3.Error) as exc:
            log.warning("embedding cache %s unusable (%s); keeping embeddings in memory", path, exc)
            self.db = None

    def _get(self, keys: list[str]) -> dict[str, bytes]:
        found = {k: self.memory[k] for k in keys if k in self.memory}
        if self.db is not None:
            rest = [k for k in keys if k not in found]
            try:
                for i in range(0, len(rest), 500):
                    part = rest[i:i + 500]
                    marks = ",".join("?" * len(part))
                    q = f"SELECT key, vec FROM emb WHERE key IN ({marks})"
                    found.update(dict(self.db.execute(q, part).fetchall()))
            except sqlite3.Error as exc:
                log.warning("embedding cache read failed (%s); re-embedding", exc)
        return found

    def _put(self, rows: list[tuple[str, int, bytes]]) -> None:
        for k, _, v in rows:
            self.memory[k] = v
        if self.db is None:
            return
        try:
            self.db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)", rows)
            self.db.commit()
        except sqlite3.Error as exc:
            log.warning("embedding cache %s not writable (%s); keeping embeddings in memory", self.path, exc)
            self.db = None

    def embed(self, texts: list[str], *, fingerprint: str, role: str, dim: int,
              encode: Callable[[list[str]], np.ndarray], progress: Callable[[int, int], None] | None = None,
              batch: int = 256) -> np.ndarray:
        """Vectors for `texts`, computing only the ones the cache lacks, each distinct text once. Missing texts go
        to `encode` shortest first, `batch` at a time, so every batch holds texts of similar length (little
        padding) while progress still moves and finished batches are saved."""
        keys = [content_key(fingerprint, role, t) for t in texts]
        found = self._get(list(dict.fromkeys(keys)))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        where: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            if k in found:
                out[i] = np.frombuffer(found[k], dtype=np.float32, count=dim)
            else:
                where.setdefault(k, []).append(i)
        todo = sorted(where, key=lambda k: len(texts[where[k][0]]))  # distinct missing texts, shortest first
        n_todo = sum(len(v) for v in where.values())
        self.hits += len(texts) - n_todo  # texts whose vector was stored before
        self.misses += len(todo)  # distinct texts embedded now
        done = len(texts) - n_todo
        if progress:
            progress(done, len(texts))
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            vecs = np.asarray(encode([texts[where[k][0]] for k in chunk]), dtype=np.float32)
            for j, k in enumerate(chunk):
                out[where[k]] = vecs[j]
                done += len(where[k])
            self._put([(k, dim, vecs[j].tobytes()) for j, k in enumerate(chunk)])
            if progress:
                progress(done, len(texts))
        return out
