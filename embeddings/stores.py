"""The vector-store interface and its two backends: FAISS (embedded, the default) and Milvus.

Both keep one opaque JSON-able record (a dict) per vector, search by inner product on
L2-normalized float32 vectors, return `(scores[nq, k], ids[nq, k])` with ids indexing `.units`
(-1 = no hit), carry a manifest, and refuse a saved index that was built for something else
(`IndexMismatch`) or fails its checksums (`IndexCorrupt`), or is not there (`IndexMissing`).

`open_store(uri)` picks the backend from a URI:

- `None`, `""` or `"faiss"`: FAISS files under the cache home (today's behaviour);
- `milvus://HOST:PORT` (or `http://`, `https://`, `tcp://`): a Milvus Standalone / Distributed server;
  `milvuss://` is `https://`; a path after the port names the Milvus database;
- a path ending in `.db`: Milvus Lite in that local folder (in-process, no server).

Filters: `search(..., filter={"doc": [...], "lang": [...], "kind": [...]})` keeps only units whose record
has one of the listed values for every listed field (a record without the field matches nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlparse

import numpy as np

from embeddings.store import IndexCorrupt, IndexMismatch, IndexMissing, IndexProblem, VectorStore

if TYPE_CHECKING:
    from embeddings.milvus_store import MilvusStore

__all__ = [
    "FILTER_FIELDS", "Store", "StoreLocation", "StoreUnavailable", "IndexProblem", "IndexMissing",
    "IndexMismatch", "IndexCorrupt", "open_store", "normalize_filter", "filter_ids",
]

# The record fields a filter may name; the Milvus backend copies them into scalar columns.
FILTER_FIELDS = ("doc", "kind", "lang")


class StoreUnavailable(Exception):
    """The store named by `--store` cannot be used here (bad URI, library missing, server unreachable)."""


@runtime_checkable
class Store(Protocol):
    """A vector store: FAISS `VectorStore` (embeddings/store.py) or `MilvusStore` (embeddings/milvus_store.py).

    `units[i]` is the record of vector i; `manifest` says what it was built from; `kind` is the index
    ("flat", "hnsw", …); `search` returns (scores[nq, k], ids[nq, k]) by inner product, ids into `units`,
    -1 past the last hit; `vectors()` gives them back in id order; `save()` persists (FAISS: to a folder;
    Milvus: already written while building, or copied to another URI). Both classes also have
    `build(vectors, units, *, manifest, index_type=None, ...)` and `load(..., expect=...)` class methods with
    backend-specific locations; `StoreLocation.build` / `.load` (from `open_store`) call them uniformly.
    """

    units: list[dict]
    manifest: dict

    @property
    def kind(self) -> str: ...

    def search(self, queries: np.ndarray, k: int, *, filter: dict | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def vectors(self) -> np.ndarray: ...

    def save(self, *args: Any, **kwargs: Any) -> Any: ...


# --- filters ------------------------------------------------------------------------------------

def normalize_filter(filter: dict | None) -> dict[str, list[str]] | None:
    """`{"doc": "a"}` / `{"doc": ["a", "b"], "lang": ("zh",)}` → `{"doc": [...], ...}`; None when it filters nothing."""
    if not filter:
        return None
    out: dict[str, list[str]] = {}
    for key, values in filter.items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"cannot filter on {key!r}; filterable fields: {', '.join(FILTER_FIELDS)}")
        if values is None:
            continue
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            values = [values]
        out[key] = sorted({str(v) for v in values})
    return out or None


def _column(record: dict, key: str) -> str:
    v = record.get(key) if isinstance(record, dict) else None
    return "" if v is None else str(v)


def filter_ids(units: list[dict], filter: dict | None, *, cache: dict | None = None) -> np.ndarray | None:
    """Ids of the units a filter keeps (int64, ascending), or None when the filter keeps everything.

    `cache` (a dict the caller owns) keeps each field's column between calls.
    """
    flt = normalize_filter(filter)
    if flt is None:
        return None
    mask = np.ones(len(units), dtype=bool)
    for key, values in flt.items():
        col = cache.get(key) if cache is not None else None
        if col is None:
            col = np.array([_column(u, key) for u in units], dtype=object)
            if cache is not None:
                cache[key] = col
        mask &= np.isin(col, np.array(values, dtype=object))
    return np.flatnonzero(mask).astype(np.int64)


# --- selecting a backend -------------------------------------------------------------------------

@dataclass(frozen=True)
class StoreLocation:
    """Where stores live: `backend` is "faiss" or "milvus"; `uri` is what the backend connects to."""

    backend: str
    uri: str | None = None
    db_name: str = ""

    @property
    def label(self) -> str:
        return "faiss" if self.backend == "faiss" else f"milvus {self.uri}" + (f" db {self.db_name}" if self.db_name else "")

    def load(self, key: str | Path, *, expect: dict | None = None) -> VectorStore | MilvusStore:
        """FAISS: `key` is the index folder. Milvus: `key` is the collection (alias) name."""
        if self.backend == "faiss":
            return VectorStore.load(Path(key), expect=expect)
        from embeddings.milvus_store import MilvusStore

        return MilvusStore.load(self.uri, name=str(key), expect=expect, db_name=self.db_name)

    def build(self, vectors: np.ndarray, units: list[dict], *, manifest: dict, key: str | Path | None = None,
              **options: Any) -> VectorStore | MilvusStore:
        """Build a store; Milvus writes it as it builds (FAISS is saved by `.save(folder)` afterwards)."""
        if self.backend == "faiss":
            store = VectorStore.build(vectors, units, manifest=manifest, **options)
            if key is not None:
                store.save(Path(key))
            return store
        from embeddings.milvus_store import MilvusStore

        return MilvusStore.build(vectors, units, manifest=manifest, uri=self.uri,
                                 name=str(key) if key is not None else None, db_name=self.db_name, **options)


def open_store(uri: str | Path | None) -> StoreLocation:
    """The backend a `--store` value names (see the module docstring). Raises StoreUnavailable for a bad value."""
    if uri is None:
        return StoreLocation("faiss")
    text = str(uri).strip()
    if text in ("", "faiss", "faiss://"):
        return StoreLocation("faiss")
    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    if scheme in ("milvus", "milvuss", "http", "https", "tcp", "grpc"):
        if not parsed.hostname:
            raise StoreUnavailable(f"--store {text}: give a host, e.g. milvus://localhost:19530")
        try:
            port = parsed.port or 19530
        except ValueError:
            raise StoreUnavailable(f"--store {text}: the port is not a number") from None
        http = "https" if scheme in ("milvuss", "https") else "http"
        db_name = parsed.path.strip("/")
        _require_pymilvus(text)
        return StoreLocation("milvus", f"{http}://{parsed.hostname}:{port}", db_name)
    if len(scheme) > 1 and "://" in text:
        raise StoreUnavailable(f"--store {text}: unknown scheme {scheme!r}; use milvus://HOST:PORT, "
                               "a Milvus Lite file path ending in .db, or faiss")
    path = Path(text).expanduser()
    if path.suffix != ".db":
        raise StoreUnavailable(f"--store {text}: a Milvus Lite store is a path ending in .db "
                               "(or use milvus://HOST:PORT, or faiss for the default)")
    if not path.parent.is_dir():
        raise StoreUnavailable(f"--store {text}: folder {path.parent} does not exist")
    _require_pymilvus(text, lite=True)
    return StoreLocation("milvus", str(path.resolve()))


def _require_pymilvus(text: str, *, lite: bool = False) -> None:
    import importlib.util

    missing = [m for m in (("pymilvus", "milvus_lite") if lite else ("pymilvus",)) if importlib.util.find_spec(m) is None]
    if missing:
        raise StoreUnavailable(f"--store {text} needs {' and '.join(m.replace('_', '-') for m in missing)}: "
                               "pip install 'report-qa[milvus]' (or pip install pymilvus milvus-lite)")
