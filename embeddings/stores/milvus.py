"""The Milvus vector store (pymilvus): Milvus Lite in a local folder, or a Milvus Standalone / Distributed server.

The `Store` contract of base.py: one opaque JSON record per vector, inner product on L2-normalized
float32 vectors, `search(queries, k, filter=...) -> (scores[nq, k], ids[nq, k])` with ids indexing
`.units` (-1 = no hit), a manifest, and `IndexMissing` / `IndexMismatch` / `IndexCorrupt` on load.
`MilvusLocation` is its `StoreLocation` (`open_store("milvus://HOST:PORT")` or `open_store("PATH.db")`).

One collection per (model, corpus), named from the manifest (`collection_name`). Rows: `id` (INT64
primary key = position in `.units`), `vector` (FLOAT_VECTOR), `doc` (VARCHAR, the partition key, so a
cluster shards by document and a `doc` filter prunes partitions), `kind` and `lang` (VARCHAR, copied from
the record when present, with INVERTED indexes for filters), `record` (JSON, the record as given; the store
never reads it), and optionally `text` + a BM25 `sparse` field for Milvus' own full-text search
(jieba tokenizer). Vector index: FLAT (exact) up to `APPROX_THRESHOLD` rows, HNSW above (the HNSW
parameters of base.py, which FAISS' "hnsw" kind uses too; FAISS itself turns to IVF there), or IVF_FLAT /
AUTOINDEX on request; metric IP.

Writes never touch the collection readers use: a build goes into a new physical collection
`<name>__g<time>_<checksum>`, is flushed and counted, gets its manifest (a collection property holding
the row count and sha256 checksums over (id, record) pairs and over the vectors) and only then is the
alias `<name>` switched to it. A process killed mid-build leaves the alias on the previous, complete
collection; the next build drops the orphan. One previous generation is kept so a process that loaded it
keeps working; older ones are dropped.

pymilvus is imported where it is used: it is an optional dependency (`report-qa[milvus]`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import numpy as np

from embeddings.stores.base import (
    APPROX_THRESHOLD,
    FILTER_FIELDS,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    NO_SCORE,
    IndexCorrupt,
    IndexMissing,
    Store,
    StoreUnavailable,
    abbreviate,
    check_manifest,
    normalize_filter,
)

log = logging.getLogger("report_qa")

FORMAT = "report-qa-milvus/1"
MANIFEST_KEY = "report_qa.manifest"
INDEX_TYPES = ("flat", "hnsw", "ivf_flat", "autoindex")
MAX_TOPK = 16_384  # Milvus' limit on `limit` (top-k) and on offset + limit of a query
INSERT_ROWS = 1_000
FETCH_ROWS = 16_384  # rows per query when reading a collection back: Milvus's largest query window (each query scans the
# collection in Milvus Lite, so 16,384 reads 108k rows ~35 % faster than 4,096)
# load() reads the vectors with the records, checks their checksum and keeps them, up to this many rows (always with
# verify_vectors=True): the retriever keeps the vectors of a collection this small in memory anyway (signals.DenseIndex),
# and one pass over the collection costs ~40 % less than reading records and vectors apart (108k rows: 15 s, not 21 s)
VERIFY_VECTORS_MAX = 300_000
VARCHAR_BYTES = {"doc": 1024, "kind": 64, "lang": 32}
SERVED_FIELDS = ("passage", "paragraph", "units")  # INT64 columns of a collection built with served=True
TEXT_BYTES = 65_535
TIMEOUT_S = float(os.environ.get("REPORT_QA_MILVUS_TIMEOUT", "20"))

_CLIENTS: dict[tuple[str, str], object] = {}


# --- names, checksums, parameters ------------------------------------------------------------------

def collection_name(manifest: dict) -> str:
    """`rq_<model>_<model hash>_<corpus sha256[:16]>`: a valid Milvus name per (model, corpus)."""
    model = str(manifest.get("model") or "store")
    corpus = re.sub(r"[^0-9A-Za-z]", "", str(manifest.get("corpus_sha256") or ""))[:16] or "nocorpus"
    slug = re.sub(r"[^A-Za-z0-9]+", "_", model).strip("_")[-60:] or "model"
    return f"rq_{slug}_{hashlib.sha256(model.encode()).hexdigest()[:6]}_{corpus}"


def _canonical(record) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _records_sha256(ids, records) -> str:
    h = hashlib.sha256()
    for i, r in zip(ids, records, strict=True):
        h.update(f"{int(i)}\t{_canonical(r)}\n".encode())
    return h.hexdigest()


def _vectors_sha256(vectors: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()


def _index_spec(kind: str, n: int) -> dict:
    """Milvus index type, build and search parameters for a store kind."""
    if kind == "hnsw":
        return {"type": "HNSW", "build": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
                "search": {"ef": HNSW_EF_SEARCH}}
    if kind == "ivf_flat":
        nlist = int(min(65_536, max(1, round(4 * np.sqrt(max(n, 1))))))
        return {"type": "IVF_FLAT", "build": {"nlist": nlist}, "search": {"nprobe": min(nlist, max(16, nlist // 16))}}
    if kind == "autoindex":
        return {"type": "AUTOINDEX", "build": {}, "search": {}}
    return {"type": "FLAT", "build": {}, "search": {}}


def _varchar(record: dict, key: str) -> str:
    v = record.get(key) if isinstance(record, dict) else None
    s = "" if v is None else str(v)
    if len(s.encode()) > VARCHAR_BYTES[key]:
        raise ValueError(f"record field {key!r} is longer than {VARCHAR_BYTES[key]} bytes: {abbreviate(s)}")
    return s


def _clip_bytes(text: str, limit: int) -> str:
    b = text.encode()
    return text if len(b) <= limit else b[:limit].decode(errors="ignore")


def filter_expression(filter: dict | None) -> str:
    """A Milvus boolean expression for a store filter: `doc in ["a", "b"] and lang in ["zh"]`."""
    flt = normalize_filter(filter)
    if not flt:
        return ""
    return " and ".join(f"{key} in [{', '.join(json.dumps(v, ensure_ascii=False) for v in values)}]"
                        for key, values in flt.items())


def _libraries(client) -> dict[str, str]:
    versions = {"numpy": np.__version__}
    for mod in ("pymilvus", "milvus_lite"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__version__", None):
            versions[mod] = str(m.__version__)
    try:
        versions["server"] = str(client.get_server_version())
    except Exception:  # noqa: BLE001 - informational only
        pass
    return versions


# --- connections -----------------------------------------------------------------------------------

def _client_uri(uri: str) -> str:
    """pymilvus' form of a store URI: milvus:// → http://, a Milvus Lite path → an absolute path ending in .db."""
    text = str(uri)
    if "://" in text:
        return server_location(text).uri
    return os.path.abspath(os.path.expanduser(text))


