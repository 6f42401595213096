"""qa/answer/chat.py and followup.py helpers that need no model: what refers back, two-part questions, and how a
follow-up's hits are re-ordered."""

from __future__ import annotations

import pytest

from qa.answer.chat import Turn, _reorder, _with_leaders
from qa.answer.followup import followup_queries, leans_on_topic, refers_back
from qa.answer.select import parts, refers_to_place
from qa.ingest.files import load_corpus
from qa.retrieval.bridge import Bridge
from qa.retrieval.retriever import Hit


@pytest.mark.parametrize("question, back", [
    ("When was it adopted?", True), ("那项呼吁是谁发出的？", True), ("她访问了哪些国家？", True),
    ("Quand a-t-elle été adoptée ?", True), ("Le HCDH y a-t-il travaillé ?", True), ("¿Cuándo se adoptó eso?", True), ("Когда это было принято?", True),
    ("متى تم اعتماد ذلك؟", True),
    ("What did OHCHR do in Chad?", False), ("人权高专办在乍得做了什么？", False), ("¿Qué hizo la ACNUDH en Colombia?", False),
    # French inversions and "is there" are not pronouns; "this report" / "this period" is the report itself
    ("Y a-t-il un lien vers la fiche HCDH ?", False), ("Pourquoi l'impact a-t-il été multiplié selon la conclusion ?", False),
    ("Qu'est-ce que le HCDH a fait au Tchad ?", False), ("How many countries went through the UPR in this period?", False),
    ("С каким документом рекомендуют читать этот доклад?", False), ("ما الذي يغطيه هذا التقرير؟", False),
    # Arabic: a pronoun suffix on a noun ("its establishment") is not one; on a preposition ("about it") it is
    ("من أي جهات تتألف فرقة العمل التي ساعدت المفوضية في إنشائها في كينيا؟", False), ("ماذا قالت عنه؟", True),
])
def test_refers_back_in_six_languages(question, back):
    lang = "fr" if " HCDH " in question or "adoptée" in question else None
    assert refers_back(question, lang) is back


@pytest.mark.parametrize("question, lang, back", [
    ("¿Lo cambiaron por la pandemia?", "es", True), ("¿Cuándo lo adoptaron?", "es", True),
    ("¿Qué le pidió al Consejo?", "es", True), ("Quand l'a-t-on adopté ?", "fr", True),
    ("¿Lo que hizo la Oficina en Chad?", "es", False), ("¿La Oficina hizo algo en Chad?", "es", False),
    # a question that opens with "and" continues the conversation, whatever its length
    ("¿Y en cuántos países ayudó a preparar el examen y aplicar las recomendaciones?", "es", True),
    ("et dans quelle coalition d'action a-t-il été choisi ?", "fr", True), ("وما اسم المشروع الذي أطلقته؟", "ar", True),
    ("А какую рабочую группу создали при поддержке УВКПЧ?", "ru", True), ("还有哪些国家参加了培训？", "zh", True),
    ("وزارة العدل في أي بلد دعمتها المفوضية؟", "ar", False), ("Andorra?", "es", False),
    ("Qu'est-ce que le HCDH a fait au Tchad ?", "fr", False),
])
def test_clitic_pronouns_refer_back_in_spanish_and_french(question, lang, back):
    assert refers_back(question, lang) is back


def test_a_topic_reaches_back_over_questions_that_leaned_on_it():
    from qa.answer.followup import resolved_topic
    history = ["What is OHCHR doing on the right to development?", "Where did it start a pilot project on that?"]
    assert resolved_topic(history) == " ".join(history)
    main, _ = followup_queries(history, "and how many people got trained?")
    assert "right to development" in main and "pilot project" in main
    # a question that stands alone starts the topic afresh
    assert resolved_topic(["What did OHCHR do in Chad?", "What did the Security Council discuss in February?"]) == \
        "What did the Security Council discuss in February?"
    # nor over a longer one that only opens with "and": it brings its own topic
    assert resolved_topic(["What did OHCHR do during elections?", "And what did OHCHR do for national institutions?"]
                          ) == "And what did OHCHR do for national institutions?"


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
    # "where can I read that report?": only the paragraph the previous answer led with is raised
    prior = Turn("q", [("ohchr-2020-h1-zh", 89), ("ohchr-2020-h1-zh", 87)])
    hits = [hit(87, 5.0, 1), hit(88, 4.0, 2), hit(89, 3.0, 3)]
    assert [h.paragraph for h in _reorder(hits, corpus, prior, [], 1.5)] == [87, 89, 88]  # both raised: 87 stays
    hits = [hit(87, 5.0, 1), hit(88, 4.0, 2), hit(89, 3.0, 3)]
    assert [h.paragraph for h in _reorder(hits, corpus, prior, [], 1.5, lead_only=True)] == [89, 87, 88]


@pytest.fixture(scope="module")
def entities():
    bridge = Bridge.for_corpus(load_corpus())
    return lambda text: bridge.match(text, "en" if text.isascii() else "zh")


@pytest.mark.parametrize("question, leans", [
    ("How many took part?", True), ("What was the focus of that debate?", True), ("¿Con base en qué resolución?", True),
    ("And in Chad?", True), ("那突尼斯呢？", True),
    ("What did OHCHR do in Chad?", False),  # names a place of the report: a question of its own
    ("UN Prevention Platform", False),  # a keyword query, no question: a new topic
    ("How many women leaders of African descent took part in the capacity-building webinars in Europe?", False),
])
def test_a_short_question_that_names_nothing_leans_on_the_topic(question, leans, entities):
    assert leans_on_topic(question, entities) is leans


def test_a_short_unnamed_follow_up_searches_the_topic_with_its_own_words(entities):
    main, also = followup_queries(["Did OHCHR run any webinars for women of African descent?"], "How many took part?",
                                  entities)
    assert main.startswith("Did OHCHR run any webinars") and main.endswith("How many took part?")
    assert also == [("How many took part?", 0.3)]
