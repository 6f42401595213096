"""Metrics agree with ranx on real runs; the eval command runs end to end and writes every artefact."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.errors import UserError
from qa.evaluation.evalset import load_questions
from qa.evaluation.evaluate import aggregate, compare, evaluate, make_run, per_question, trec_lines
from qa.evaluation.metrics import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k

ROOT = Path(__file__).resolve().parents[2]


def test_metric_definitions_by_hand():
    ranked, rel = [5, 3, 9, 1], {3, 1}
    assert hit_at_k(ranked, rel, 1) == 0 and hit_at_k(ranked, rel, 2) == 1
    assert recall_at_k(ranked, rel, 2) == 0.5 and recall_at_k(ranked, rel, 4) == 1
    assert mrr_at_k(ranked, rel, 10) == 0.5
    import math

    assert ndcg_at_k(ranked, rel, 10) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))


def test_question_file_is_well_formed(questions):
    assert len(questions) >= 80
    kinds = {q.kind for q in questions}
    assert {"lexical", "paraphrase", "numeric", "multi", "footnote", "unanswerable", "followup"} <= kinds
    assert {"zh", "en", "fr", "es"} <= {q.lang for q in questions}
    assert all(1 <= n <= 136 for q in questions for n in q.relevant)
    assert all(q.history for q in questions if q.kind == "followup")
    assert all(not q.relevant for q in questions if q.kind == "unanswerable")


@pytest.mark.parametrize("line, message", [
    ("not json", "not valid JSON"),
    ('{"id": "a", "question": "q"}', "missing field"),
    ('{"id": "a", "question": "q", "relevant": ["x"]}', "list of paragraph numbers"),
])
def test_bad_question_files(tmp_path, line, message):
    f = tmp_path / "q.jsonl"
    f.write_text(line + "\n")
    with pytest.raises(UserError, match=message):
        load_questions(f)


# --- the paired randomization test, on made-up scores (no model) -----------------------------------------

def rows(values, *, answerable=True, prefix="q") -> list[dict]:
    return [{"id": f"{prefix}{i}", "answerable": answerable, "ndcg@10": float(v)} for i, v in enumerate(values)]


def paired(ra: list[dict], rb: list[dict], metric: str = "ndcg@10") -> tuple[np.ndarray, np.ndarray]:
    a = {r["id"]: r[metric] for r in ra if r["answerable"]}
    b = {r["id"]: r[metric] for r in rb if r["answerable"]}
    ids = sorted(set(a) & set(b))
    return np.array([a[i] for i in ids]), np.array([b[i] for i in ids])


def scipy_p(xa: np.ndarray, xb: np.ndarray, seed: int = 0) -> float:
    from scipy.stats import permutation_test

    return float(permutation_test((xa, xb), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                                  permutation_type="samples", n_resamples=20000, random_state=seed).pvalue)


def exact_p(xa: np.ndarray, xb: np.ndarray) -> float:
    """Every one of the 2**n sign flips, by hand: the share whose |mean| reaches the observed |mean|."""
    d = xa - xb
    signs = np.array(list(itertools.product((1, -1), repeat=len(d))))
    flipped = np.abs((signs * d).mean(axis=1))
    return float(np.mean(flipped >= abs(d.mean()) - 1e-12))


SCORES = np.random.default_rng(3).uniform(0, 1, size=(2, 60))


def test_clear_difference_is_significant():
    a, b = rows(np.clip(SCORES[0] * 0.3 + 0.7, 0, 1)), rows(SCORES[1] * 0.4)
    t = compare(a, b)
    assert t["n"] == 60 and t["mean_diff"] > 0.5 and t["p_value"] < 0.01
    back = compare(b, a)
    assert back["mean_diff"] == -t["mean_diff"] and back["p_value"] == t["p_value"]


def test_identical_runs_are_not_different():
    a = rows(SCORES[0])
    assert compare(a, a) == {"metric": "ndcg@10", "mean_diff": 0.0, "p_value": 1.0, "n": 60}
    # Independent noise around the same mean: no evidence either way.
    noise = rows(SCORES[1])
    assert compare(a, noise)["p_value"] > 0.05


@pytest.mark.parametrize("n", [6, 11])
def test_small_samples_are_exact(n):
    rng = np.random.default_rng(n)
    a, b = rows(rng.uniform(0, 1, n)), rows(rng.uniform(0, 1, n) * 0.8)
    t = compare(a, b)
    assert t["p_value"] == pytest.approx(exact_p(*paired(a, b)), abs=1e-4)


def test_agrees_with_scipy_permutation_test():
    rng = np.random.default_rng(11)
    base = rng.uniform(0, 1, 40)
    a, b = rows(base), rows(np.clip(base - 0.08 + rng.normal(0, 0.2, 40), 0, 1))
    t = compare(a, b)
    assert 0.0 < t["p_value"] < 1.0
    assert t["p_value"] == pytest.approx(scipy_p(*paired(a, b)), abs=0.01)  # Monte Carlo: 10 000 vs 20 000 resamples
    assert compare(a, b) == t  # a fixed seed: the same p every time


def test_only_answerable_questions_both_runs_have_count():
    a = rows([1.0, 0.9, 0.8, 0.7]) + rows([0.0, 0.0], answerable=False, prefix="u")
    b = rows([0.2, 0.1, 0.3]) + rows([1.0, 1.0], answerable=False, prefix="u")
    t = compare(a, b)
    assert t["n"] == 3 and t["mean_diff"] == pytest.approx(round((0.8 + 0.8 + 0.5) / 3, 4))
    assert compare([], [])["n"] == 0 and compare([], [])["p_value"] == 1.0
    one = compare(rows([1.0]), rows([0.0]))
    assert one["n"] == 1 and one["p_value"] == 1.0  # one question can never be significant


@pytest.mark.slow
def test_metrics_agree_with_ranx(retriever, questions):
    ranx = pytest.importorskip("ranx")
    answerable = [q for q in questions if q.relevant][:40]
    for mode in ("hybrid", "dense"):
        run = make_run(retriever, answerable, mode, depth=20)
        rows = per_question(run, answerable)
        ours = aggregate(rows)
        qrels = ranx.Qrels({q.id: {f"d/{n}": 1 for n in q.relevant} for q in answerable})
        parsed: dict[str, dict[str, float]] = {}
        for line in trec_lines(run):
            qid, _, docid, _rank, score, _tag = line.split()
            parsed.setdefault(qid, {})[f"d/{docid.rsplit('/', 1)[1]}"] = float(score)
        theirs = ranx.evaluate(qrels, ranx.Run(parsed), ["hits@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"])
        assert ours["ndcg@10"] == pytest.approx(theirs["ndcg@10"], abs=1e-3)
        assert ours["mrr@10"] == pytest.approx(theirs["mrr@10"], abs=1e-3)
        assert ours["recall@5"] == pytest.approx(theirs["recall@5"], abs=1e-3)
        assert ours["recall@10"] == pytest.approx(theirs["recall@10"], abs=1e-3)
        assert ours["hit@1"] == pytest.approx(theirs["hits@1"], abs=1e-3)


@pytest.mark.slow
def test_paired_test_and_report(retriever, questions, tmp_path):
    subset = [q for q in questions if q.lang in ("zh", "en")][:16] + [q for q in questions if q.kind == "unanswerable"][:3]
    results = evaluate(retriever, subset, ["lexical", "hybrid"])
    t = results["significance"][0]
    assert {t["a"], t["b"]} == {"lexical", "hybrid"}
    # The reported test is the paired permutation test on these very per-question scores.
    ra, rb = results["modes"][t["a"]]["per_question"], results["modes"][t["b"]]["per_question"]
    xa, xb = paired(ra, rb)
    assert t["n"] == len(xa) >= 10 and t["mean_diff"] == pytest.approx(float(np.mean(xa - xb)), abs=1e-4)
    assert t["p_value"] == pytest.approx(scipy_p(xa, xb), abs=0.01)
    same = compare(results["modes"]["hybrid"]["per_question"], results["modes"]["hybrid"]["per_question"])
    assert same["mean_diff"] == 0 and same["p_value"] == 1.0


@pytest.mark.slow
def test_eval_command_end_to_end(qa_home, tmp_path):
    out = tmp_path / "results"
    r = subprocess.run([sys.executable, "-m", "qa", "eval", "--limit", "14", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| hybrid |" in r.stdout and "abstention" in r.stdout
    for name in ("report.md", "metrics.json", "dense.trec", "lexical.trec", "hybrid.trec", "recall_at_k.png",
                 "ndcg_by_language.png", "qrels.txt"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["modes"]["hybrid"]["per_question"]
    assert len(rows) == 14 and all("abstained" in row for row in rows)
    assert set(metrics["modes"]["hybrid"]["overall"]) >= {"hit@1", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"}
    line = (out / "hybrid.trec").read_text().splitlines()[0].split()
    assert len(line) == 6 and line[1] == "Q0" and line[2].startswith("ohchr-2020-h1-zh/") and line[5] == "hybrid"
    assert (out / "recall_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "worst first" in report and "Paired randomization" in report


def test_eval_rejects_unknown_mode(qa_home):
    r = subprocess.run([sys.executable, "-m", "qa", "eval", "--modes", "dense,magic"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "magic" in r.stderr and len(r.stderr.strip().splitlines()) == 1