def _client(uri: str, db_name: str = ""):
    key = (_client_uri(uri), db_name or "")
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise StoreUnavailable("the Milvus store needs pymilvus (and milvus-lite for a local .db): "
                               "pip install 'report-qa[milvus]'") from exc
    if not key[0].startswith(("http://", "https://")) and not os.path.isdir(os.path.dirname(key[0])):
        raise StoreUnavailable(f"Milvus Lite: folder {os.path.dirname(key[0])} does not exist")
    options = {}
    if not key[0].startswith(("http://", "https://")) or urlparse(key[0]).hostname in ("127.0.0.1", "localhost", "::1"):
        # Milvus Lite's server (in-process, or `python -m milvus_lite server` on this machine) answers pings on an
        # idle channel with GOAWAY "too_many_pings" (logged on stderr), and a reconnection then fails; a local
        # channel needs no keepalive anyway.
        options["grpc_options"] = {"grpc.keepalive_time_ms": 3_600_000, "grpc.keepalive_permit_without_calls": False}
    try:
        client = MilvusClient(uri=key[0], token=os.environ.get("MILVUS_TOKEN", ""), db_name=key[1], timeout=TIMEOUT_S,
                              **options)
    except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds for an unreachable server
        raise StoreUnavailable(f"cannot connect to Milvus at {uri} ({exc}); start it or check --store") from exc
    _CLIENTS[key] = client
    return client


