"""Follow-up detection without a model: which questions lean on the previous turn, and the query they become."""

from __future__ import annotations

import pytest

from qa.answer.followup import FOLLOWUP_OWN_WEIGHT, contextual_query, followup_queries, is_elliptical

ELLIPTICAL = [
    ("zh", "那墨西哥呢？"), ("zh", "墨西哥呢？"), ("zh", "哪些国家？"), ("zh", "那在疫情期间呢？"), ("zh", "还有乍得吗？"),
    ("en", "What about Mexico?"), ("en", "And in Chad?"), ("en", "Which countries?"), ("en", "How about the pandemic?"),
    ("en", "Mexico?"),
    ("fr", "Et au Mexique ?"), ("fr", "Et pour les migrants ?"), ("fr", "Quels pays ?"),
    ("es", "¿Y en Chad?"), ("es", "¿Y México?"), ("es", "¿Qué hay de México?"), ("es", "¿Cuáles países?"),
    ("ru", "А Мексика?"), ("ru", "Мексика?"), ("ru", "А в Мексике?"), ("ru", "Что насчёт Мексики?"),
    ("ar", "والمكسيك؟"), ("ar", "المكسيك؟"), ("ar", "وماذا عن المكسيك؟"), ("ar", "ماذا عن تشاد؟"),
]

STANDALONE = [
    ("zh", "人权高专办在监狱问题上做了什么？"), ("zh", "乍得废除了哪项法律中的死刑？"),
    ("en", "What did the Office do about the death penalty in Chad?"),
    ("en", "What training did staff receive after cyberattacks increased?"),
    ("fr", "Qu'a fait le Haut-Commissariat pour les personnes âgées ?"),
    ("es", "¿Qué hizo la Oficina sobre la pena de muerte en Chad?"),
    ("ru", "Что сделало Управление в отношении смертной казни?"),
    ("ar", "ماذا فعلت المفوضية بشأن عقوبة الإعدام؟"),
]


@pytest.mark.parametrize("lang, question", ELLIPTICAL)
def test_elliptical_questions_are_follow_ups(lang, question):
    assert is_elliptical(question)


@pytest.mark.parametrize("lang, question", STANDALONE)
def test_full_questions_stand_alone(lang, question):
    assert not is_elliptical(question)
    assert contextual_query(["人权高专办在监狱问题上做了什么？"], question) == question


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_is_not_a_follow_up(question):
    assert not is_elliptical(question)
    assert contextual_query(["人权高专办在监狱问题上做了什么？"], question) == question.strip()


def test_without_history_the_question_is_searched_as_is():
    assert contextual_query([], "  那墨西哥呢？ ") == "那墨西哥呢？"
    assert followup_queries([], "那墨西哥呢？") == ("那墨西哥呢？", [])


def test_follow_up_carries_the_last_full_question():
    history = ["乍得废除了哪项法律中的死刑？", "人权高专办在监狱问题上做了什么？"]
    assert contextual_query(history, "那墨西哥呢？") == "人权高专办在监狱问题上做了什么？ 那墨西哥呢？"
    main, extra = followup_queries(history, " And in Chad? ")
    assert main == "人权高专办在监狱问题上做了什么？ And in Chad?"
    assert extra == [("And in Chad?", FOLLOWUP_OWN_WEIGHT)] and 0 < FOLLOWUP_OWN_WEIGHT < 1


def test_a_chain_of_follow_ups_resolves_to_the_first_topic():
    history = ["¿Qué hizo la Oficina sobre la pena de muerte?", "¿Y en Chad?"]
    assert contextual_query(history, "¿Y México?") == "¿Qué hizo la Oficina sobre la pena de muerte? ¿Y en Chad? ¿Y México?"
    # Only the last turns that are follow-ups chain: a full question in between starts a new topic.
    history = ["What about prisons?", "What did the Office do about the death penalty?", "And in Chad?"]
    assert contextual_query(history, "Mexico?") == \
        "What did the Office do about the death penalty? And in Chad? Mexico?"


def test_a_follow_up_naming_another_place_swaps_the_place_and_keeps_the_topic(corpus):
    from qa.retrieval.bridge import Bridge
    from qa.text import detect_language

    bridge = Bridge.for_corpus(corpus)

    def entities(text):
        return bridge.match(text, detect_language(text))

    main, extra = followup_queries(["What did OHCHR do about the death penalty in Chad?"], "And in Kenya?", entities)
    assert "Chad" not in main and "death penalty" in main and main.endswith("And in Kenya?")
    assert extra == [("And in Kenya?", FOLLOWUP_OWN_WEIGHT)]
    main, _ = followup_queries(["人权高专办在乍得做了什么？"], "那肯尼亚呢？", entities)
    assert "乍得" not in main and "肯尼亚" in main
    # No new place: the topic is kept whole.
    main, _ = followup_queries(["What did OHCHR do about the death penalty in Chad?"], "And why?", entities)
    assert "Chad" in main
