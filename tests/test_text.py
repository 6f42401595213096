"""Text helpers without a model: the one sentence split the index, the answer and the CLI share; a question's language."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.text import detect_language, sentence_spans
from qa.types import Paragraph


def check_spans(text: str) -> list[tuple[int, int]]:
    """The invariants: ordered, non-overlapping, never empty, trimmed, and only whitespace between or around them."""
    spans = sentence_spans(text)
    pos = 0
    for s, e in spans:
        assert pos <= s < e <= len(text)
        assert text[pos:s].strip() == ""  # nothing but whitespace is left out
        assert not text[s].isspace() and not text[e - 1].isspace()
        pos = e
    assert text[pos:].strip() == ""
    assert (spans == []) == (text.strip() == "")
    return spans


@pytest.mark.parametrize("text, sentences", [
    ("人权高专办支持条约机构。它还协助国家！真的吗？是的",
     ["人权高专办支持条约机构。", "它还协助国家！", "真的吗？", "是的"]),
    ("他说：“好。”然后走了。", ["他说：“好。”", "然后走了。"]),
    ("人权高专办在 87 个国家开展工作。2020 年 1 月，高级专员访问了乍得。",
     ["人权高专办在 87 个国家开展工作。", "2020 年 1 月，高级专员访问了乍得。"]),
    ("到底怎么了？！后来呢……", ["到底怎么了？！", "后来呢……"]),
    ("The Office acted. It also helped States! Did it? Yes.",
     ["The Office acted.", "It also helped States!", "Did it?", "Yes."]),
    ("See para. 25 of the report. The Office acted.", ["See para. 25 of the report.", "The Office acted."]),
    ("General comment No. 36 (2018) applies. It says so.", ["General comment No. 36 (2018) applies.", "It says so."]),
    ("See A/HRC/43/3/Add.1. The report followed.", ["See A/HRC/43/3/Add.1.", "The report followed."]),
    ("Mr. Guterres spoke. He left.", ["Mr. Guterres spoke.", "He left."]),
    ("It cost 3.5 million. Next came 2021.", ["It cost 3.5 million.", "Next came 2021."]),
    ("The U.N. Office acted.", ["The U.N. Office acted."]),
    ("Visit www.ohchr.org. Then read it.", ["Visit www.ohchr.org.", "Then read it."]),
    ("见第 25 段。And English. Mixed", ["见第 25 段。", "And English.", "Mixed"]),
    ("  leading and trailing spaces.  ", ["leading and trailing spaces."]),
    ("no end mark", ["no end mark"]),
    ("", []),
    ("   \n\t ", []),
    ("。", ["。"]),
])
def test_sentence_spans(text, sentences):
    spans = check_spans(text)
    assert [text[s:e] for s, e in spans] == sentences


@pytest.mark.parametrize("text", ["See paras. 25-30 of the report.", "Decisions Nos. 36 and 37 apply.",
                                  "See p. 5 of the annex.", "Fig. 3 shows it.", "e.g. Chad and Mexico acted."])
def test_more_abbreviations(text):
    assert sentence_spans(text) == [(0, len(text))]
    assert sentence_spans(text + " Next one.") == [(0, len(text)), (len(text) + 1, len(text) + 10)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list("ab AZ.。！？!?”)\n\t1é中") + ["No", "para", "Add", ". ", "。”"]), max_size=40).map("".join))
def test_spans_cover_any_text(text):
    check_spans(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_spans_cover_arbitrary_unicode(text):
    check_spans(text)


def test_paragraph_spans_follow_its_text():
    p = Paragraph(1, "第一句。第二句。")
    assert p.spans == [(0, 4), (4, 8)] and p.sentence(1) == "第二句。"
    p.text = "Only one sentence here."
    assert p.spans == [(0, len(p.text))] and p.sentence(0) == p.text


def test_index_units_store_the_same_spans(corpus):
    """The index stores each sentence's span with its unit: the answer slices the very same text."""
    from qa.retrieval.index import build_units

    units = [u for u in build_units(corpus) if u.kind == "sentence"]
    assert len(units) >= 200
    for u in units:
        p = corpus.document(u.doc).paragraph(u.paragraph)
        assert u.span == p.spans[u.sentence] and u.text == p.text[u.span[0]:u.span[1]] == p.sentence(u.sentence)
    for doc in corpus.documents:
        for p in doc.paragraphs:
            check_spans(p.text)


@pytest.mark.parametrize(("text", "lang"), [
    ("¿Cuántos titulares de mandatos de procedimientos especiales firmaron la declaración?", "es"),
    ("defensoras de derechos humanos", "es"),  # "de" is Spanish too: the answer's messages follow the reader
    ("Combien d'exécutions ont eu lieu en Iran en 2020 ?", "fr"),
    ("Un lien ?", "fr"),
    ("UN Prevention Platform", "en"),
    ("What did the UN do in Chad?", "en"),
    ("人权高专办在乍得做了什么？", "zh"),
    ("Что сделало УВКПЧ в Чаде?", "ru"),
    ("ماذا فعلت المفوضية في تشاد؟", "ar"),
])
def test_the_language_of_a_question(text, lang):
    assert detect_language(text) == lang