def release(uri: str, db_name: str = "") -> None:
    """Close this process's connection to `uri`; for a Milvus Lite file also stop its in-process server (one process
    at a time may open a .db file)."""
    key = (_client_uri(uri), db_name or "")
    client = _CLIENTS.pop(key, None)
    if client is not None:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    if not key[0].startswith(("http://", "https://")) and importlib.util.find_spec("milvus_lite") is not None:
        from milvus_lite.server_manager import server_manager_instance  # optional dependency

        server_manager_instance.release_server(key[0])


def _milvus_error() -> type[Exception]:
    from pymilvus.exceptions import MilvusException

    return MilvusException


def _alias_target(client, name: str) -> str | None:
    """The collection an alias points to; the name itself if it is a plain collection; None if neither."""
    aliases = client.list_aliases().get("aliases", []) or []
    if name in aliases:
        return client.describe_alias(name)["collection_name"]
    return name if client.has_collection(name) else None


def _loaded(client, collection: str) -> bool:
    try:
        return "Loaded" in str(client.get_load_state(collection).get("state"))
    except Exception:  # noqa: BLE001 - unknown: load it
        return False


def _row_count(client, collection: str) -> int:
    rows = client.query(collection, filter="", output_fields=["count(*)"])
    return int(rows[0]["count(*)"])


# --- the store -------------------------------------------------------------------------------------

