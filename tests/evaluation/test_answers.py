"""qa/evaluation/answers.py: judging quotes against gold spans, and the decline figures (no model)."""

from __future__ import annotations

from qa.evaluation.answers import AnswerRow, declines, holds, span_problems, summarize
from qa.evaluation.evalset import Question
from qa.ingest.files import load_corpus


def test_holds_ignores_whitespace_and_needs_every_all_of_span():
    quotes = ["截至 2020 年 6 月 30 日，人权高专办在世界各地设有 87 个人权外地存在。"]
    assert holds(quotes, ["87个人权外地存在"], [])
    assert holds(quotes, ["2020年6月30日", "87 个"], [])
    assert not holds(quotes, ["87 个", "芬兰"], [])
    assert holds(quotes, [], ["芬兰", "87 个"]) and not holds(quotes, [], ["芬兰"])
    assert not holds(quotes, [], [])  # no gold: never right
    assert not holds(["…外地", "存在。"], ["外地存在"], [])  # a span does not straddle two quotes


def test_span_problems_finds_a_span_outside_its_paragraph():
    corpus = load_corpus()
    good = Question("a", "en", "q", [2], all_of=["芬兰"])
    bad = Question("b", "en", "q", [3], all_of=["芬兰"])
    none = Question("c", "en", "q", [3])
    assert span_problems([good], corpus) == []
    assert [p.split(":")[0] for p in span_problems([bad, none], corpus)] == ["b", "c"]


def row(id_, answerable, declined, correct, lang="en", kind="fact", first=None):
    return AnswerRow(id_, lang, kind, "q", answerable, declined, correct, correct if first is None else first, [], [])


def test_summary_and_declines():
    rows = [row("1", True, False, True), row("2", True, False, False, lang="zh"), row("3", True, True, False),
            row("4", False, True, True, kind="near_miss"), row("5", False, False, False, kind="near_miss")]
    s = summarize(rows)
    assert s["overall"] == {"n": 3, "accuracy": round(1 / 3, 4), "first_quote": round(1 / 3, 4)}
    assert s["by_language"]["zh"]["accuracy"] == 0.0 and "near_miss" not in s["by_kind"]
    d = declines(rows)
    assert (d["precision"], d["recall"], d["declined_answerable"]) == (0.5, 0.5, 1)
    assert d["declined_answerable_share"] == round(1 / 3, 4) and d["f1"] == 0.5
