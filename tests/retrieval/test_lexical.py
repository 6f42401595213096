"""qa/retrieval/lexical.py: BM25 tokens for Chinese and Latin text, and a `LexicalIndex` over a tiny corpus.
(Agreement with bm25s' own scores on the real report: tests/retrieval/test_retriever.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from qa.retrieval.lexical import LexicalIndex, tokenize
from qa.types import Corpus, Document, Footnote, Paragraph


def test_chinese_gives_jieba_words_and_character_bigrams():
    toks = tokenize("乍得废除了死刑")
    words = [t for t in toks if not t.startswith("§")]
    assert words == ["乍得", "废除", "死刑"]  # "了" is a stop word, and one character is no word
    assert [t for t in toks if t.startswith("§")] == ["§乍得", "§得废", "§废除", "§除了", "§了死", "§死刑"]


def test_chinese_stop_words_are_neither_words_nor_bigrams():
    toks = tokenize("什么是死刑？")
    assert "什么" not in toks and "§什么" not in toks
    assert "死刑" in toks and "§死刑" in toks


def test_latin_tokens_are_lowercased_without_stop_words_or_single_letters():
    assert tokenize("What did the Office do in Chad?") == ["office", "chad"]
    assert tokenize("le Haut-Commissariat pour les migrants") == ["haut-commissariat", "migrants"]
    assert tokenize("la Oficina y los migrantes") == ["oficina", "migrantes"]
    assert tokenize("x y 5 A") == ["5"]  # a single digit is a token, a single letter is not


def test_symbols_resolutions_and_years_stay_whole_in_any_language():
    toks = tokenize("人权理事会第 43/1 号决议（A/HRC/43/3），COVID-19，2020 年")
    assert {"43/1", "a/hrc/43/3", "covid-19", "2020", "理事会", "决议"} <= set(toks)
    assert tokenize("resolution 43/1(2020)") == ["resolution", "43/1(2020)"]


def test_text_without_tokens():
    assert tokenize("") == [] and tokenize(" ？。, ") == [] and tokenize("的 了 the of") == []


# --- the index ----------------------------------------------------------------------------------------

def tiny_corpus() -> Corpus:
    paragraphs = [
        Paragraph(1, "乍得废除了死刑。", section=["报告", "死刑问题"]),
        Paragraph(2, "The Office trained staff after cyberattacks.", footnotes=[1]),
        Paragraph(3, "The Office supported migrants returning home.", section=["Report", "Migration"]),
        Paragraph(4, "的 了"),  # no token at all
    ]
    footnotes = [Footnote(1, "See resolution 43/1 on cybersecurity.", paragraph=2), Footnote(2, "Unattached note.")]
    return Corpus([Document("doc", "Report", "en", paragraphs, footnotes)])


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex.build(tiny_corpus())


def test_index_keys_and_document_frequencies(index):
    assert index.keys == [("doc", 1), ("doc", 2), ("doc", 3), ("doc", 4)]
    assert index.footnote_keys == [("doc", 2, 1)]  # a footnote of no paragraph is not searched
    assert index.doc_freq["office"] == 2 and index.doc_freq["死刑"] == 1
    assert index.doc_freq["∅"] == 1  # a paragraph without tokens is indexed as one placeholder


def test_scores_rank_the_paragraph_with_the_rarer_words(index):
    s = index.scores(tokenize("Which office helped migrants?"))
    assert s.shape == (4,) and s.dtype == np.float32
    assert int(np.argmax(s)) == 2 and s[1] > 0 and s[0] == 0 and s[3] == 0
    assert s[2] > s[1]  # both name the office, only one the migrants


def test_a_paragraph_is_found_by_its_footnotes_and_subsection_title(index):
    assert int(np.argmax(index.scores(tokenize("cybersecurity resolution 43/1")))) == 1  # its footnote's words
    assert int(np.argmax(index.scores(tokenize("migration")))) == 2  # its subsection title
    assert int(np.argmax(index.scores(tokenize("死刑问题")))) == 0
    assert not index.scores(tokenize("report")).any()  # the first section level (the report itself) is not


def test_scores_equal_bm25s_and_repeated_tokens_count_again(index):
    for toks in (["office", "migrants"], ["死刑", "§死刑"], ["office", "office", "staff"]):
        np.testing.assert_allclose(index.scores(toks), index.bm25.get_scores(toks), rtol=1e-5, atol=1e-6)
    assert index.scores(["office", "office"])[1] == pytest.approx(2 * index.scores(["office"])[1])
    assert not index.scores([]).any() and not index.scores(["unknown-token"]).any()


def test_footnote_scores(index):
    fs = index.footnote_scores(tokenize("cybersecurity"))
    assert fs.shape == (1,) and fs[0] > 0
    assert not index.footnote_scores(tokenize("migrants")).any()
    bare = LexicalIndex.build(Corpus([Document("d", "t", "en", [Paragraph(1, "Some text.")])]))
    assert bare.bm25_fn is None and bare.footnote_scores(["text"]).shape == (0,)