class MilvusStore:
    """A Milvus collection with its units and manifest (see the module docstring)."""

    def __init__(self, client, uri: str, name: str, collection: str, units: list[dict], manifest: dict,
                 db_name: str = ""):
        self.client = client
        self.uri = uri
        self.db_name = db_name
        self.name = name
        self.collection = collection
        self.units = units
        self.manifest = manifest

    @property
    def kind(self) -> str:
        return self.manifest.get("index_type", "flat")

    @property
    def location(self) -> str:
        return f"{self.uri}#{self.name}"

    def __repr__(self) -> str:
        return f"MilvusStore({self.location}, {len(self.units)} units, {self.kind})"

    # --- building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, vectors: np.ndarray, units: list[dict], *, manifest: dict, uri: str, name: str | None = None,
              db_name: str = "", index_type: str | None = None, approx_threshold: int = APPROX_THRESHOLD,
              text_field: str | None = None, progress: Callable[[int, int], None] | None = None,
              num_partitions: int | None = None, shards_num: int | None = None, served: bool = False,
              extra_vectors: dict[str, np.ndarray] | None = None, analyzer: dict | None = None,
              bm25: dict | None = None) -> MilvusStore:
        """Write vectors + records into a new collection, then point the alias `name` at it.

        `text_field`: also index `record[text_field]` for Milvus' BM25 (jieba tokenizer); see `search_text`.
        `served`: also keep `record["passage"]` (INT64, the id of the unit that stands for the unit's paragraph: the
        group key of searches that rank paragraphs in Milvus), `record["paragraph"]` and `record["units"]` (how many
        units that paragraph has) as scalar columns, and BM25
        over `text` unless `text_field=""` (see `MilvusStore.open`, for a reader that keeps no records); its BM25
        analyzer lowercases. `analyzer`: the text field's `analyzer_params` instead (e.g. `{"tokenizer": "standard"}`);
        `bm25`: the BM25 index's `bm25_k1` / `bm25_b` (Milvus' defaults otherwise).
        `extra_vectors`: `{name: vectors}` of another encoder over the same units, kept as `vector_<name>` (searched
        by `search(..., field="vector_<name>")`), so one collection serves every dense signal.
        `num_partitions` (partitions the `doc` partition key hashes into; Milvus' default 16) and
        `shards_num` (write shards; default 1) matter on a cluster only.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(units):
            raise ValueError("one vector per unit")
        n, dim = vectors.shape
        kind = (index_type or ("hnsw" if n > approx_threshold else "flat")).lower()
        if kind not in INDEX_TYPES:
            raise ValueError(f"index_type {index_type!r}: choose one of {', '.join(INDEX_TYPES)}")
        units = list(units)
        if served and text_field is None:
            text_field = "text"
        text_field = text_field or None
        analyzer = analyzer or {"tokenizer": "jieba", **({"filter": ["lowercase"]} if served else {})}
        columns = {key: [_varchar(u, key) for u in units] for key in FILTER_FIELDS}
        if served:
            columns.update({key: [int(u[key]) for u in units] for key in SERVED_FIELDS})
        extra = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in (extra_vectors or {}).items()}
        if any(v.ndim != 2 or len(v) != n for v in extra.values()):
            raise ValueError("extra_vectors: one vector per unit")
        spec = _index_spec(kind, n)
        client = _client(uri, db_name)
        m = {k: v for k, v in manifest.items() if k not in ("files", "checksums", "collection", "alias", "index")}
        m.update(format=FORMAT, backend="milvus", dimension=int(dim), count=n, index_type=kind, metric="IP",
                 index=spec, text_field=text_field, served=served,
                 **({"analyzer": analyzer, "bm25": dict(bm25 or {})} if text_field else {}),
                 created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 libraries=_libraries(client),
                 extra_vectors={k: int(v.shape[1]) for k, v in extra.items()},
                 checksums={"records_sha256": _records_sha256(range(n), units), "vectors_sha256": _vectors_sha256(vectors),
                            **{f"vector_{k}_sha256": _vectors_sha256(v) for k, v in extra.items()}})
        name = name or collection_name(m)
        physical = f"{name}__g{time.time_ns() // 1_000_000:012x}_{m['checksums']['records_sha256'][:8]}"
        m.update(alias=name, collection=physical)
        error = _milvus_error()
        try:
            cls._create(client, physical, dim, spec, text_field, num_partitions=num_partitions, shards_num=shards_num,
                        served=served, extra_dims={k: int(v.shape[1]) for k, v in extra.items()},
                        analyzer=analyzer, bm25=bm25)
            for start in range(0, n, INSERT_ROWS):
                stop = min(n, start + INSERT_ROWS)
                rows = []
                for i in range(start, stop):
                    row = {"id": i, "vector": vectors[i], "record": units[i]}
                    row.update((key, columns[key][i]) for key in columns)
                    row.update((f"vector_{key}", v[i]) for key, v in extra.items())
                    if text_field:
                        text = units[i].get(text_field) if isinstance(units[i], dict) else None
                        row["text"] = _clip_bytes("" if text is None else str(text), TEXT_BYTES)
                    rows.append(row)
                client.insert(physical, rows)
                if progress:
                    progress(stop, n)
            client.flush(physical)
            client.load_collection(physical)
            got = _row_count(client, physical)
            if got != n:
                raise IndexCorrupt(f"collection {physical} holds {got} rows after the build, expected {n}")
            # The manifest marks the collection complete; the alias makes it the one readers open.
            client.alter_collection_properties(physical, properties={MANIFEST_KEY: json.dumps(m, ensure_ascii=False)})
            previous = _alias_target(client, name)
            if previous is None:
                client.create_alias(physical, name)
            elif previous == name:
                raise StoreUnavailable(f"Milvus already has a collection named {name} that is not an alias; "
                                       "drop it or give another name")
            else:
                client.alter_alias(physical, name)
        except error as exc:
            cls._drop_quietly(client, physical)
            raise StoreUnavailable(f"Milvus at {uri} failed while building {name} ({exc})") from exc
        except BaseException:
            cls._drop_quietly(client, physical)
            raise
        cls._drop_stale(client, name, keep={physical, previous})
        return cls(client, uri, name, physical, units, m, db_name)

    @classmethod
    def from_store(cls, store, uri: str, *, name: str | None = None, **options) -> MilvusStore:
        """Copy any store (e.g. a FAISS `VectorStore`) into Milvus: same vectors, records and manifest."""
        options.setdefault("index_type", store.kind if store.kind in INDEX_TYPES else None)
        return cls.build(store.vectors(), store.units, manifest=store.manifest, uri=uri, name=name, **options)

    @staticmethod
    def _create(client, physical: str, dim: int, spec: dict, text_field: str | None, *,
                num_partitions: int | None = None, shards_num: int | None = None, served: bool = False,
                extra_dims: dict[str, int] | None = None, analyzer: dict | None = None,
                bm25: dict | None = None) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("doc", DataType.VARCHAR, max_length=VARCHAR_BYTES["doc"], is_partition_key=True)
        schema.add_field("kind", DataType.VARCHAR, max_length=VARCHAR_BYTES["kind"])
        schema.add_field("lang", DataType.VARCHAR, max_length=VARCHAR_BYTES["lang"])
        schema.add_field("record", DataType.JSON)
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type=spec["type"], metric_type="IP", params=dict(spec["build"]))
        for key in FILTER_FIELDS:
            index.add_index(field_name=key, index_type="INVERTED")
        if served:
            for key in SERVED_FIELDS:
                schema.add_field(key, DataType.INT64)
                index.add_index(field_name=key, index_type="INVERTED")
        for key, d in (extra_dims or {}).items():
            schema.add_field(f"vector_{key}", DataType.FLOAT_VECTOR, dim=d)
            index.add_index(field_name=f"vector_{key}", index_type=spec["type"], metric_type="IP",
                            params=dict(spec["build"]))
        if text_field:
            schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True,
                             analyzer_params=analyzer or {"tokenizer": "jieba"})
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["text"], output_field_names=["sparse"]))
            index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params={f"bm25_{k}": float(v) for k, v in (bm25 or {}).items()})
        if client.has_collection(physical):
            client.drop_collection(physical)
        extra = {k: v for k, v in (("num_partitions", num_partitions), ("shards_num", shards_num)) if v}
        client.create_collection(physical, schema=schema, consistency_level="Strong", **extra)
        # sync=False: pymilvus would otherwise poll every index at 0.5 s intervals; load_collection() waits instead.
        client.create_index(physical, index, sync=False)

    @staticmethod
    def _drop_quietly(client, collection: str) -> None:
        try:
            if client.has_collection(collection):
                client.drop_collection(collection)
        except Exception:  # noqa: BLE001 - best effort; the next build drops orphans too
            pass

    @staticmethod
    def _drop_stale(client, name: str, *, keep: set) -> None:
        """Drop generations of `name` other than the current and the previous one (and orphans of killed builds)."""
        prefix = f"{name}__g"
        current = max(c for c in keep if c)
        for c in client.list_collections():
            if c.startswith(prefix) and c not in keep and c < current:
                try:
                    client.drop_collection(c)
                except Exception as exc:  # noqa: BLE001 - leftover generations cost space, not correctness
                    log.warning("could not drop old Milvus collection %s (%s)", c, exc)

    @classmethod
    def drop(cls, uri: str, name: str, *, db_name: str = "") -> None:
        """Remove a store: its alias and every generation of its collection."""
        client = _client(uri, db_name)
        if name in (client.list_aliases().get("aliases", []) or []):
            client.drop_alias(name)
        for c in client.list_collections():
            if c.startswith(f"{name}__g") or c == name:
                client.drop_collection(c)

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, uri: str, *, name: str | None = None, expect: dict | None = None, db_name: str = "",
             verify_vectors: bool | None = None) -> MilvusStore:
        """Open and verify. Raises IndexMissing / IndexMismatch / IndexCorrupt with a reason.

        `name` defaults to `collection_name(expect)`. Row count, ids and the (id, record) checksum are
        always checked; the vector checksum up to `VERIFY_VECTORS_MAX` rows or when `verify_vectors`.
        """
        client, physical, manifest = cls._manifest(uri, name, expect, db_name)
        checks, n, dim = manifest["checksums"], int(manifest["count"]), int(manifest["dimension"])
        error = _milvus_error()
        with_vectors = verify_vectors if verify_vectors is not None else n <= VERIFY_VECTORS_MAX
        try:
            client.load_collection(physical)
            got = _row_count(client, physical)
            if got != n:
                raise IndexCorrupt(f"collection {physical} holds {got} rows, its manifest says {n}")
            ids, records, vecs = _fetch(client, physical, n, with_vectors=with_vectors, dim=dim)
        except error as exc:
            raise IndexCorrupt(f"Milvus cannot read collection {physical} ({exc})") from exc
        if len(ids) != n or not np.array_equal(ids, np.arange(n)):
            raise IndexCorrupt(f"collection {physical} does not hold ids 0..{n - 1}")
        if _records_sha256(ids, records) != checks.get("records_sha256"):
            raise IndexCorrupt(f"records of collection {physical} fail their checksum (changed or corrupted)")
        if vecs is not None:
            if vecs.shape != (n, dim) or _vectors_sha256(vecs) != checks.get("vectors_sha256"):
                raise IndexCorrupt(f"vectors of collection {physical} fail their checksum (changed or corrupted)")
        store = cls(client, uri, name or collection_name(expect), physical, records, manifest, db_name)
        if vecs is not None:
            vecs.flags.writeable = False
        store._verified = vecs  # fetched and checked just now: `vectors()` hands them out instead of fetching again
        return store

    @classmethod
    def open(cls, uri: str, *, name: str | None = None, expect: dict | None = None, db_name: str = "") -> MilvusStore:
        """Open a collection for searches served by Milvus, reading no records and no vectors.

        Checks the manifest (format, `expect`) and the row count only; `.units` stays empty and `count` is the
        manifest's. Records come by id when they are needed (`fetch`). Raises as `load`.
        """
        client, physical, manifest = cls._manifest(uri, name, expect, db_name)
        try:
            if not _loaded(client, physical):  # a serving engine holds it loaded already: the app does not wait
                client.load_collection(physical)
            got = _row_count(client, physical)
        except _milvus_error() as exc:
            raise IndexCorrupt(f"Milvus cannot read collection {physical} ({exc})") from exc
        if got != int(manifest["count"]):
            raise IndexCorrupt(f"collection {physical} holds {got} rows, its manifest says {manifest['count']}")
        return cls(client, uri, name or collection_name(expect), physical, [], manifest, db_name)

    @classmethod
    def _manifest(cls, uri: str, name: str | None, expect: dict | None, db_name: str) -> tuple[object, str, dict]:
        """The client, the physical collection behind `name` (default `collection_name(expect)`) and its checked
        manifest. Raises IndexMissing / IndexMismatch / IndexCorrupt / StoreUnavailable."""
        if name is None:
            if not expect:
                raise ValueError("give the collection name or the manifest to expect")
            name = collection_name(expect)
        client = _client(uri, db_name)
        try:
            physical = _alias_target(client, name)
            if physical is None:
                raise IndexMissing(f"no collection {name} in Milvus at {uri}")
            props = client.describe_collection(physical).get("properties") or {}
        except _milvus_error() as exc:
            raise StoreUnavailable(f"Milvus at {uri} cannot describe {name} ({exc})") from exc
        raw = props.get(MANIFEST_KEY)
        if raw is None:
            raise IndexCorrupt(f"collection {physical} has no manifest (an interrupted build?)")
        try:
            manifest = json.loads(raw)
            _ = manifest["checksums"], int(manifest["count"]), int(manifest["dimension"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"manifest of collection {physical} unreadable ({exc})") from exc
        check_manifest(manifest, FORMAT, expect)
        if manifest.get("collection") != physical:
            raise IndexCorrupt(f"collection {physical} carries the manifest of {manifest.get('collection')}")
        return client, physical, manifest

    @property
    def count(self) -> int:
        """Rows in the collection (`len(units)` once loaded; the manifest's for a store from `open`)."""
        return len(self.units) or int(self.manifest.get("count", 0))

    def fetch(self, ids, fields: tuple[str, ...] = ("record",)) -> dict[int, dict]:
        """`{id: {field: value}}` for these ids, in one request (absent ids are left out)."""
        ids = sorted({int(i) for i in ids if int(i) >= 0})
        if not ids:
            return {}
        rows = self.client.get(self.collection, ids=ids, output_fields=["id", *fields])
        return {int(r["id"]): {f: r.get(f) for f in fields} for r in rows}

    # --- searching -----------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int, *, filter: dict | None = None,
               field: str = "vector") -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.count, MAX_TOPK))
        params = dict(self.manifest.get("index", {}).get("search") or {})
        if "ef" in params:
            params["ef"] = max(int(params["ef"]), k)
        return self._search(queries, k, field=field, filter=filter, search_params={"metric_type": "IP", "params": params})

    def search_text(self, queries: str | list[str], k: int, *, filter: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Milvus' BM25 over `record[text_field]` (built with `text_field=`): `(scores[nq, k], ids[nq, k])`."""
        if not self.manifest.get("text_field"):
            raise ValueError("this store was built without text_field; rebuild with text_field='text' for BM25")
        queries = [queries] if isinstance(queries, str) else list(queries)
        k = max(1, min(k, self.count or 1, MAX_TOPK))
        # abs: Milvus Lite reports BM25 as a negated distance
        return self._search(queries, k, field="sparse", filter=filter, search_params={"metric_type": "BM25"}, score=abs)

    def _search(self, data, k: int, *, field: str, filter: dict | None, search_params: dict,
                score: Callable[[float], float] = float) -> tuple[np.ndarray, np.ndarray]:
        """One Milvus search over `field`: `(scores[nq, k], ids[nq, k])`, padded with `NO_SCORE` / -1."""
        scores = np.full((len(data), k), NO_SCORE, dtype=np.float32)
        ids = np.full((len(data), k), -1, dtype=np.int64)
        if not self.count or not len(data):
            return scores, ids
        result = self.client.search(self.collection, data=data, limit=k, filter=filter_expression(filter),
                                    anns_field=field, output_fields=["id"], search_params=search_params)
        for qi, hits in enumerate(result):
            for j, hit in enumerate(hits[:k]):
                ids[qi, j] = hit["id"]
                scores[qi, j] = score(hit["distance"])
        return scores, ids

    def vectors(self) -> np.ndarray:
        """All vectors in id order (fetched from Milvus and checked against the manifest)."""
        verified = getattr(self, "_verified", None)
        if verified is not None:
            return verified
        n = len(self.units)
        _, _, vecs = _fetch(self.client, self.collection, n, with_vectors=True, with_records=False,
                            dim=int(self.manifest.get("dimension", 0)))
        if _vectors_sha256(vecs) != self.manifest.get("checksums", {}).get("vectors_sha256"):
            raise IndexCorrupt(f"vectors of collection {self.collection} fail their checksum (changed or corrupted)")
        vecs.flags.writeable = False
        self._verified = vecs  # kept: a store is immutable once built, and every retriever over it needs them
        return vecs

    # --- persistence ---------------------------------------------------------------------------

    def save(self, target: str | None = None, *, name: str | None = None) -> str:
        """A Milvus store is written as it is built; saving to another URI (or name) copies it there."""
        if target is None or (_client_uri(target) == _client_uri(self.uri) and (name or self.name) == self.name):
            return self.location
        return MilvusStore.from_store(self, target, name=name or self.name).location


def _fetch(client, collection: str, n: int, *, with_vectors: bool, with_records: bool = True, dim: int = 0):
    """ids, records and (optionally) vectors of rows 0..n-1 in id order, in windows Milvus allows."""
    fields = ["id"] + (["record"] if with_records else []) + (["vector"] if with_vectors else [])
    ids: list[int] = []
    records: list = []
    vectors: list = []
    for start in range(0, n, FETCH_ROWS):
        stop = min(n, start + FETCH_ROWS)
        # strict_float32: vectors come back as float32 numpy rows, not lists of Python floats (~2× faster to read)
        rows = client.query(collection, filter=f"id >= {start} and id < {stop}", output_fields=fields,
                            limit=stop - start, strict_float32=True)
        rows = sorted(rows, key=lambda r: r["id"])
        ids.extend(int(r["id"]) for r in rows)
        if with_records:
            records.extend(r.get("record") for r in rows)
        if with_vectors:
            vectors.extend(r["vector"] for r in rows)
    vecs = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dim or -1) if with_vectors else None
    return np.asarray(ids, dtype=np.int64), records, vecs


