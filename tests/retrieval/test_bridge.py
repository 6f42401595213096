"""The multilingual bridge: names and UN terms in six languages → the report's Chinese forms (no model)."""

from __future__ import annotations

import pytest

from qa.retrieval.bridge import Bridge, bridge_query, missing_places, normalize_tokens


@pytest.fixture(scope="module")
def bridge(corpus):
    return Bridge.for_corpus(corpus)


@pytest.mark.parametrize(("question", "lang", "zh"), [
    ("What did OHCHR do in Ukraine?", "en", "乌克兰"),
    ("¿Qué hizo la Oficina en Ucrania?", "es", "乌克兰"),
    ("Qu'a fait le HCDH en Ukraine ?", "fr", "乌克兰"),
    ("Что сделало УВКПЧ на Украине?", "ru", "乌克兰"),
    ("ماذا فعلت المفوضية في أوكرانيا؟", "ar", "乌克兰"),
    ("What did the Office do in the Democratic Republic of the Congo?", "en", "刚果民主共和国"),
    ("¿Qué pasó en Siria?", "es", "阿拉伯叙利亚共和国"),
    ("人权高专办在叙利亚做了什么？", "zh", "阿拉伯叙利亚共和国"),
])
def test_places_map_to_the_form_the_report_uses(bridge, question, lang, zh):
    ents = bridge.match(question, lang)
    places = [e for e in ents if e.kind == "place"]
    assert places and all(e.in_corpus for e in places)
    assert zh in bridge_query(ents)


@pytest.mark.parametrize(("question", "lang"), [
    ("Et qui est chargé de sa mise en œuvre avec le HCDH ?", "fr"),
    ("What did the High Commissioner say in Chad?", "en"),
    ("人权高专办在乍得做了什么？", "zh"),
])
def test_the_office_itself_is_not_searched_as_a_name(bridge, question, lang):
    """Most paragraphs name the Office: its forms in the bridge query only raise those that name it most often."""
    ents = bridge.match(question, lang)
    assert any(e.id in ("term:ohchr", "term:high_commissioner") for e in ents)  # it is recognized …
    bq = bridge_query(ents)
    assert "人权高专办" not in bq and "高级专员" not in bq  # … and left out of the lexical query
    assert ("乍得" in bq) == ("乍得" in "".join(z for e in ents for z in e.zh))


@pytest.mark.parametrize(("question", "lang"), [
    ("Où lire la déclaration après la mort de George Smith ?", "fr"),  # "George" stems as Géorgie
    ("¿Qué dijo la Oficina sobre George Smith?", "es"),
])
def test_a_first_name_is_not_a_place(bridge, question, lang):
    assert not [e for e in bridge.match(question, lang) if e.kind == "place"]


@pytest.mark.parametrize(("question", "lang", "kind"), [
    ("Qu'a fait le HCDH en Géorgie ?", "fr", "place"),
    ("¿Qué hizo la Oficina en Georgia Central?", "es", "place"),  # the place's own name, whatever follows
    ("Что сказали эксперты после убийства Джорджа Флойда?", "ru", "term"),
    ("Where can I read the experts' statement after George Floyd's death?", "en", "term"),
])
def test_a_place_or_a_person_the_report_names(bridge, question, lang, kind):
    ents = bridge.match(question, lang)
    assert [e.kind for e in ents if e.kind in ("place", "term") and e.id not in ("term:ohchr",)][:1] == [kind]


def test_the_matched_surface_is_the_questions_own_words(bridge):
    q = "Что сделало УВКПЧ в Беларуси?"
    (e,) = [e for e in bridge.match(q, "ru") if e.kind == "place"]
    assert q[e.start:e.end] == e.surface == "Беларуси"


@pytest.mark.parametrize(("question", "lang", "name"), [
    ("What did OHCHR do in Belarus?", "en", "Belarus"),
    ("Что сделало УВКПЧ в Беларуси?", "ru", "Беларуси"),
    ("ماذا فعلت المفوضية في اليابان؟", "ar", "اليابان"),
    ("人权高专办在日本开展了哪些活动？", "zh", "日本"),
    ("How many people did OHCHR train in 2012?", "en", "2012"),
])
def test_a_place_or_year_the_report_never_mentions_is_reported_missing(bridge, question, lang, name):
    missing = missing_places(bridge.match(question, lang))
    assert [e.surface for e in missing] == [name]


