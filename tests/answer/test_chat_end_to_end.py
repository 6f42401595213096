"""Answers: exact citations over the whole evaluation set, lookups in four languages, follow-ups (real model: slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qa.answer.chat import ChatSession, ask
from qa.answer.extractive import COUNTRY_PARAGRAPHS
from qa.answer.i18n import cite
from qa.answer.lookup import parse_lookup
from qa.answer.select import DEFAULT_WEIGHTS, asks_several


def check_exact(ans, corpus):
    shown = {(p.doc, p.n) for p in ans.paragraphs}
    for q in ans.quotes:
        assert (q.doc, q.paragraph) in shown, f"{q.citation} cites a paragraph that is not shown"
        doc = corpus.document(q.doc)
        p = doc.paragraph(q.paragraph)
        if q.source == "paragraph":
            assert q.text in p.text and p.text[q.start:q.end] == q.text
        else:
            assert any(doc.footnote(f).text == q.text for f in q.footnotes)
        for f in q.footnotes:
            assert f in p.footnotes, f"footnote {f} does not belong to ¶{p.n}"
        assert q.citation.startswith(f"[¶{q.paragraph}")
    for cp in ans.paragraphs + ans.related:
        p = corpus.document(cp.doc).paragraph(cp.n)
        assert cp.text == p.text and [f.n for f in cp.footnotes] == p.footnotes
        for s, e in cp.highlights:
            assert 0 <= s < e <= len(cp.text)


@pytest.mark.slow
def test_citations_are_exact_over_the_whole_evaluation_set(engine, questions, corpus):
    covered = 0
    for q in questions:
        ans = ask(engine, q.question, history=q.history)
        check_exact(ans, corpus)
        if ans.covered:
            covered += 1
            sentences = [(x.paragraph, x.sentence) for x in ans.quotes if x.source == "paragraph"]
            # 1–4 sentences (more for a question that asks several things), or a country question's one sentence
            # from each of up to COUNTRY_PARAGRAPHS paragraphs
            most = DEFAULT_WEIGHTS.max_sentences + (DEFAULT_WEIGHTS.several if asks_several(q.question) else 0)
            assert ans.quotes and (1 <= len(sentences) <= most or (
                len(sentences) <= COUNTRY_PARAGRAPHS and len({n for n, _ in sentences}) == len(sentences)))
        else:
            assert ans.message and not ans.quotes
    assert covered >= len(questions) * 0.7


@pytest.mark.parametrize("question, kind, n", [
    ("第25段", "paragraph", 25), ("¶25", "paragraph", 25), ("paragraph 25", "paragraph", 25),
    ("para. 25", "paragraph", 25), ("paragraphe 25", "paragraph", 25), ("párrafo 25", "paragraph", 25),
    ("脚注6", "footnote", 6), ("注6", "footnote", 6), ("footnote 6", "footnote", 6), ("fn 6", "footnote", 6),
    ("note 6", "footnote", 6), ("nota 6", "footnote", 6), ("What does paragraph 25 say?", "paragraph", 25),
])
@pytest.mark.slow
def test_lookups(engine, corpus, question, kind, n):
    assert parse_lookup(question).kind == kind
    ans = ask(engine, question)
    assert ans.kind == "lookup" and ans.covered
    check_exact(ans, corpus)
    doc = corpus.documents[0]
    if kind == "paragraph":
        assert ans.quotes[0].text == doc.paragraph(n).text and ans.paragraphs[0].n == n
    else:
        assert ans.quotes[0].text == doc.footnote(n).text and ans.paragraphs[0].n == 25
        assert ans.quotes[0].citation in ("[¶25, 注6]", "[¶25, fn 6]", "[¶25, note 6]", "[¶25, nota 6]")


@pytest.mark.slow
def test_lookup_out_of_range_is_explained(engine):
    ans = ask(engine, "paragraph 999")
    assert ans.kind == "not_found" and "1–136" in ans.message
    assert "没有脚注 99" in ask(engine, "脚注99").message


@pytest.mark.slow
def test_a_question_mentioning_a_number_is_still_searched(engine):
    assert ask(engine, "人权高专办在世界各地设有 87 个人权外地存在吗？").kind == "search"


@pytest.mark.parametrize("question, lang, label", [
    ("乍得废除了哪项法律中的死刑？", "zh", "[¶90]"),
    ("What happened with the death penalty in Chad?", "en", "[¶90]"),
])
@pytest.mark.slow
def test_labels_follow_the_user_language(engine, question, lang, label):
    ans = ask(engine, question)
    assert ans.language == lang and ans.quotes[0].citation == label
    assert all("\u4e00" <= ch <= "\u9fff" or not ch.isalpha() or ch.isascii() for ch in ans.quotes[0].text[:5])


@pytest.mark.slow
def test_not_covered_is_honest_and_offers_related(engine):
    for question, phrase in (("What is the capital of Australia?", "does not appear to cover"),
                             ("新冠疫苗在哪些国家获批上市？", "没有涉及")):
        ans = ask(engine, question)
        assert not ans.covered and phrase in ans.message and ans.related and not ans.quotes


def test_citation_format():
    assert cite(25) == "[¶25]" and cite(10, [4], "zh") == "[¶10, 注4]" and cite(10, [4], "en") == "[¶10, fn 4]"


@pytest.mark.slow
def test_follow_ups_carry_the_topic(engine):
    s = ChatSession(engine)
    first = s.ask("人权高专办在监狱问题上做了什么？")
    assert first.covered
    ans = s.ask("那墨西哥呢？")
    assert ans.query != ans.question and "监狱" in ans.query
    assert ans.paragraphs[0].n == 98
    s2 = ChatSession(engine)
    s2.ask("¿Qué hizo la Oficina sobre la pena de muerte?")
    assert s2.ask("¿Y en Chad?").paragraphs[0].n == 90


@pytest.mark.slow
def test_follow_ups_retrieve_as_well_as_standalone_rewrites(retriever, questions):
    from qa.evaluation.evaluate import aggregate, make_run, per_question

    pairs = [q for q in questions if q.history and q.standalone]
    assert len(pairs) >= 6
    ctx = aggregate(per_question(make_run(retriever, pairs, "hybrid"), pairs))
    std = aggregate(per_question(make_run(retriever, pairs, "hybrid", standalone=True), pairs))
    assert ctx["ndcg@10"] >= std["ndcg@10"] - 0.05


@pytest.mark.slow
def test_cli_ask_json_and_empty(qa_home):
    r = subprocess.run([sys.executable, "-m", "qa", "ask", "乍得废除了哪项法律中的死刑？", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    data = json.loads(r.stdout)
    assert data["covered"] and data["quotes"][0]["citation"] == "[¶90]" and "[¶90]" in data["text"]
    r = subprocess.run([sys.executable, "-m", "qa", "ask", ""], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "empty" in r.stderr


@pytest.mark.slow
def test_terminal_chat_keeps_history(qa_home):
    r = subprocess.run([sys.executable, "-m", "qa", "chat"], input="人权高专办在监狱问题上做了什么？\n那墨西哥呢？\n",
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "监狱问题上做了什么？ 那墨西哥呢？" in r.stdout and "[¶98" in r.stdout