# --- locations -------------------------------------------------------------------------------------

SERVER_SCHEMES = ("milvus", "milvuss", "http", "https", "tcp", "grpc")


@dataclass(frozen=True)
class MilvusLocation:
    """A Milvus server (`uri` http(s)://HOST:PORT, `db_name` its database) or a Milvus Lite file (`uri` its path).

    A store's key is its collection (alias) name, `collection_name(manifest)`.
    """

    uri: str
    db_name: str = ""
    backend: ClassVar[str] = "milvus"

    @property
    def label(self) -> str:
        return f"milvus {self.uri}" + (f" db {self.db_name}" if self.db_name else "")

    def key_for(self, manifest: dict, folder: Path | None = None) -> str:
        """`collection_name(manifest)`; `folder` (where FAISS files would go) plays no part."""
        return collection_name(manifest)

    def address(self, key: str | Path | None) -> str:
        return f"{self.uri}#{key}"

    def load(self, key: str | Path, *, expect: dict | None = None) -> MilvusStore:
        return MilvusStore.load(self.uri, name=str(key), expect=expect, db_name=self.db_name)

    def build(self, vectors: np.ndarray, units: list[dict], *, manifest: dict, key: str | Path | None = None,
              **options: Any) -> MilvusStore:
        """Build a store in Milvus, written as it is built, under `key` (default `collection_name(manifest)`)."""
        return MilvusStore.build(vectors, units, manifest=manifest, uri=self.uri,
                                 name=str(key) if key is not None else None, db_name=self.db_name, **options)

    def save(self, store: Store, key: str | Path) -> None:
        """Nothing to do for a store built here under `key`; any other store is copied in."""
        if isinstance(store, MilvusStore) and (store.uri, store.db_name, store.name) == (self.uri, self.db_name, str(key)):
            return
        MilvusStore.from_store(store, self.uri, name=str(key), db_name=self.db_name)


