"""Language versions of one report (A/TEST/1 in zh, en and fr, tests/fixtures/versions.py): the alignment check
by ¶ and footnote number, the misaligned French version, answers quoted in the reader's version with the same
citations, the CLI (`qa versions`, `qa list`), the evidence panel and deep links. The fast tests use no model;
the end-to-end ones (marked slow) load the real engine over the three versions parsed from their files."""

from __future__ import annotations

import json

import pytest

from qa.answer.chat import ChatSession
from qa.answer.extractive import build_answer
from qa.answer.payload import answer_json
from qa.answer.versions import fuse_versions, in_reader_version, map_span, show_original_label
from qa.ingest.files import load_document
from qa.ingest.versions import align, alignments, neutral_tokens, sentence_map
from qa.retrieval.retriever import Hit, SearchResult
from qa.types import Corpus
from tests.fixtures.versions import SPLIT_PARAGRAPH, SYMBOL, build_versions, misaligned_report, report

ZH, EN, FR = "A-TEST-1-zh", "A-TEST-1-en", "A-TEST-1-fr"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return build_versions(tmp_path_factory.getbasetemp() / "version-fixtures")


@pytest.fixture
def three():
    return Corpus([report("zh"), report("en"), report("fr")])


# ------------------------------------------------------------------------------------------- alignment

def test_neutral_tokens_read_dates_and_numbers_alike_in_every_language():
    want = ["11", "150000", "17", "2024", "7.4"]
    assert neutral_tokens("17 November 2024: 150,000 people, 7.4 million") == want
    assert neutral_tokens("17 novembre 2024 : 150 000 personnes, 7,4 millions") == want
    assert neutral_tokens("2024年11月17日：150,000人，7.4") == want
    assert neutral_tokens("see https://undocs.org/A/77/301 and the 2 reports") == ["2"]  # addresses are compared apart
    assert neutral_tokens("They may leave in May.") == ["5"]  # "may" the verb is no month


def test_the_three_versions_align_paragraph_by_paragraph(three):
    al = align(three.documents)
    assert al.ok and al.original == ZH and [v.language for v in al.versions] == ["zh", "en", "fr"]
    for v in al.versions[1:]:
        assert v.misaligned == [] and v.footnotes_misaligned == []
        assert [c.n for c in v.checks if c.status == "unverified"] == [11]  # no number in ¶11: checked by neighbours
        assert all(v.aligned(n) for n in range(1, 16))
    zh, en = three.documents[0], three.documents[1]
    assert sentence_map(zh.paragraph(10), en.paragraph(10))
    assert alignments(three)[SYMBOL].symbol == SYMBOL


def test_the_split_paragraph_is_reported_with_its_number():
    al = align([report("zh"), report("en"), misaligned_report()])
    bad = al.version("A-TEST-1-fr-split")
    assert not al.ok and bad.misaligned[0] == SPLIT_PARAGRAPH == 7
    assert bad.misaligned == list(range(7, 17))  # the numbers after the split are off by one, ¶16 is extra
    assert all(bad.aligned(n) for n in range(1, 7)) and not any(bad.aligned(n) for n in range(7, 17))
    assert "¶7 of the original seems split in two" in bad.notes[0]
    assert "MISALIGNED: ¶7–16 misaligned" in bad.summary()
    assert al.version(EN).misaligned == []


def test_the_files_parse_to_the_same_alignment(files):
    docs = [load_document(files[f"{lang}_{kind}"]) for lang in ("zh", "en", "fr") for kind in ("pdf", "docx")]
    for d in docs:
        truth = report(d.language)
        assert d.meta["symbol"] == SYMBOL and [p.text for p in d.paragraphs] == [p.text for p in truth.paragraphs]
        assert [(f.n, f.paragraph, f.urls) for f in d.footnotes] == [(f.n, f.paragraph, f.urls) for f in truth.footnotes]
    assert align(docs).ok
    split = load_document(files["fr_split_pdf"])
    assert align([docs[0], split]).versions[1].misaligned[0] == 7


# ----------------------------------------------------------------------------------------------- answers

def _answer(corpus: Corpus, lang: str, hits: list[Hit]):
    result = fuse_versions(SearchResult("q", "hybrid", lang, hits, False, 0.9), corpus)
    return in_reader_version(build_answer("q", result, corpus, lang=lang), corpus, lang)


def test_sentence_spans_map_by_order_else_the_whole_paragraph(three):
    zh, en, fr = three.documents
    p, q = zh.paragraph(10), en.paragraph(10)
    s, e = p.spans[1]
    assert map_span(p, s, e, q) == (*q.spans[1], "sentence")
    assert q.text[slice(*q.spans[1])] == "The teams observed 63 rallies and received 88 complaints."
    # the French ¶5 reads as one sentence ("À la suite" is not split off): the whole ¶ is quoted
    assert map_span(zh.paragraph(5), *zh.paragraph(5).spans[0], fr.paragraph(5)) == (0, len(fr.paragraph(5).text),
                                                                                     "paragraph")


