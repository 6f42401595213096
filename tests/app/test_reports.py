"""Several reports in one app (qa/app/ui/reports.py), without a browser or the real model: citations name the report
when more than one is loaded, a question can be limited to one report, and adding / removing a report rebuilds the
engine incrementally and swaps it in. The browser test is in tests/app/test_reports_browser.py."""

from __future__ import annotations

import pytest

from qa.answer.chat import ChatSession
from qa.answer.extractive import report_label
from qa.answer.i18n import cite
from qa.errors import UserError
from qa.retrieval.retriever import SearchResult
from qa.types import Corpus
from tests.conftest import FakeEncoder
from tests.fixtures.typeset import ENGLISH_SYMBOL, english_report

SYMBOL = ENGLISH_SYMBOL  # english_pdf (tests/conftest.py) is typeset with it
QUESTION = "How many judges did the Office in Freedonia train in 2024?"


@pytest.fixture(scope="module")
def bundled():
    from qa.ingest import load_corpus

    return load_corpus().documents[0]


def test_cite_names_the_report_only_when_given_one():
    assert cite(25) == "[¶25]" and cite(10, [4], "zh") == "[¶10, 注4]"
    assert cite(25, doc="A/75/36") == "[A/75/36 ¶25]"
    assert cite(10, [4], "en", "A/79/123") == "[A/79/123 ¶10, fn 4]"
    assert cite(10, [4, 5], "zh", "A/75/36") == "[A/75/36 ¶10, 注4, 注5]"


def test_report_label_names_the_report_when_several_are_loaded(bundled):
    en = english_report()
    assert report_label(bundled, Corpus([bundled])) is None          # one report: [¶25] as before
    assert report_label(en, Corpus([bundled, en])) == en.id           # no symbol: its id
    en.meta["symbol"] = SYMBOL
    assert report_label(en, Corpus([bundled, en])) == SYMBOL
    assert report_label(bundled, Corpus([bundled, en])) == bundled.meta["symbol"] == "A/75/36"
    twin = english_report()
    twin.id, twin.language, twin.meta["symbol"] = "freedonia-fr", "fr", "A/79/ 123"
    assert report_label(en, Corpus([bundled, en, twin])) == f"{SYMBOL} (en)"  # two versions: the language too


class _Engine:
    """Just enough of an Engine for ChatSession: a corpus and a retriever that records its calls."""

    def __init__(self, corpus):
        self.corpus = corpus
        self.calls = []
        outer = self

        class R:
            def entities(self, text, language=None):
                return []

            def search(self, query, **kw):
                outer.calls.append(kw)
                return SearchResult(query, kw.get("mode", "hybrid"), "en", [], False, 0.0)

        self.retriever = R()


def test_chat_session_limits_lookups_and_searches_to_one_report(bundled):
    en = english_report()
    en.meta["symbol"] = SYMBOL
    eng = _Engine(Corpus([bundled, en]))
    ans = ChatSession(eng, docs=[en.id]).ask("¶4")
    assert ans.quotes[0].doc == en.id and ans.quotes[0].citation == f"[{SYMBOL} ¶4, fn 2]"
    assert "312 judges" in ans.quotes[0].text
    assert ChatSession(eng, docs=[en.id]).ask("paragraph 6").quotes[0].citation == f"[{SYMBOL} ¶6]"
    assert ChatSession(eng).ask("¶4").quotes[0].citation.startswith("[A/75/36 ¶4")  # all reports: the bundled one
    ChatSession(eng, docs=[en.id]).ask(QUESTION)
    ChatSession(eng).ask(QUESTION)
    assert eng.calls[0]["docs"] == [en.id] and eng.calls[1]["docs"] is None
    with pytest.raises(UserError, match="no report 'gone'"):
        ChatSession(eng, docs=["gone"]).ask(QUESTION)


# ------------------------------------------------------------------------------ add / remove in the app

@pytest.fixture
def live(tmp_path, monkeypatch, bundled):
    """A LiveEngine over the bundled report with a fake encoder (no model), a temporary library and cache."""
    from qa.app.ui.loading import EngineHandle
    from qa.app.ui.reports import LiveEngine
    from qa.engine import Engine
    from qa.ingest.library import Library
    from qa.retrieval.index import IndexHome, open_index
    from qa.retrieval.lexical import LexicalIndex
    from qa.retrieval.retriever import Retriever

    monkeypatch.setenv("REPORT_QA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REPORT_QA_LIBRARY", str(tmp_path / "library"))
    corpus = Corpus([bundled])
    store, report = open_index(corpus, FakeEncoder("fake-e5"), home=IndexHome.resolve(), quiet=True)
    engine = Engine(corpus, Retriever(corpus, {"e5": (FakeEncoder("fake-e5"), store)}, LexicalIndex.build(corpus)),
                    [report])
    return LiveEngine(EngineHandle.of(engine), library=Library())


