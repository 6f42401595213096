"""qa/answer/chat.py and followup.py helpers that need no model: what refers back, two-part questions, and how a
follow-up's hits are re-ordered."""

from __future__ import annotations

import pytest

from qa.answer.chat import Turn, _reorder, _with_leaders
from qa.answer.followup import followup_queries, refers_back
from qa.answer.select import parts, refers_to_place
from qa.ingest.files import load_corpus
from qa.retrieval.retriever import Hit


@pytest.mark.parametrize("question, back", [
    ("When was it adopted?", True), ("那项呼吁是谁发出的？", True), ("她访问了哪些国家？", True),
    ("Quand a-t-elle été adoptée ?", True), ("Le HCDH y a-t-il travaillé ?", True), ("¿Cuándo se adoptó eso?", True), ("Когда это было принято?", True),
    ("متى تم اعتماد ذلك؟", True),
    ("What did OHCHR do in Chad?", False), ("人权高专办在乍得做了什么？", False), ("¿Qué hizo la ACNUDH en Colombia?", False),
])
def test_refers_back_in_six_languages(question, back):
    lang = "fr" if " HCDH " in question or "adoptée" in question else None
    assert refers_back(question, lang) is back


def test_a_longer_question_that_refers_back_searches_the_topic_beside_its_own_words():
    q = "Which penalty did OHCHR say that the new law finally abolished?"
    main, also = followup_queries(["Which law did Chad change?"], q)
    assert main == q and also == [("Which law did Chad change?", 0.5)]
    assert followup_queries(["Which law did Chad change?"], "What did OHCHR do on migration in 2020?") == \
        ("What did OHCHR do on migration in 2020?", [])


@pytest.mark.parametrize("question, lang, place", [
    ("那这个国家的民间社会平台呢？", "zh", True), ("Did OHCHR also help that country?", "en", True),
    ("Le HCDH y a aussi aidé la société civile ?", "fr", True), ("¿Y qué hizo allí?", "es", True),
    ("А в этой стране?", "ru", True), ("وماذا فعلت هناك؟", "ar", True),
    ("¿Y qué hizo la Oficina?", "es", False),  # Spanish "y" is "and", not "there"
])
def test_refers_to_place(question, lang, place):
    assert refers_to_place(question, lang) is place


def test_two_part_questions_split_where_each_half_asks():
    assert parts("高级专员2月在安理会的发言和5月在反恐办公室的讲话，重点分别是什么？") == \
        ["高级专员2月在安理会的发言", "5月在反恐办公室的讲话，重点分别是什么？"]
    assert len(parts("¿Qué declaración firmó la Alta Comisionada y qué hizo la Oficina para que soltaran presos?")) == 2
    for one in ("Which countries did the High Commissioner visit before the pandemic?",
                "为纪念非洲人后裔十年，办事处为欧洲的黑人女性领袖组织了什么活动？", "What did OHCHR do in Chad?"):
        assert parts(one) == [one]


def hit(n, score, rank):
    return Hit("ohchr-2020-h1-zh", n, score, rank)


def test_leaders_are_quoted_first_and_scored_as_the_top_hit():
    hits = [hit(10, 5.0, 1), hit(11, 4.0, 2), hit(12, 3.0, 3)]
    out = _with_leaders(hits, [hit(12, 9.9, 1), hit(40, 1.0, 1)])
    assert [h.paragraph for h in out] == [12, 40, 10, 11] and out[0].score == out[1].score == 5.0
    assert [h.rank for h in out] == [1, 2, 3, 4]


def test_reorder_puts_the_asked_place_first_or_raises_the_previous_answer():
    corpus = load_corpus()
    hits = [hit(87, 5.0, 1), hit(88, 4.0, 2), hit(89, 3.0, 3)]  # only ¶88 and ¶89 name 突尼斯
    assert [h.paragraph for h in _reorder(hits, corpus, None, [("突尼斯",)], 0.0)] == [88, 89, 87]
    prior = Turn("q", [("ohchr-2020-h1-zh", 89)])
    hits = [hit(87, 5.0, 1), hit(88, 4.0, 2), hit(89, 3.0, 3)]
    assert [h.paragraph for h in _reorder(hits, corpus, prior, [], 1.5)] == [89, 87, 88]  # +1.5 × spread 2.0
    hits = [hit(87, 5.0, 1), hit(88, 4.0, 2), hit(89, 3.0, 3)]
    assert [h.paragraph for h in _reorder(hits, corpus, prior, [], 0.0)] == [87, 88, 89]  # no boost, no change