def test_a_missing_place_beside_a_present_one_is_not_a_reason_to_decline(bridge):
    ents = bridge.match("Compare Ukraine and Belarus", "en")
    assert {e.surface for e in ents if e.kind == "place"} == {"Ukraine", "Belarus"}
    assert missing_places(ents) == []


@pytest.mark.parametrize(("question", "lang", "zh"), [
    ("What did the Human Rights Council decide?", "en", "人权理事会"),
    ("Qu'a fait le Conseil des droits de l'homme ?", "fr", "人权理事会"),
    ("universal periodic review", "en", "普遍定期审议"),
    ("Examen periódico universal", "es", "普遍定期审议"),
    ("смертная казнь", "ru", "死刑"),
    ("عقوبة الإعدام", "ar", "死刑"),
])
def test_un_terms_bridge_to_the_reports_chinese(bridge, question, lang, zh):
    assert zh in bridge_query(bridge.match(question, lang))


def test_arabic_clitics_and_russian_inflection_are_normalized():
    assert normalize_tokens("وبالمفوضية", "ar")[0][0] == normalize_tokens("مفوضية", "ar")[0][0]
    assert normalize_tokens("Украины", "ru")[0][0] == normalize_tokens("Украина", "ru")[0][0]
    assert normalize_tokens("Périodique", "fr")[0][0] == normalize_tokens("periodique", "fr")[0][0]


def test_a_short_acronym_is_a_name_only_in_capitals():
    from qa.ingest.files import load_corpus
    b = Bridge.for_corpus(load_corpus())
    assert [e.id for e in b.match("What did WHO say?", "en")] == ["body:who"]
    assert b.match("Who was appointed?", "en") == []  # the question word, not the World Health Organization
    assert not [e for e in b.match("суда и прокуратуры", "ru") if e.surface == "и"]  # "and", not ИИ
    assert "term:ohchr" in {e.id for e in b.match("what did ohchr do in chad", "en")}  # longer ones in any case


@pytest.mark.parametrize(("question", "lang", "zh"), [
    ("When was the 43rd session of the Council suspended?", "en", "第四十三届"),
    ("Когда прервали 43-ю сессию СПЧ?", "ru", "第四十三届"),
    ("¿Cuándo se reanudó el 43.º período de sesiones?", "es", "第四十三届"),
    ("Que s'est-il passé à la 43e session ?", "fr", "第四十三届"),
    ("ماذا حدث في الدورة 43؟", "ar", "第四十三届"),
    ("Where was the 84th special session of the children's committee held?", "en", "第八十四届"),
    ("Who spoke at the 12th Global Forum on Migration?", "en", "第十二届"),
])
def test_a_numbered_session_maps_to_the_reports_chinese_numeral(bridge, question, lang, zh):
    assert zh in bridge_query(bridge.match(question, lang))


def test_a_number_the_report_uses_for_no_session_names_nothing(bridge):
    assert not [e for e in bridge.match("What happened at the 77th session?", "en") if e.id.startswith("session:")]


@pytest.mark.parametrize(("n", "zh"), [(4, "四"), (10, "十"), (12, "十二"), (43, "四十三"), (84, "八十四"),
                                       (105, "一百零五"), (115, "一百一十五")])
def test_chinese_numerals(n, zh):
    from qa.retrieval.bridge import chinese_number
    assert chinese_number(n) == zh


@pytest.mark.parametrize(("question", "lang", "place"), [
    ("что в Мали?", "ru", "place:ML"), ("в тунисе", "ru", "place:TN"), ("what about tunisia", "en", "place:TN"),
    ("y en mexico", "es", "place:MX"),
])
def test_places_typed_in_lowercase_still_match(bridge, question, lang, place):
    assert place in [e.id for e in bridge.match(question, lang)]


def test_a_common_word_that_stems_like_a_short_place_names_no_place(bridge):
    # "малых" (small) stems as "мал", as "Мали" does
    assert not [e for e in bridge.match("фонд для НРС и малых островных государств", "ru") if e.kind == "place"]


def test_names_in_ignores_the_office_and_years(bridge):
    from qa.retrieval.bridge import names_in
    ents = bridge.match("What did OHCHR do in Sri Lanka in 2020?", "en")
    assert names_in(ents, "在斯里兰卡") and not names_in(ents, "人权高专办 2020 年")
