"""qa.ingest.structure: the one document assembly every reader ends with, and the readers' imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qa.ingest.structure import CorpusError, assemble_document
from qa.types import Marker, Paragraph

INGEST = Path(__file__).resolve().parents[2] / "qa" / "ingest"


def _paragraphs() -> list[Paragraph]:
    return [Paragraph(1, "The Office acted.", ["Chapter I Introduction"], [1], [Marker(1, 17)]),
            Paragraph(2, "It reported to the Council.", [], [2], [Marker(2, 99)])]


def test_footnotes_attach_to_the_paragraph_that_cites_them():
    doc = assemble_document("d", _paragraphs(), {1: "See  www.ohchr.org .", 2: "A/HRC/43/3.", 3: "Orphan."},
                            expected="lines like '1. Text'", footnote_place="at the foot of the page",
                            links=["https://undocs.org/A/HRC/43/3"], warnings=["the reader's own"])
    assert [(f.n, f.paragraph) for f in doc.footnotes] == [(1, 1), (2, 2), (3, None)]
    assert doc.footnote(1).text == "See www.ohchr.org ." and doc.footnote(1).urls == ["https://www.ohchr.org"]
    assert doc.footnote(2).urls == ["https://undocs.org/A/HRC/43/3"]
    assert doc.paragraph(2).markers == [Marker(2, len("It reported to the Council."))]   # clamped to the text
    assert doc.warnings == ["the reader's own", "footnote 3 has no marker in any paragraph",
                            "¶2 has no section heading above it"]
    assert (doc.title, doc.language) == ("Chapter I Introduction", "en")


def test_a_marker_without_footnote_text_is_a_warning_with_its_page_where_known():
    doc = assemble_document("d", _paragraphs(), {}, expected="…", footnote_place="at the foot of the page",
                            marker_pages={2: 7})
    assert doc.footnotes == [] and doc.paragraph(1).footnotes == [1]
    assert doc.warnings[:2] == ["¶1: footnote marker 1 has no footnote text at the foot of the page",
                                "page 7, ¶2: footnote marker 2 has no footnote text at the foot of the page"]


def test_the_readers_title_and_language_win():
    doc = assemble_document("d", _paragraphs(), {1: "a", 2: "b"}, expected="…", footnote_place="…",
                            title="A report", language="fr")
    assert (doc.title, doc.language) == ("A report", "fr")


def test_no_paragraphs_is_refused_with_the_readers_hint():
    with pytest.raises(CorpusError, match=r"no numbered paragraphs found \(typed '1\.'\)"):
        assemble_document("d", [], {}, expected="typed '1.'", footnote_place="…")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("reader", ["pdf.py", "docx.py"])
def test_readers_take_the_grammar_from_structure_not_from_txt(reader):
    imported = _imports(INGEST / reader)
    assert "qa.ingest.structure" in imported
    assert not {"qa.ingest.txt", "qa.ingest.pdf", "qa.ingest.files"} & imported


def test_ingest_imports_nothing_from_embeddings():
    for path in INGEST.glob("*.py"):
        assert not [m for m in _imports(path) if m == "embeddings" or m.startswith("embeddings.")], path.name