def test_an_english_reader_gets_english_quotes_with_the_chinese_citations(three):
    hits = [Hit(ZH, 10, 2.0, 1, [1], [4]), Hit(ZH, 4, 1.5, 2, [0])]
    zh = answer_json(_answer(three, "zh", [Hit(**vars(h)) for h in hits]))
    en = answer_json(_answer(three, "en", [Hit(**vars(h)) for h in hits]))
    assert [(q["paragraph"], q["footnotes"]) for q in en["quotes"]] == [(q["paragraph"], q["footnotes"])
                                                                        for q in zh["quotes"]]
    assert en["citations"] == [c.replace("注", "fn ") for c in zh["citations"]]
    assert en["citations"][0] == "[A/TEST/1 ¶10]"
    q = en["quotes"][0]
    assert (q["doc"], q["language"], q["version"], q["alignment"]) == (EN, "en", "reader", "sentence")
    assert q["text"] == "The teams observed 63 rallies and received 88 complaints."
    assert q["original"] == {"doc": ZH, "language": "zh", "text": "这些小组观察了63次集会，收到了88件投诉。",
                             "start": 38, "end": 60}
    fn = next(q for q in en["quotes"] if q["source"] == "footnote")
    assert fn["text"].startswith("Statement of the Office of 30 October 2023") and fn["original"]["language"] == "zh"
    card = en["paragraphs"][0]
    assert card["doc"] == EN and card["text"].startswith("Ahead of the local elections") and card["original"]["doc"] == ZH
    assert all(q["language"] == "zh" and q["original"] is None for q in zh["quotes"])


def test_a_french_reader_gets_french_and_a_spanish_reader_the_original(three):
    fr = _answer(three, "fr", [Hit(ZH, 4, 1.5, 1, [0])])
    assert fr.quotes[0].text.startswith("Le Bureau a formé 240 juges et 118 procureurs")
    assert fr.quotes[0].citation == "[A/TEST/1 ¶4, note 2]" and fr.paragraphs[0].doc == FR
    es = answer_json(_answer(three, "es", [Hit(ZH, 4, 1.5, 1, [0])]))
    assert es["quotes"][0]["doc"] == ZH and es["quotes"][0]["text"].startswith("办事处与国家法官学院合作")
    assert es["quotes"][0]["original"] is None and es["paragraphs"][0]["official"]["links"][0]["lang"] == "es"
    found_in_en = _answer(three, "es", [Hit(EN, 4, 1.5, 1, [0])])  # found in English: quoted in the original
    assert found_in_en.quotes[0].doc == ZH and found_in_en.quotes[0].text.startswith("办事处与国家法官学院合作")


def test_hits_on_one_paragraph_of_several_versions_are_fused(three):
    result = fuse_versions(SearchResult("q", "hybrid", "en", [Hit(EN, 3, 2.0, 1, [0]), Hit(ZH, 3, 1.9, 2, [0], [1]),
                                                               Hit(FR, 4, 1.0, 3, [0])], False, 0.9), three)
    assert [(h.doc, h.paragraph, h.rank) for h in result.hits] == [(EN, 3, 1), (FR, 4, 2)]
    assert result.hits[0].footnotes == [1]


def test_misaligned_paragraphs_are_not_quoted_as_aligned():
    corpus = Corpus([report("zh"), report("en"), misaligned_report()])
    ans = _answer(corpus, "fr", [Hit(ZH, 10, 2.0, 1, [1]), Hit(ZH, 4, 1.5, 2, [0])])
    by_n = {q.paragraph: q for q in reversed(ans.quotes)}  # the first quote of each ¶
    tenth = [q for q in ans.quotes if q.paragraph == 10]
    assert {q.doc for q in tenth} == {ZH} and "这些小组观察了63次集会，收到了88件投诉。" in {q.text for q in tenth}
    assert all("¶10 of the fr version does not line up" in q.note for q in tenth)
    assert by_n[10].citation == "[A/TEST/1 ¶10]"
    assert by_n[4].doc == "A-TEST-1-fr-split" and by_n[4].text.startswith("Le Bureau a formé")  # ¶4 is aligned
    # a hit found in the split version's own ¶8 (the second half of the original ¶7) is quoted as found, with a note
    found = _answer(corpus, "fr", [Hit("A-TEST-1-fr-split", 8, 2.0, 1, [0])])
    assert found.quotes[0].doc == "A-TEST-1-fr-split" and "quoted as found" in found.quotes[0].note
    assert found.quotes[0].original is None


def test_one_version_per_report_changes_nothing():
    corpus = Corpus([report("zh")])
    ans = _answer(corpus, "en", [Hit(ZH, 4, 1.5, 1, [0])])
    assert type(ans.quotes[0]).__name__ == "Quote" and ans.quotes[0].citation == "[¶4, fn 2]"


