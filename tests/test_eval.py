"""Metrics agree with ranx on real runs; the eval command runs end to end and writes every artefact."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.errors import UserError
from qa.evaluation.evalset import load_questions
from qa.evaluation.evaluate import aggregate, compare, evaluate, make_run, per_question, trec_lines
from qa.evaluation.metrics import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k

ROOT = Path(__file__).resolve().parent.parent


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
    assert {t["a"], t["b"]} == {"lexical", "hybrid"} and 0 < t["p_value"] <= 1
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