def server_location(text: str) -> MilvusLocation:
    """`milvus://HOST:PORT[/DB]` (or http://, https://, tcp://, grpc://; milvuss:// is https://) as a location.

    Raises StoreUnavailable for another scheme, no host, a port that is not a number, or no pymilvus.
    """
    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    if scheme not in SERVER_SCHEMES:
        raise StoreUnavailable(f"--store {text}: unknown scheme {scheme!r}; use milvus://HOST:PORT, "
                               "a Milvus Lite file path ending in .db, or faiss")
    if not parsed.hostname:
        raise StoreUnavailable(f"--store {text}: give a host, e.g. milvus://localhost:19530")
    try:
        port = parsed.port or 19530
    except ValueError:
        raise StoreUnavailable(f"--store {text}: the port is not a number") from None
    http = "https" if scheme in ("milvuss", "https") else "http"
    _require_pymilvus(text)
    return MilvusLocation(f"{http}://{parsed.hostname}:{port}", parsed.path.strip("/"))


def lite_location(text: str) -> MilvusLocation:
    """A Milvus Lite file (a path ending in .db, in a folder that exists) as a location. Raises StoreUnavailable."""
    path = Path(text).expanduser()
    if path.suffix != ".db":
        raise StoreUnavailable(f"--store {text}: a Milvus Lite store is a path ending in .db "
                               "(or use milvus://HOST:PORT, or faiss for the default)")
    if not path.parent.is_dir():
        raise StoreUnavailable(f"--store {text}: folder {path.parent} does not exist")
    _require_pymilvus(text, lite=True)
    return MilvusLocation(str(path.resolve()))


def _require_pymilvus(text: str, *, lite: bool = False) -> None:
    missing = [m for m in (("pymilvus", "milvus_lite") if lite else ("pymilvus",)) if importlib.util.find_spec(m) is None]
    if missing:
        raise StoreUnavailable(f"--store {text} needs {' and '.join(m.replace('_', '-') for m in missing)}: "
                               "pip install 'report-qa[milvus]' (or pip install pymilvus milvus-lite)")
