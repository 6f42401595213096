"""The FAISS vector store: retrieval units in files under the cache home, saved with a manifest and checked on load.

Exact inner product for small corpora; above `APPROX_THRESHOLD` vectors an inverted file (IVF: √n k-means
lists, int8 codes, `IVF_NPROBE` lists searched) whose candidates are re-scored exactly from the full vectors
(`IndexRefineFlat`, which also keeps them by id for stage 2 of retrieval). A flat scan takes 0.44 ms at 10k
vectors and 6.4 ms at 100k (384-d, 2 cores), growing linearly; a corpus has ~11 units per paragraph, so the
switch comes at ~4,500 paragraphs. IVF is the default rather than HNSW because collections repeat text
(boilerplate sentences in many reports): on the benchmark's 10⁶ units, where each sentence recurs ~700 times
with perturbed vectors, HNSW (M 32, efConstruction 80) found 0.69 (USE; min 0.0) and 0.82 (e5) of the exact
top 600 units, IVF 0.96 and 0.89 in the same time, and it builds in ~40 s per encoder instead of ~3 min.
Indexes built as "hnsw" load and search too. Files are written under content-addressed names and the
manifest is renamed into place last, so a process killed mid-write leaves the previous index
usable. On load every file's checksum is verified and the manifest is compared with what the
caller expects (model, corpus, unit type): a mismatch or a corrupt file raises, never passes.

A unit is an opaque JSON-able record (a dict) stored beside its vector: the store never looks
inside it; the caller decides what a unit is. `FaissLocation` is the `StoreLocation` of these stores
(`open_store(None)`): a store's key is its folder.

`faiss` is imported where it is used: importing it costs ~0.15 s that a CLI start (`open_store`, `--help`)
does not need.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from embeddings.stores.base import (
    APPROX_THRESHOLD,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    NO_SCORE,
    IndexCorrupt,
    IndexMissing,
    check_manifest,
    filter_ids,
    normalize_filter,
)

IVF_NPROBE = 16  # lists an IVF search visits, of ~√n
IVF_TRAIN_PER_LIST = 40  # k-means training points per list (FAISS warns below 39)
MANIFEST = "manifest.json"
FORMAT = "report-qa-index/1"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict[str, str]:
    """Library versions for the manifest, read from package metadata: importing torch only to ask costs seconds."""
    import faiss

    versions = {"faiss": faiss.__version__, "numpy": np.__version__}
    for mod, dist in (("sentence_transformers", "sentence-transformers"), ("torch", "torch"), ("transformers", "transformers")):
        try:
            versions[mod] = version(dist)
        except PackageNotFoundError:  # optional libraries
            pass
    return versions


class VectorStore:
    """A FAISS index with its units and manifest (see the module docstring)."""

    def __init__(self, index, units: list[dict], manifest: dict):
        self.index = index
        self.units = units
        self.manifest = manifest
        if self.kind == "ivf":  # a search-time setting (like HNSW's efSearch), not what the file was saved with
            import faiss

            base = faiss.downcast_index(index.base_index)
            base.nprobe = min(IVF_NPROBE, base.nlist)

    @property
    def kind(self) -> str:
        return self.manifest.get("index_type", "flat")

    @classmethod
    def build(cls, vectors: np.ndarray, units: list[dict], *, manifest: dict,
              approx_threshold: int = APPROX_THRESHOLD, index_type: str | None = None) -> VectorStore:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) != len(units):
            raise ValueError("one vector per unit")
        dim = vectors.shape[1]
        kind = index_type or ("ivf" if len(vectors) > approx_threshold else "flat")
        if kind == "ivf":
            index = _ivf(vectors)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index = faiss.IndexFlatIP(dim)
        if kind != "ivf":
            index.add(vectors)
        m = dict(manifest)
        m.update(format=FORMAT, dimension=dim, count=len(units), index_type=kind,
                 created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), libraries=library_versions())
        return cls(index, units, m)

    def search(self, queries: np.ndarray, k: int, *, filter: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product; `filter` ({"doc": [...], "lang": [...], "kind": [...]}) keeps matching records only."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self.units)))
        if filter:
            return self._search_filtered(queries, k, filter)
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = max(HNSW_EF_SEARCH, k)
        scores, ids = self.index.search(queries, k)
        return scores, ids

    def _search_filtered(self, queries: np.ndarray, k: int, filter: dict) -> tuple[np.ndarray, np.ndarray]:
        """Kept units only (a FAISS ID selector): a flat index scans them; an approximate one (HNSW, IVF) searches
        itself with the selector when more than `APPROX_THRESHOLD` are kept (IVF then finds only those in the lists
        it visits), else their vectors are scored exactly inside FAISS' storage."""
        import faiss

        columns = self.__dict__.setdefault("_filter_columns", {})
        chosen = self.__dict__.setdefault("_filter_cache", {})  # filter → (kept ids, FAISS selector, its bits)
        key = json.dumps(normalize_filter(filter), sort_keys=True, default=str)
        keep, selector, bits = chosen.get(key, (None, None, None))
        if keep is None:  # the same filter again (a report picked in the app) costs nothing to set up
            keep = filter_ids(self.units, filter, cache=columns)
            bits = None
            if keep is not None and 0 < len(keep) < len(self.units):
                # one bit per unit: a constant-time test per scanned unit (IDSelectorBatch hashes: ~3× slower
                # over an IVF scan of 10⁶ units); FAISS reads `bits` in place: the selector and the cache keep it
                mask = np.zeros(len(self.units), dtype=bool)
                mask[keep] = True
                bits = np.packbits(mask, bitorder="little")
                selector = faiss.IDSelectorBitmap(bits)
            if len(chosen) >= 16:
                chosen.clear()  # atomic: requests in other threads see the old entries or none
            chosen[key] = (keep, selector, bits)
        if keep is None or len(keep) == len(self.units):
            return self.search(queries, k)
        scores = np.full((len(queries), k), NO_SCORE, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        if not len(keep):
            return scores, ids
        if self.kind == "hnsw" and len(keep) > APPROX_THRESHOLD:
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
            return self.index.search(queries, k, params=params)
        if self.kind == "ivf" and len(keep) > APPROX_THRESHOLD:
            ivf = faiss.SearchParametersIVF(sel=selector, nprobe=faiss.downcast_index(self.index.base_index).nprobe)
            return self.index.search(queries, k, params=faiss.IndexRefineSearchParameters(base_index_params=ivf))
        if self.kind in ("hnsw", "ivf"):  # few kept units: exact scores of their vectors, inside FAISS' storage
            # (a copy of 10⁴ vectors and a BLAS product took 7–20 ms beside the other threads of a query)
            sub = np.vstack([self.similarities(q, keep) for q in queries])
            top = np.argsort(-sub, axis=1, kind="stable")[:, :k]
            kk = top.shape[1]
            scores[:, :kk] = np.take_along_axis(sub, top, axis=1)
            ids[:, :kk] = keep[top]
            return scores, ids
        return self.index.search(queries, k, params=faiss.SearchParameters(sel=selector))

    def vectors(self) -> np.ndarray:
        return self.index.reconstruct_n(0, self.index.ntotal)

    def _flat(self):
        """FAISS' flat inner-product storage behind the index (the index itself, HNSW's, or IVF's refinement), or None."""
        if not hasattr(self, "_flat_index"):
            import faiss

            flat = self.index
            if isinstance(flat, faiss.IndexHNSW):
                flat = faiss.downcast_index(flat.storage)
            elif isinstance(flat, faiss.IndexRefine):
                flat = faiss.downcast_index(flat.refine_index)
            ok = isinstance(flat, faiss.IndexFlat) and flat.metric_type == faiss.METRIC_INNER_PRODUCT and flat.ntotal
            self._flat_index = flat if ok else None
        return self._flat_index

    def _flat_view(self) -> np.ndarray | None:
        """The stored vectors as a read-only (n, d) view of the flat storage (no copy), or None."""
        if not hasattr(self, "_view"):
            import faiss

            flat, view = self._flat(), None
            if flat is not None:
                view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
                view.flags.writeable = False
            self._view = view
        return self._view

    def similarities(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Inner products of one query vector with these units' stored vectors, computed inside FAISS' flat
        storage (no gather: ~3× faster than `reconstruct(ids) @ query` for 10⁴ units of 10⁶)."""
        import faiss

        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(1, -1)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        flat = self._flat()
        if flat is None or not ids.size:
            return self.reconstruct(ids[0]) @ q[0]
        out = np.empty(ids.shape, dtype=np.float32)
        flat.compute_distance_subset(1, faiss.swig_ptr(q), ids.shape[1], faiss.swig_ptr(out), faiss.swig_ptr(ids))
        return out[0]

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these units (every kind of index here keeps them): a gather from FAISS' flat
        storage (~10× faster than `reconstruct_batch` for thousands of ids), or `reconstruct_batch`."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.index.d), dtype=np.float32)
        view = self._flat_view()
        return view[ids] if view is not None else self.index.reconstruct_batch(ids)

    # --- persistence ---------------------------------------------------------------------------

    def save(self, directory: Path) -> Path:
        """Write index + units under checksummed names, then atomically swap the manifest in."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(".*.*"):  # temp files a killed writer left behind
            if stale.is_file():
                stale.unlink(missing_ok=True)
        index_bytes = faiss.serialize_index(self.index).tobytes()
        units_bytes = json.dumps(list(self.units), ensure_ascii=False).encode()
        files = {}
        for role, data, ext in (("index", index_bytes, "faiss"), ("units", units_bytes, "json")):
            digest = _sha256(data)
            name = f"{role}-{digest[:16]}.{ext}"
            _atomic_write(directory / name, data)
            files[role] = {"name": name, "sha256": digest, "bytes": len(data)}
        manifest = dict(self.manifest, files=files)
        _atomic_write(directory / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode())
        self.manifest = manifest
        keep = {MANIFEST, *(f["name"] for f in files.values())}
        for p in directory.iterdir():
            if p.name not in keep and p.is_file() and not p.name.startswith("."):
                p.unlink(missing_ok=True)
        return directory

    @classmethod
    def load(cls, directory: Path, *, expect: dict | None = None) -> VectorStore:
        """Load and verify. Raises IndexMissing / IndexMismatch / IndexCorrupt with a reason."""
        import faiss

        directory = Path(directory)
        mpath = directory / MANIFEST
        if not mpath.exists():
            raise IndexMissing(f"no index at {directory}")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
            files = manifest["files"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"manifest {mpath} unreadable ({exc})") from exc
        check_manifest(manifest, FORMAT, expect)
        info = {role: files.get(role) or {} for role in ("index", "units")}
        paths = {role: directory / str(info[role].get("name", "")) for role in info}
        role = "index"
        try:
            # The index file is hashed in chunks and FAISS reads the same open file, not a copy of its bytes
            # (2 GB at 10⁶ units loads in a third of the time), so a file replaced in between cannot slip in.
            with open(paths["index"], "rb") as fh:
                digest = hashlib.sha256()
                while chunk := fh.read(1 << 24):
                    digest.update(chunk)
                if digest.hexdigest() != info["index"].get("sha256"):
                    raise IndexCorrupt(f"index file {paths['index'].name} fails its checksum (truncated or corrupted)")
                same_file = Path(f"/proc/self/fd/{fh.fileno()}")
                try:
                    index = faiss.read_index(str(same_file if same_file.exists() else paths["index"]))
                except Exception as exc:  # noqa: BLE001 - any decode failure means corrupt
                    raise IndexCorrupt(f"index files do not decode ({exc})") from exc
            role = "units"
            data = paths["units"].read_bytes()
        except OSError as exc:
            raise IndexCorrupt(f"{role} file {paths[role].name} missing ({exc.strerror})") from exc
        if _sha256(data) != info["units"].get("sha256"):
            raise IndexCorrupt(f"units file {paths['units'].name} fails its checksum (truncated or corrupted)")
        try:
            units = json.loads(data)
            if not isinstance(units, list):
                raise ValueError("units file is not a list")
        except Exception as exc:  # noqa: BLE001 - any decode failure means corrupt
            raise IndexCorrupt(f"index files do not decode ({exc})") from exc
        if index.ntotal != len(units) or index.d != manifest.get("dimension"):
            raise IndexCorrupt("index and units disagree in size")
        return cls(index, units, manifest)


def _ivf(vectors: np.ndarray):
    """An IVF index over `vectors` (k-means lists, int8 codes) inside an exact re-scoring of its candidates
    (`VectorStore.__init__` sets how many lists a search visits)."""
    import faiss

    n, dim = vectors.shape
    nlist = int(min(4096, max(16, round(np.sqrt(n)))))
    base = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                         faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    train = vectors if n <= IVF_TRAIN_PER_LIST * nlist else vectors[np.sort(rng.choice(n, IVF_TRAIN_PER_LIST * nlist, replace=False))]
    index = faiss.IndexRefineFlat(base)
    index.train(train)
    index.add(vectors)
    return index


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: readers see the old or the new file, never half."""
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class FaissLocation:
    """FAISS stores as files (`--store faiss`, the default): a store's key is the folder it is saved in."""

    backend: ClassVar[str] = "faiss"

    @property
    def label(self) -> str:
        return "faiss"

    def key_for(self, manifest: dict, folder: Path | None = None) -> Path | None:
        """The folder given: FAISS files go where the caller keeps them (None: nowhere, the store stays in memory)."""
        return Path(folder) if folder is not None else None

    def address(self, key: str | Path | None) -> str | None:
        return str(key) if key is not None else None

    def load(self, key: str | Path, *, expect: dict | None = None) -> VectorStore:
        return VectorStore.load(Path(key), expect=expect)

    def build(self, vectors: np.ndarray, units: list[dict], *, manifest: dict, key: str | Path | None = None,
              **options: Any) -> VectorStore:
        """Build in memory; with a `key`, save it in that folder too."""
        store = VectorStore.build(vectors, units, manifest=manifest, **options)
        if key is not None:
            self.save(store, key)
        return store

    def save(self, store: VectorStore, key: str | Path) -> None:
        store.save(Path(key))
