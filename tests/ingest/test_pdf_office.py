"""PDF reader on reports as LibreOffice exports them (the committed PDFs of tests/fixtures/office_pdfs.py):
the bundled report and the English synthetic report, each on A4, Letter, PDF/A-2b and tagged PDF, give
exactly what their ground truth holds. No office suite and no model is needed."""

from __future__ import annotations

import re

import pytest

from qa.ingest.pdf import parse_pdf
from tests.fixtures.compare import differences
from tests.fixtures.office_pdfs import EXPORTS, office_pdf
from tests.fixtures.typeset import bundled_report, english_report


def _without_urls(diffs: list[str]) -> list[str]:
    # LibreOffice 7.4 writes no link annotations for hyperlinks inside footnotes, so a footnote's address is
    # read from its text alone (the scheme, http or https, is not printed); urls are checked separately.
    return [d for d in diffs if not re.match(r"fn \d+ urls:", d)]


@pytest.fixture(scope="module")
def refs():
    return {"zh": bundled_report(), "en": english_report()}


@pytest.mark.parametrize("export", list(EXPORTS))
def test_bundled_report_office_export_matches_the_text_parser(refs, export):
    ref = refs["zh"]
    doc = parse_pdf(office_pdf("zh", export), doc_id="zh")
    assert (len(doc.paragraphs), len(doc.footnotes)) == (136, 32)
    assert _without_urls(differences(ref, doc)) == []     # text ignoring whitespace, sections, attachment
    assert [f.paragraph for f in doc.footnotes] == [f.paragraph for f in ref.footnotes]
    assert doc.warnings == []
    assert doc.language == "zh" and doc.meta["detected_symbol"] == "A/75/36"
    # ¶21 starts with a year: the list number is found by layout, the year stays text.
    assert doc.paragraph(21).text.startswith("2019")


@pytest.mark.parametrize("export", list(EXPORTS))
def test_english_report_office_export_gives_its_exact_counts(refs, export):
    ref = refs["en"]
    doc = parse_pdf(office_pdf("en", export), doc_id="en")
    assert (len(doc.paragraphs), len(doc.footnotes)) == (20, 6)
    assert _without_urls(differences(ref, doc)) == []
    assert doc.warnings == []
    assert doc.meta["detected_symbol"] == "A/79/123" and doc.language == "en"
    # Written addresses are still found in the footnote text.
    assert [u.split("://")[1] for u in doc.footnotes[1].urls] == \
        ["www.judicial-academy.example.org/annual-report-2024.pdf"]


def test_exports_are_what_they_say():
    letter = office_pdf("zh", "letter").read_bytes()
    assert re.search(rb"/MediaBox\s*\[\s*0 0 612 792\s*\]", letter)
    assert b"pdfaid:part" in office_pdf("zh", "pdfa").read_bytes()
    assert b"/StructTreeRoot" in office_pdf("zh", "tagged").read_bytes()
    assert b"/StructTreeRoot" not in office_pdf("zh", "a4").read_bytes()