# ------------------------------------------------------------------------------------------- CLI and app

def test_cli_versions_and_list(files, tmp_path, monkeypatch, capsys):
    from qa.app.cli import main

    monkeypatch.setenv("REPORT_QA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REPORT_QA_LIBRARY", str(tmp_path / "library"))
    for name in ("zh_docx", "en_pdf", "fr_split_docx"):
        assert main(["add", str(files[name]), "--no-index", "--json"]) == 0
    notes = json.loads(capsys.readouterr().out.splitlines()[-1])["added"][0]["notes"]
    assert any("¶7–16 misaligned" in n for n in notes) and any("¶7 of the original seems split" in n for n in notes)
    assert main(["versions", "a/test/1"]) == 0
    out = capsys.readouterr().out
    assert "the original" in out and "aligned: every ¶ and footnote" in out and "MISALIGNED: ¶7–16" in out
    assert main(["versions", SYMBOL, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    misaligned = {v["doc"]: v["misaligned"] for v in data["versions"]}  # added in one second: the original is by id
    assert data["ok"] is False and misaligned["A-TEST-1-fr"][:2] == [7, 8] and misaligned[ZH] == misaligned[EN] == []
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "A/TEST/1: 3 language versions (" in listed and all(f"  {d} " in listed for d in (ZH, EN, "A-TEST-1-fr"))
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["versions"][0]["symbol"] == SYMBOL
    assert main(["versions", "X/1"]) == 2


def test_evidence_panel_shows_the_original_behind_a_toggle(three):
    from qa.app.ui.deeplink import linked_paragraph_html
    from qa.app.ui.render import answer_text, evidence_html

    ans = _answer(three, "en", [Hit(ZH, 10, 2.0, 1, [1])])
    page = evidence_html(ans, lang="en")
    assert '<details class="rqa-original" data-lang="zh"><summary>Show the Chinese text (the original)</summary>' in page
    assert "<mark>The teams observed 63 rallies" in page and "<mark>这些小组观察了63次集会" in page
    assert "[zh] 在2023年11月5日" in answer_text(ans)
    linked = linked_paragraph_html(three, f"?p=3&doc={ZH}&lang=fr")
    assert "Le 14 mars 2023" in linked and "Afficher le texte original (chinois)" in linked
    assert "2023年3月14日" in linked_paragraph_html(three, f"?p=3&doc={ZH}&lang=es")  # no Spanish version: the original
    assert show_original_label("zh", "en") == "显示原文（英语）"


# ------------------------------------------------------------------------------ end to end (the real model)

@pytest.fixture(scope="module")
def versions_engine(files, qa_home):
    from qa.engine import load_engine
    from qa.ingest import load_corpus
    from qa.retrieval.index import IndexHome

    docs = [load_document(files["zh_docx"]), load_document(files["en_pdf"]), load_document(files["fr_docx"])]
    for d in docs:
        d.id = f"A-TEST-1-{d.language}"
    corpus = Corpus(load_corpus().documents + docs)
    return load_engine(corpus, home=IndexHome.resolve(qa_home), quiet=True)


QUESTIONS = {
    "en": "How many judges and prosecutors did the Office train in Ruritania?",
    "fr": "Combien de juges et de procureurs le Bureau a-t-il formés en Ruritanie ?",
    "zh": "办事处在鲁里塔尼亚培训了多少名法官和检察官？",
    "es": "¿Cuántos jueces y fiscales formó la Oficina?",  # ("en Ruritania" draws ¶14, "the rule of law in Ruritania")
}


@pytest.mark.slow
def test_end_to_end_each_reader_gets_their_version(versions_engine):
    answers = {lang: answer_json(ChatSession(versions_engine).ask(q)) for lang, q in QUESTIONS.items()}
    for lang, a in answers.items():
        assert a["covered"] and a["quotes"][0]["paragraph"] == 4, (lang, a["quotes"])
    cites = {lang: [(q["paragraph"], q["footnotes"]) for q in a["quotes"] if q["paragraph"] == 4]
             for lang, a in answers.items()}
    assert cites["en"] == cites["zh"] == cites["fr"]
    en, fr, zh, es = (answers[k]["quotes"][0] for k in ("en", "fr", "zh", "es"))
    assert en["doc"] == EN and en["text"].startswith("The Office trained 240 judges and 118 prosecutors")
    assert en["original"]["language"] == "zh" and "240名法官" in en["original"]["text"]
    assert fr["doc"] == FR and fr["text"].startswith("Le Bureau a formé 240 juges")
    assert zh["language"] == "zh" and "240名法官和118名检察官" in zh["text"]
    assert es["citation"].startswith("[A/TEST/1 ¶4") and (es["doc"], es["version"]) == (ZH, "original")  # no es version
    assert answers["es"]["paragraphs"][0]["official"]["links"][0]["url"] == "https://undocs.org/es/A/TEST/1"
