"""The vector-store interface both backends implement, and what they share.

A store keeps one opaque JSON-able record (a dict) per vector, searches by inner product on L2-normalized
float32 vectors, returns `(scores[nq, k], ids[nq, k])` with ids indexing `.units` (-1 and `NO_SCORE` past the
last hit), carries a manifest, and refuses a saved index that was built for something else (`IndexMismatch`),
fails its checksums (`IndexCorrupt`) or is not there (`IndexMissing`).

Here: the `Store` and `StoreLocation` protocols, the index-error family, the filters every backend applies,
the manifest check, and the constants both backends use (when an index turns approximate, the HNSW
parameters). The backends are `faiss.py` and `milvus.py`; `open_store` (in `__init__`) picks one.

Filters: `search(..., filter={"doc": [...], "lang": [...], "kind": [...]})` keeps only units whose record
has one of the listed values for every listed field (a record without the field matches nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "APPROX_THRESHOLD", "FILTER_FIELDS", "HNSW_EF_CONSTRUCTION", "HNSW_EF_SEARCH", "HNSW_M", "NO_SCORE",
    "IndexCorrupt", "IndexMismatch", "IndexMissing", "IndexProblem", "Store", "StoreLocation", "StoreUnavailable",
    "abbreviate", "check_manifest", "filter_ids", "normalize_filter",
]

APPROX_THRESHOLD = 50_000  # above this many vectors a store builds an approximate index by default
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512
NO_SCORE = np.finfo(np.float32).min  # the score of a missing hit (what FAISS reports)
FILTER_FIELDS = ("doc", "kind", "lang")  # the record fields a filter may name (Milvus keeps them as scalar columns)


# --- errors --------------------------------------------------------------------------------------

class IndexProblem(Exception):
    """The saved index cannot be used as it is; `reason` says why (it gets rebuilt)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class IndexMissing(IndexProblem):
    pass


class IndexMismatch(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class StoreUnavailable(Exception):
    """The store named by `--store` cannot be used here (bad URI, library missing, server unreachable)."""


# --- the interface -------------------------------------------------------------------------------

@runtime_checkable
class Store(Protocol):
    """A vector store: FAISS `VectorStore` (faiss.py) or `MilvusStore` (milvus.py).

    `units[i]` is the record of vector i; `manifest` says what it was built from; `kind` is the index
    ("flat", "ivf", "hnsw", …); `search` returns (scores[nq, k], ids[nq, k]) by inner product, ids into
    `units`, -1 past the last hit; `vectors()` gives them back in id order; `save()` persists (FAISS: to a
    folder; Milvus: already written while building, or copied to another URI). Both classes also have
    `build(vectors, units, *, manifest, index_type=None, ...)` and `load(..., expect=...)` class methods with
    backend-specific locations; a `StoreLocation` (from `open_store`) calls them uniformly.
    """

    units: list[dict]
    manifest: dict

    @property
    def kind(self) -> str: ...

    def search(self, queries: np.ndarray, k: int, *, filter: dict | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def vectors(self) -> np.ndarray: ...

    def save(self, *args: Any, **kwargs: Any) -> Any: ...


class StoreLocation(Protocol):
    """Where stores live (a `--store` value, parsed by `open_store`), and how one is found, read and written there.

    A store is named by a key: FAISS a folder, Milvus a collection (alias) name. `key_for(manifest, folder)`
    is the key of the store built for `manifest` (`folder`: where FAISS files for it go, None where nothing
    can be written); `address(key)` is that store as a report names it; `load(key, expect=...)` reads and
    verifies it; `build(..., key=...)` builds one and writes it at `key` (without a key, FAISS keeps it in
    memory and Milvus names it `key_for(manifest)`); `save(store, key)` writes a built store at `key`
    (nothing to do where it is already there).
    """

    backend: ClassVar[str]  # "faiss" or "milvus"

    @property
    def label(self) -> str: ...

    def key_for(self, manifest: dict, folder: Path | None = None) -> str | Path | None: ...

    def address(self, key: str | Path | None) -> str | None: ...

    def load(self, key: str | Path, *, expect: dict | None = None) -> Store: ...

    def build(self, vectors: np.ndarray, units: list[dict], *, manifest: dict, key: str | Path | None = None,
              **options: Any) -> Store: ...

    def save(self, store: Store, key: str | Path) -> None: ...


# --- filters -------------------------------------------------------------------------------------

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


# --- manifests -----------------------------------------------------------------------------------

def check_manifest(manifest: dict, fmt: str, expect: dict | None = None) -> None:
    """Raise IndexMismatch unless the manifest is of format `fmt` and has every `expect` key with that value."""
    if manifest.get("format") != fmt:
        raise IndexMismatch(f"index format {manifest.get('format')!r}, expected {fmt!r}")
    for key, want in (expect or {}).items():
        have = manifest.get(key)
        if have != want:
            raise IndexMismatch(f"index built with {key}={abbreviate(have)}, now {key}={abbreviate(want)}")


def abbreviate(v: Any) -> str:
    """`str(v)`, cut to 40 characters for a message."""
    s = str(v)
    return s if len(s) <= 40 else s[:37] + "..."
