"""PDF reader: typeset fixtures round-trip to their ground truth; headers, footers, footnote areas and
superscript markers are found from the layout. No model is loaded."""

from __future__ import annotations

import re

import pytest

from qa.ingest.pdf import extract_pages, layout, parse_pdf
from qa.ingest.structure import CorpusError
from qa.ingest.txt import parse
from tests.fixtures.compare import differences
from tests.fixtures.typeset import build_all, bundled_report, english_report, make_document, typeset_pdf


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return build_all(tmp_path_factory.getbasetemp() / "report-fixtures")


@pytest.fixture(scope="module")
def zh_doc(fixtures):
    return parse_pdf(fixtures["zh_pdf"], doc_id="zh")


def test_bundled_report_pdf_round_trips_exactly(zh_doc):
    ref, doc = bundled_report(), zh_doc
    assert (len(doc.paragraphs), len(doc.footnotes)) == (136, 32)
    assert differences(ref, doc) == []
    assert doc.warnings == []
    assert doc.language == "zh"
    assert doc.title == ref.title          # the bold title block of page 1
    assert doc.meta["detected_symbol"] == "A/75/36"
    assert doc.meta["pages"] >= 10


def test_english_report_pdf_round_trips_exactly(fixtures):
    ref = english_report()
    doc = parse_pdf(fixtures["en_pdf"], doc_id="en")
    assert (len(doc.paragraphs), len(doc.footnotes)) == (20, 6)
    assert differences(ref, doc) == []
    assert doc.meta["detected_symbol"] == "A/79/123" and doc.language == "en"
    # A marker right after a word (no punctuation) is found because it is raised, not by sequence.
    p4 = doc.paragraph(4)
    assert p4.footnotes == [2] and p4.text[: p4.markers[0].offset].endswith("National Judicial Academy")


def test_page_furniture_is_dropped(zh_doc):
    doc = zh_doc
    text = "\n".join(p.text for p in doc.paragraphs) + "\n".join(f.text for f in doc.footnotes)
    assert "A/75/36" not in text        # the running header
    assert "20-10717" not in text       # the job number in every footer
    assert not re.search(r"\b\d{1,2}/14\b", text)   # page numbers "3/14"


def test_paragraphs_run_across_pages(fixtures, zh_doc):
    pages, _ = extract_pages(fixtures["zh_pdf"])
    body = layout(pages).body
    first = {int(m.group(1)): i for i, r in enumerate(body) if (m := re.match(r"^(\d+)\.\s", r.text))}
    # ¶n starts on one page and its text goes on at the top of the next, before ¶n+1 starts.
    crossing = [n for n in range(1, 136) if n in first and n + 1 in first
                and any(body[i].page > body[first[n]].page for i in range(first[n] + 1, first[n + 1]))]
    assert len(crossing) >= 3, "the fixture should have paragraphs that continue on the next page"
    ref = bundled_report()
    for n in crossing:
        assert re.sub(r"\s", "", zh_doc.paragraph(n).text) == re.sub(r"\s", "", ref.paragraph(n).text)


def test_footnote_area_is_under_the_rule_in_a_smaller_font(fixtures):
    pages, _ = extract_pages(fixtures["zh_pdf"])
    lay = layout(pages)
    assert lay.notes and all(r.size < lay.body_size for r in lay.notes)
    assert lay.notes[0].text.startswith("本报告应与")          # footnote 1's number is a superscript
    assert lay.notes[0].markers[0] == ("1", 0)


def test_superscripts_not_sequences_make_markers(tmp_path):
    # "3.1 per cent" has a digit after punctuation where marker 1 is due: a sequence-only reader takes it.
    ref = make_document(
        [(["I. Introduction"], "Poverty fell to 3.1 per cent in 2024, the lowest rate recorded.[^1] The report "
                               "explains why.[^2]"),
         (["I. Introduction"], "Unemployment was 4.2 per cent.")],
        {1: ("National statistics office, annual survey.", []), 2: ("See annex.", [])},
        doc_id="t", title="Synthetic report on poverty", language="en")
    path = tmp_path / "t.pdf"
    typeset_pdf(ref, path, symbol="A/79/1", font_dir=tmp_path)
    doc = parse_pdf(path, doc_id="t")
    assert differences(ref, doc) == []
    assert "3.1 per cent" in doc.paragraph(1).text
    assert doc.paragraph(1).footnotes == [1, 2]


def test_backends_agree(fixtures):
    pytest.importorskip("pdfplumber")
    a = parse_pdf(fixtures["en_pdf"], doc_id="en", backend="pdfium")
    b = parse_pdf(fixtures["en_pdf"], doc_id="en", backend="pdfplumber")
    assert differences(a, b) == []


def test_text_free_pdf_is_refused(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(72, 72, 400, 600, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(CorpusError, match="no text layer; OCR is not supported"):
        parse_pdf(path, doc_id="s")


def test_text_parser_alone_cannot_read_the_pdf_text(fixtures):
    # Why the layout matters: plain extracted text loses the superscripts and the footnote areas.
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(fixtures["en_pdf"]))
    text = "\n".join(pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf)))
    try:
        doc = parse(text, doc_id="x")
    except CorpusError:
        return
    assert differences(english_report(), doc) != []