def test_upload_parses_then_joins_the_index_then_is_removed(live, english_pdf):
    from qa.app.ui.reports import ALL, ReportManager, summary_markdown

    mgr = ReportManager(live)
    first = live.current()
    seen = []
    result = mgr.parse(english_pdf, name="freedonia.en.pdf", progress=lambda f, m: seen.append(f))
    summary = summary_markdown(result)
    assert "20 paragraphs" in summary and "6 footnotes" in summary and "Warnings: none" in summary
    assert SYMBOL in summary.replace("\\", "") and seen[-1] == 1.0
    assert [d.id for d in live.corpus.documents] == [first.corpus.documents[0].id]  # parsed, not yet in the index

    steps = []
    reports = mgr.join_index(result, lambda done, total: steps.append((done, total)))
    doc_id = result.entry.id
    assert [d.id for d in live.corpus.documents] == [first.corpus.documents[0].id, doc_id]
    assert live.current() is not first and len(first.corpus.documents) == 1  # swapped, the old engine untouched
    (r,) = reports
    assert 0 < r["embedded"] < r["units"] and r["embedded"] + r["reused"] <= r["units"]  # only the new text (once each)
    assert (doc_id, doc_id) in [(v, v) for _, v in mgr.choices()] and mgr.choices()[0][1] == ALL

    ans = ChatSession(live.current(), "dense", docs=[doc_id]).ask(QUESTION)
    assert ans.quotes and {q.doc for q in ans.quotes} == {doc_id}
    assert all(q.citation.startswith(f"[{SYMBOL} ¶") for q in ans.quotes)
    zh = ChatSession(live.current(), "dense", docs=[first.corpus.documents[0].id]).ask("乍得废除了哪项法律中的死刑？")
    assert all(q.citation.startswith("[A/75/36 ¶") for q in zh.quotes)

    again = mgr.parse(english_pdf, name="freedonia.en.pdf")   # the same file: nothing changes, no rebuild
    assert not again.added and mgr.join_index(again) == []

    mgr.remove(doc_id)
    assert [d.id for d in live.corpus.documents] == [first.corpus.documents[0].id]
    assert mgr.library.entries() == []
    back = ChatSession(live.current(), "dense").ask("fn 6")
    assert back.quotes[0].citation == "[¶25, fn 6]"            # one report again: citations as before


def test_bad_uploads_are_refused_before_parsing(live, tmp_path, english_pdf):
    from qa.app.ui.reports import ReportManager

    mgr = ReportManager(live)
    md = tmp_path / "notes.md"
    md.write_text("1. A paragraph.\n")
    with pytest.raises(UserError, match="only .pdf, .docx, .txt"):
        mgr.parse(md)
    with pytest.raises(UserError, match="choose a PDF"):
        mgr.parse(None)
    with pytest.raises(UserError, match="unsafe file name"):
        mgr.parse(english_pdf, name="../freedonia.en.pdf")
    assert mgr.library.entries() == []


def test_a_report_that_cannot_be_indexed_leaves_the_library_as_it_was(live, english_pdf):
    from qa.app.ui.reports import ReportManager

    def fail(*_a, **_k):
        raise UserError("the model is still loading")

    live._rebuild = fail
    mgr = ReportManager(live)
    result = mgr.parse(english_pdf)
    assert len(mgr.library.entries()) == 1
    with pytest.raises(UserError):
        mgr.join_index(result)
    assert mgr.library.entries() == [] and len(live.corpus.documents) == 1


def test_paragraph_browser_works_per_report(live, english_pdf):
    from qa.app.ui.reports import ReportManager, browser_paragraph

    mgr = ReportManager(live)
    result = mgr.parse(english_pdf)
    mgr.join_index(result)
    doc_id = result.entry.id
    n, card, doc = browser_paragraph(live.corpus, doc_id, "99")
    assert doc.id == doc_id and n == 20 and "data-paragraph=\"20\"" in card   # clamped to this report's ¶1–¶20
    n, card, doc = browser_paragraph(live.corpus, None, "25")
    assert doc.id == live.corpus.documents[0].id and n == 25
