"""qa/evaluation/tune.py on a small synthetic run: questions whose answer e5 ranks second and BM25 first, and
questions the report does not cover. Tuning must find the BM25 weight and a margin that declines exactly the
uncovered ones; cross-validation must score each question once, with weights from the other folds. No model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qa.evaluation import tune
from qa.retrieval.fusion import FusionConfig, Weights, fuse, margin
from tests.synthetic import dense_scores, query_signals

N = 12  # paragraphs 1..12 of one report
KEYS = [("d", p) for p in range(1, N + 1)]
START = Weights(e5=1.0, use=0.0, bm25=0.0, sentence=0.5, abstain_margin=0.0)


def answerable_signals(rng, answer: int):
    """e5 ranks a decoy first and the answer (row `answer`) second; BM25 finds the answer alone."""
    e5 = rng.uniform(0.0, 0.3, N)
    e5[(answer + 5) % N], e5[answer] = 1.0, 0.8
    bm25 = np.zeros(N)
    bm25[answer], bm25[(answer + 3) % N] = 5.0, 1.0
    return query_signals({"e5": dense_scores(e5)}, {"bm25": bm25})


def uncovered_signals(rng):
    """Nothing stands out: e5 spread evenly, no BM25 match."""
    return query_signals({"e5": dense_scores(rng.permutation(np.linspace(0.2, 0.5, N)))}, {"bm25": np.zeros(N)})


def synthetic_items() -> list[tune.Item]:
    rng = np.random.default_rng(7)
    items = [tune.Item(f"a{j}", "en", "fact", {j + 1}, answerable_signals(rng, j), KEYS) for j in range(10)]
    items += [tune.Item(f"u{j}", "fr", "uncovered", set(), uncovered_signals(rng), KEYS) for j in range(6)]
    return items


def test_ranked_lists_paragraph_numbers_best_first():
    item = synthetic_items()[0]  # answer: paragraph 1 (row 0), decoy: paragraph 6
    top, fused = tune.ranked(item, START, k=3)
    assert top[:2] == [6, 1] and len(top) == 3
    np.testing.assert_array_equal(fused, fuse(item.sig, START)[0])
    assert tune.ranked(item, replace(START, bm25=1.0))[0][0] == 1


def test_tune_weights_finds_the_lexical_weight_that_puts_every_answer_first():
    items = synthetic_items()
    before = np.mean([tune.ranked(it, START)[0].index(min(it.relevant)) == 0 for it in items if it.answerable])
    assert before == 0.0  # e5 alone ranks the decoy first every time
    w, score = tune.tune_weights(items, START)
    assert w.bm25 > 0 and score == pytest.approx(1.0)
    assert all(tune.ranked(it, w)[0][0] in it.relevant for it in items if it.answerable)


def test_tune_thresholds_decline_exactly_the_uncovered_questions():
    items = synthetic_items()
    w, _ = tune.tune_weights(items, START)
    tuned, info = tune.tune_thresholds(items, w)
    assert info == {"f1": 1.0}
    margins = {it.id: margin(tune.ranked(it, w)[1], it.sig.sample, int(np.argmax(tune.ranked(it, w)[1])))
               for it in items}
    uncovered = max(m for i, m in margins.items() if i.startswith("u"))
    covered = min(m for i, m in margins.items() if i.startswith("a"))
    assert uncovered < tuned.abstain_margin <= covered
    # ties go to the least aggressive rule: the lowest margin on the grid above every uncovered question's
    assert tuned.abstain_margin == min(t for t in tune.MARGINS if t > uncovered)
    assert tuned.abstain_use == 0.0  # no USE similarity here: that rule would decline answerable questions too


def test_thresholds_never_decline_more_answerable_questions_than_allowed():
    items = synthetic_items()
    for it in items[10:]:  # make the uncovered questions look exactly like answerable ones
        it.sig = items[0].sig
    tuned, info = tune.tune_thresholds(items, START)
    assert info["f1"] == 0.0 and tuned.abstain_margin == 0.0  # declining them would decline answerable ones


def test_cross_validation_scores_each_question_once_with_weights_from_other_folds():
    items = synthetic_items()
    base = FusionConfig({g: START for g in ("zh", "en", "other")})
    rows, summary = tune.cross_validate(items, base, k=3)
    assert sorted(r["id"] for r in rows) == sorted(it.id for it in items)
    assert summary["n"] == 10 and summary["ndcg@10"] == pytest.approx(1.0) and summary["hit@1"] == 1.0
    assert summary["abstention"]["unanswerable"] == 6
    assert set(summary["by_language"]) == {"en"}  # only answerable questions have a language score


def test_each_fold_is_scored_with_weights_tuned_without_it(monkeypatch):
    items = synthetic_items()
    tuned_on, scored = [], []
    tune_config, metrics = tune.tune_config, tune._metrics

    def recorded_tune_config(train, base, **kwargs):
        tuned_on.append({it.id for it in train})
        return tune_config(train, base, **kwargs)

    def recorded_metrics(test, cfg):
        scored.append({it.id for it in test})
        return metrics(test, cfg)

    monkeypatch.setattr(tune, "tune_config", recorded_tune_config)
    monkeypatch.setattr(tune, "_metrics", recorded_metrics)
    tune.cross_validate(items, FusionConfig({g: START for g in ("zh", "en", "other")}), k=3)
    assert len(tuned_on) == len(scored) == 3
    for train, test in zip(tuned_on, scored, strict=True):
        assert test and not train & test and train | test == {it.id for it in items}


def test_fold_of_is_stable_and_spreads_the_questions():
    ids = [f"q{i}" for i in range(600)]
    folds = [tune.fold_of(q, 5) for q in ids]
    assert folds == [tune.fold_of(q, 5) for q in ids] and set(folds) == set(range(5))
    assert all(90 <= folds.count(f) <= 150 for f in range(5))


def test_summarize_by_hand():
    rows = [
        {"id": "a", "lang": "en", "answerable": True, "abstained": False, "ndcg@10": 1.0, "hit@1": 1.0, "recall@5": 1.0},
        {"id": "b", "lang": "zh", "answerable": True, "abstained": True, "ndcg@10": 0.5, "hit@1": 0.0, "recall@5": 1.0},
        {"id": "c", "lang": "zh", "answerable": False, "abstained": True},
        {"id": "d", "lang": "fr", "answerable": False, "abstained": False},
    ]
    out = tune.summarize(rows)
    assert out["ndcg@10"] == 0.75 and out["hit@1"] == 0.5 and out["n"] == 2
    assert out["by_language"] == {"en": 1.0, "zh": 0.5}
    # one uncovered question declined (tp), one answerable declined (fp), one uncovered answered (fn)
    assert out["abstention"] == {"f1": round(2 / 4, 4), "false_decline": 0.5, "unanswerable": 2}


class FakeRetriever:
    """What `prepare` and `tune` use of a retriever: `config`, `keys` and `signals(question)`."""

    def __init__(self, signals: dict, config: FusionConfig):
        self.by_question, self.config, self.keys = signals, config, KEYS
        self.asked: list[tuple[str, float]] = []

    def signals(self, question: str):
        self.asked.append((question, self.config.weights_for("en").prf))
        if question == "fail":
            raise RuntimeError("encoder failed")
        return self.by_question[question]


def test_prepare_computes_feedback_for_standalone_questions_and_restores_the_config():
    items = synthetic_items()
    config = FusionConfig({g: START for g in ("zh", "en", "other")})
    r = FakeRetriever({it.id: it.sig for it in items}, config)
    questions = [{"id": it.id, "question": it.id, "relevant": sorted(it.relevant), "lang": it.lang} for it in items]
    questions.append({"id": "f1", "question": "follow-up", "relevant": [3], "history": ["earlier question"]})
    prepared = tune.prepare(r, questions)
    assert [it.id for it in prepared] == [it.id for it in items]  # the follow-up is left out
    assert all(prf == 1.0 for _, prf in r.asked)  # every optional signal computed; the weights decide later
    assert r.config is config and prepared[0].relevant == {1} and not prepared[-1].answerable
    with pytest.raises(RuntimeError):
        tune.prepare(r, [{"id": "x", "question": "fail", "relevant": []}])
    assert r.config is config


def test_tune_end_to_end_on_the_synthetic_run():
    items = synthetic_items()
    config = FusionConfig({g: START for g in ("zh", "en", "other")})
    r = FakeRetriever({it.id: it.sig for it in items}, config)
    questions = [{"id": it.id, "question": it.id, "relevant": sorted(it.relevant), "lang": it.lang} for it in items]
    lines: list[str] = []
    cfg, summary = tune.tune(r, questions, folds=2, log=lines.append)
    assert cfg.weights_for("en").bm25 > 0 and cfg.weights_for("zh") == START  # no Chinese question: untouched
    assert summary["folds"] == 2 and summary["questions"] == 16
    assert summary["out_of_fold"]["ndcg@10"] == pytest.approx(1.0)
    assert summary["in_sample"]["abstention"]["f1"] == 1.0
    assert any(line.startswith("out-of-fold") for line in lines)
