"""Vector stores: the interface (base.py) and its two backends, FAISS files (faiss.py, the default) and Milvus (milvus.py).

`open_store(uri)` picks the backend from a `--store` value and returns its `StoreLocation`:

- `None`, `""` or `"faiss"`: FAISS files under the cache home;
- `milvus://HOST:PORT` (or `http://`, `https://`, `tcp://`, `grpc://`): a Milvus Standalone / Distributed server;
  `milvuss://` is `https://`; a path after the port names the Milvus database;
- a path ending in `.db`: Milvus Lite in that local folder (in-process, no server).

The interface (`Store`, `StoreLocation`, the index errors, the filters) is importable from here too.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from embeddings.stores.base import (
    FILTER_FIELDS,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexProblem,
    Store,
    StoreLocation,
    StoreUnavailable,
    filter_ids,
    normalize_filter,
)
from embeddings.stores.faiss import FaissLocation
from embeddings.stores.milvus import SERVER_SCHEMES, lite_location, server_location

__all__ = [
    "FILTER_FIELDS", "Store", "StoreLocation", "StoreUnavailable", "IndexProblem", "IndexMissing",
    "IndexMismatch", "IndexCorrupt", "open_store", "normalize_filter", "filter_ids",
]


def open_store(uri: str | Path | None) -> StoreLocation:
    """The backend a `--store` value names (see the module docstring). Raises StoreUnavailable for a bad value."""
    if uri is None:
        return FaissLocation()
    text = str(uri).strip()
    if text in ("", "faiss", "faiss://"):
        return FaissLocation()
    scheme = urlparse(text).scheme.lower()
    if scheme in SERVER_SCHEMES or (len(scheme) > 1 and "://" in text):
        return server_location(text)
    return lite_location(text)
