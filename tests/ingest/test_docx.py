"""Word reader: list numbering counted as Word does, footnotes from the footnotes part, headings from
styles; the typeset fixtures round-trip to their ground truth. No model is loaded."""

from __future__ import annotations

import re
import zipfile

import pytest

from qa.ingest.docx import Numbering, _safe_xml, format_number, parse_docx
from tests.fixtures.compare import differences
from tests.fixtures.typeset import build_all, bundled_report, english_report, make_document, write_docx

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return build_all(tmp_path_factory.getbasetemp() / "report-fixtures")


def test_bundled_report_docx_round_trips_exactly(fixtures):
    doc = parse_docx(fixtures["zh_docx"], doc_id="zh")
    assert (len(doc.paragraphs), len(doc.footnotes)) == (136, 32)
    assert differences(bundled_report(), doc) == []
    assert doc.warnings == []
    assert doc.meta["detected_symbol"] == "A/75/36"
    assert doc.meta["date"] == "2020-08-14"


def test_the_numbers_are_not_in_the_text(fixtures):
    with zipfile.ZipFile(fixtures["zh_docx"]) as z:
        xml = z.read("word/document.xml").decode()
    assert "<w:numPr>" in xml and "第一章" not in xml and ">1. " not in xml
    with zipfile.ZipFile(fixtures["zh_docx"]) as z:
        assert "w:footnoteReference" in xml and "word/footnotes.xml" in z.namelist()


def test_english_docx_round_trips_exactly(fixtures):
    doc = parse_docx(fixtures["en_docx"], doc_id="en")
    assert differences(english_report(), doc) == []
    assert doc.paragraph(1).section == ["I. Introduction"]


def test_section_numbering_restarts_per_chapter(tmp_path):
    ref = make_document(
        [(["I. First", "A. One"], "Text one.[^1]"), (["I. First", "B. Two"], "Text two."),
         (["II. Second", "A. Three", "1. Sub"], "Text three."), (["II. Second", "A. Three", "2. Sub two"], "Four."),
         (["II. Second", "B. Four", "1. Sub again"], "Five.")],
        {1: ("A note.", [])}, doc_id="r", title="Restart test", language="en")
    path = tmp_path / "r.docx"
    write_docx(ref, path, symbol="A/1/2")
    doc = parse_docx(path, doc_id="r")
    assert differences(ref, doc) == []
    assert doc.paragraph(5).section == ["II. Second", "B. Four", "1. Sub again"]


def _numbering(xml: str) -> Numbering:
    return Numbering.from_xml(_safe_xml(f'<w:numbering xmlns:w="{W_NS}">{xml}</w:numbering>'.encode()))


def test_numbering_counts_as_word_does():
    num = _numbering(
        '<w:abstractNum w:abstractNumId="0">'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="upperRoman"/><w:lvlText w:val="%1."/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="(%2)"/></w:lvl>'
        '</w:abstractNum>'
        '<w:abstractNum w:abstractNumId="1"><w:lvl w:ilvl="0"><w:start w:val="5"/><w:numFmt w:val="decimal"/>'
        '<w:lvlText w:val="%1."/></w:lvl></w:abstractNum>'
        '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
        '<w:num w:numId="2"><w:abstractNumId w:val="0"/></w:num>'
        '<w:num w:numId="3"><w:abstractNumId w:val="0"/><w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/>'
        '</w:lvlOverride></w:num>'
        '<w:num w:numId="4"><w:abstractNumId w:val="1"/></w:num>')
    labels = [num.label(n, lv)[0] for n, lv in
              [("1", 0), ("1", 1), ("1", 1), ("1", 0), ("1", 1), ("2", 0), ("3", 0), ("4", 0), ("4", 0), ("9", 0)]]
    # deeper levels restart under a new parent; two lists on one abstract share its counter;
    # a start override restarts it; <w:start> sets the first number; an unknown list has no label.
    assert labels == ["I.", "(a)", "(b)", "II.", "(a)", "III.", "I.", "5.", "6.", ""]


@pytest.mark.parametrize("n,fmt,out", [(1, "chineseCounting", "一"), (10, "chineseCounting", "十"),
                                       (23, "chineseCounting", "二十三"), (4, "upperRoman", "IV"),
                                       (28, "upperLetter", "BB"), (3, "lowerRoman", "iii"), (7, "decimal", "7")])
def test_format_number(n, fmt, out):
    assert format_number(n, fmt) == out


def test_numbering_gap_is_a_warning(tmp_path, fixtures):
    # Typed numbers that jump (¶1 then ¶5) are read, with a warning that names the Word paragraph.
    src = zipfile.ZipFile(fixtures["en_docx"])
    path = tmp_path / "jump.docx"
    with zipfile.ZipFile(path, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                text = data.decode()
                text = text.replace('<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>', "")
                text = text.replace(">The present report", ">1. The present report", 1)
                text = text.replace(">During the reporting period", ">5. During the reporting period", 1)
                data = text.encode()
            out.writestr(item, data)
    doc = parse_docx(path, doc_id="j")
    assert [p.n for p in doc.paragraphs] == [1, 5]
    assert any(re.match(r"Word paragraph \d+ \(after ¶1\): ¶5 follows ¶1; ¶2–¶4 not found", w) for w in doc.warnings)
