"""Report text (as a PDF extraction leaves it) → `Document`: lines through the layout grammar of
`qa.ingest.structure`, footnote blocks after a `______` rule, the page's hyperlinks printed after the block.

`load_document(path)` reads a UTF-8 report text and its metadata sidecar (`<name>.json`: id, title,
language, period).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from qa.ingest.structure import (
    LINK_LINE_RE,
    RULE_RE,
    CorpusError,
    LineState,
    assemble_document,
    body_line,
    doc_id_for,
    extract_markers,
    footnote_line,
)
from qa.types import Document


def parse(text: str, *, doc_id: str = "doc", title: str = "", language: str = "") -> Document:
    """Parse one report text into a `Document`. Raises `CorpusError` on input it cannot use."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise CorpusError("the text is empty; give a report text with numbered paragraphs")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    lines = text.splitlines()
    st = LineState()
    for i, raw in enumerate(lines):
        raw = raw.rstrip("\r")
        line = raw.strip()
        if not line:
            continue
        if RULE_RE.match(line):
            st.in_block, st.open_footnote = True, None
            continue
        if LINK_LINE_RE.match(line):
            st.links.append(line)
            st.in_block, st.open_footnote = False, None
            continue
        if st.in_block:
            if footnote_line(st, line, raw):
                continue
            st.in_block, st.open_footnote = False, None
        body_line(st, line, raw, lines, i)
    return assemble_document(
        doc_id, extract_markers(st.paragraphs), {n: fn.text for n, fn in st.footnotes.items()},
        expected="expected lines like '1. Text'", footnote_place="in the page's footnote block",
        title=title, language=language, links=st.links, warnings=st.warnings)


def read_text(path: Path) -> str:
    """Read a report file as UTF-8, turning every failure into a `CorpusError`."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file; give the path of a report text (.txt)")
    if path.is_dir():
        raise CorpusError(f"{path}: is a directory; give the path of a report text (.txt)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror})") from exc
    if not data.strip():
        raise CorpusError(f"{path}: the file is empty; give a report text with numbered paragraphs")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path}: not UTF-8 text (bad byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it first, e.g. iconv -f GB18030 -t UTF-8"
        ) from exc


def load_document(path: str | Path) -> Document:
    """Parse a report file; metadata (id, title, language, period) comes from a sidecar .json."""
    path = Path(path)
    text = read_text(path)
    meta: dict = {}
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorpusError(f"{sidecar}: metadata is not valid JSON ({exc})") from exc
    doc_id = meta.get("id") or doc_id_for(path)
    try:
        doc = parse(text, doc_id=doc_id, title=meta.get("title", ""), language=meta.get("language", ""))
    except CorpusError as exc:
        raise CorpusError(f"{path}: {exc}") from exc
    doc.meta = meta
    return doc
