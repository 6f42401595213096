"""PDF report → `Document`, from the page layout rather than from extracted text alone.

Steps, each a pure function over plain records:

1. `extract_pages` (pdfplumber, MIT; `backend="pdfium"` reads the same records with pypdfium2):
   every upright glyph with its box, baseline, size and font; horizontal and vertical strokes; link targets.
2. `rows_of`: glyphs grouped into text rows by baseline. A cluster of small glyphs raised above the
   row below it (smaller size, higher baseline) is that row's superscript: footnote markers are found
   this way, not by guessing from digit sequences (a footnote's own number, set before a tab as office
   suites do, joins its row too). A page with a gutter down its middle is read as two columns, left first.
   Rows inside a ruled table (three cell borders or more) are marked.
3. Page furniture is dropped: rows in the top or bottom band that repeat across pages once digits are
   masked, or that consist only of page numbers, job numbers (`GE.20-10717 (C)`), dates and document
   symbols (`A/75/36`; the most frequent one becomes `meta["symbol"]`).
4. The footnote area is what lies under a short horizontal rule in a smaller font (without a rule:
   the smaller-font rows at the page foot that start with a number).
5. Body rows go through the paragraph / heading state machine of `qa.ingest.structure`, the one the text
   reader uses, so paragraph numbering, sections and continuation across pages follow exactly the same
   rules as for text; footnote rows through its footnote-block rules. Superscript markers are carried to
   the paragraph offset where they sat. Layout settles what text alone cannot: a list number touching its
   text ("21.2019 年") counts where the row starts like the other numbered rows or hangs; a number alone on
   its row joins the text after it; a row left of a finished paragraph does not continue it; bold type
   tells a heading. A numbering gap or an out-of-order number, a table and an annex (its numbering
   restarts) are warnings, and reading goes on; only a report with no numbered paragraph is refused.
   Warnings name the page and the paragraph.
6. `assemble_document` (`qa.ingest.structure`) makes the `Document`, by the rules all readers share.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.ingest.structure import (
    CHAPTER_RE,
    FOOTNOTE_LINE_RE,
    NUMBERED_RE,
    ROMAN_CHAPTER_RE,
    SECTION_RE,
    SYMBOL_RE,
    CorpusError,
    LineState,
    assemble_document,
    body_line,
    ends_complete,
    footnote_line,
    join_lines,
)
from qa.types import Document, Marker, Paragraph

Progress = Callable[[int, int], None]

_FURNITURE_TOKEN = re.compile(
    r"^(?:\d{1,4}(?:/\d{1,4})?|-\s?\d{1,4}\s?-|\(?[A-Z]\)|(?:GE|NY|V|E)\.\d{2}-\d{4,6}|\d{2}-\d{4,6}(?:X)?"
    r"|\d{6}|\*\d{7,}\*|[Pp]age|[Pp]ágina|[Pp]ag\.?)$"
)
_BOLD = re.compile(r"bold|black|heavy|semibold|demi|,b\b", re.IGNORECASE)


@dataclass
class Char:
    text: str
    x0: float
    x1: float
    baseline: float     # distance of the baseline from the page top
    size: float
    font: str = ""

    @property
    def bold(self) -> bool:
        return bool(_BOLD.search(self.font))


@dataclass
class PageData:
    number: int
    width: float
    height: float
    chars: list[Char]
    rules: list[tuple[float, float, float]]    # (x0, x1, y from the top) of horizontal strokes
    links: list[str] = field(default_factory=list)
    vrules: list[tuple[float, float, float]] = field(default_factory=list)   # (x, top, bottom) of vertical strokes


@dataclass
class Row:
    page: int
    baseline: float
    size: float
    chars: list[Char]
    sup: list[Char] = field(default_factory=list)   # superscript glyphs merged into this row
    text: str = ""
    markers: list[tuple[str, int]] = field(default_factory=list)   # (superscript digits, offset in text)
    bold: bool = False
    x0: float = 0.0
    table: bool = False     # inside a ruled table: a vertical stroke crosses the row between its glyphs


@dataclass
class PdfInfo:
    pages: int
    metadata: dict


# ------------------------------------------------------------------------------------------ reading

def _pdfplumber_pages(path: Path, progress: Progress | None = None) -> tuple[list[PageData], PdfInfo]:
    import pdfplumber  # an optional second backend (installed with the test extra), so imported on use
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException

    try:
        pdf = pdfplumber.open(path)
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise CorpusError(f"{path.name}: the PDF is encrypted; remove its password (e.g. qpdf --decrypt) "
                          "and add it again") from exc
    except (PDFSyntaxError, PSException) as exc:
        raise CorpusError(f"{path.name}: not a readable PDF ({exc.__class__.__name__}); "
                          "the file may be damaged or cut off") from exc
    try:
        pages: list[PageData] = []
        try:
            n_pages = len(pdf.pages)
        except Exception as exc:  # pdfminer raises many kinds on a damaged page tree
            raise CorpusError(f"{path.name}: the PDF's page tree is damaged ({exc.__class__.__name__})") from exc
        if n_pages == 0:
            raise CorpusError(f"{path.name}: the PDF has no pages")
        for i, page in enumerate(pdf.pages, start=1):
            top = page.mediabox[3]
            chars = [
                Char(c["text"], c["x0"], c["x1"], top - c["matrix"][5], round(c["size"], 2), c.get("fontname", ""))
                for c in page.chars if c.get("upright", True) and c["text"]
            ]
            rules = [(ln["x0"], ln["x1"], ln["top"]) for ln in page.lines if abs(ln["top"] - ln["bottom"]) < 1.5]
            rules += [(r["x0"], r["x1"], (r["top"] + r["bottom"]) / 2) for r in page.rects
                      if r["bottom"] - r["top"] < 1.5 and r["x1"] - r["x0"] > 10]
            links = [h["uri"] for h in page.hyperlinks if h.get("uri")]
            vrules = [(ln["x0"], ln["top"], ln["bottom"]) for ln in page.lines
                      if abs(ln["x0"] - ln["x1"]) < 1.5 and ln["bottom"] - ln["top"] > 5]
            vrules += [((r["x0"] + r["x1"]) / 2, r["top"], r["bottom"]) for r in page.rects
                       if r["x1"] - r["x0"] < 1.5 and r["bottom"] - r["top"] > 5]
            pages.append(PageData(i, float(page.width), float(page.height), chars, rules, links, vrules))
            if progress:
                progress(i, n_pages)
        return pages, PdfInfo(n_pages, dict(pdf.metadata or {}))
    except CorpusError:
        raise
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise CorpusError(f"{path.name}: the PDF is encrypted; remove its password and add it again") from exc
    except Exception as exc:  # pdfminer's errors on damaged files are not one hierarchy
        raise CorpusError(f"{path.name}: the PDF could not be read ({exc.__class__.__name__}: {exc}); "
                          "the file may be damaged or cut off") from exc
    finally:
        pdf.close()


def _pdfium_pages(path: Path, progress: Progress | None = None) -> tuple[list[PageData], PdfInfo]:
    import ctypes

    import pypdfium2 as pdfium  # PDFium loads with the first PDF, not at start-up
    import pypdfium2.raw as raw

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        # PDFium's error code is global and can be stale, so look at the file itself.
        data = path.read_bytes()
        if re.search(rb"/Encrypt\s", data):
            raise CorpusError(f"{path.name}: the PDF is encrypted; remove its password (e.g. qpdf --decrypt) "
                              "and add it again") from exc
        if re.search(rb"/Type\s*/Pages\b[^>]*/Count\s+0\b", data) or re.search(rb"/Count\s+0\b[^>]*/Type\s*/Pages\b", data):
            raise CorpusError(f"{path.name}: the PDF has no pages") from exc
        raise CorpusError(f"{path.name}: not a readable PDF; the file may be damaged or cut off") from exc
    try:
        if len(pdf) == 0:
            raise CorpusError(f"{path.name}: the PDF has no pages")
        pages = []
        buf = ctypes.create_string_buffer(256)
        for i in range(len(pdf)):
            page = pdf[i]
            width, height = page.get_size()
            tp = page.get_textpage()
            chars = []
            x, y = ctypes.c_double(), ctypes.c_double()
            for k in range(tp.count_chars()):
                if raw.FPDFText_IsGenerated(tp, k) == 1:
                    continue
                code = raw.FPDFText_GetUnicode(tp, k)
                ch = "-" if code == 2 else (chr(code) if code else "")   # pdfium marks a line-end hyphen as 0x02
                if not ch or ch in "\r\n":
                    continue
                if raw.FPDFText_GetCharAngle(tp, k) > 0.01:
                    continue
                left, _bottom, right, _top = tp.get_charbox(k, loose=True)
                raw.FPDFText_GetCharOrigin(tp, k, x, y)
                n = raw.FPDFText_GetFontInfo(tp, k, buf, 256, None)
                font = buf.raw[: max(n - 1, 0)].decode("latin-1", "replace")
                chars.append(Char(ch, left, right, height - y.value, round(raw.FPDFText_GetFontSize(tp, k), 2), font))
            rules, vrules = [], []
            for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_PATH]):
                left, bottom, right, top = obj.get_bounds()
                if top - bottom < 1.5 and right - left > 10:
                    rules.append((left, right, height - (top + bottom) / 2))
                elif right - left < 1.5 and top - bottom > 5:
                    vrules.append(((left + right) / 2, height - top, height - bottom))
            links = []
            pos, link = ctypes.c_int(0), raw.FPDF_LINK()
            while raw.FPDFLink_Enumerate(page, pos, link):
                action = raw.FPDFLink_GetAction(link)
                if action:
                    size = raw.FPDFAction_GetURIPath(pdf, action, None, 0)
                    if size:
                        ubuf = ctypes.create_string_buffer(size)
                        raw.FPDFAction_GetURIPath(pdf, action, ubuf, size)
                        links.append(ubuf.raw[: size - 1].decode("utf-8", "replace"))
            pages.append(PageData(i + 1, width, height, chars, rules, links, vrules))
            if progress:
                progress(i + 1, len(pdf))
        meta = {k: v for k, v in pdf.get_metadata_dict().items() if v}
        return pages, PdfInfo(len(pdf), meta)
    finally:
        pdf.close()


BACKENDS = {"pdfplumber": _pdfplumber_pages, "pdfium": _pdfium_pages}


def extract_pages(path: str | Path, backend: str = "pdfium",
                  progress: Progress | None = None) -> tuple[list[PageData], PdfInfo]:
    """Glyphs, rules and links of every page; `progress(page, pages)` after each page."""
    path = Path(path)
    data = path.read_bytes()
    if not data.lstrip()[:1024].count(b"%PDF-") and b"%PDF-" not in data[:1024]:
        raise CorpusError(f"{path.name}: not a PDF (no %PDF- header)")
    if b"%%EOF" not in data[-2048:]:
        raise CorpusError(f"{path.name}: the PDF is truncated (no end-of-file marker); the download or upload was "
                          "cut off, fetch the file again")
    return BACKENDS[backend](path, progress)


# ------------------------------------------------------------------------------------------- layout

def _cluster(chars: list[Char]) -> list[list[Char]]:
    clusters: list[list[Char]] = []
    for c in sorted(chars, key=lambda c: (c.baseline, c.x0)):
        if clusters and abs(c.baseline - clusters[-1][0].baseline) <= max(0.8, 0.08 * c.size):
            clusters[-1].append(c)
        else:
            clusters.append([c])
    return clusters


def _size_of(chars: list[Char]) -> float:
    sizes = Counter(c.size for c in chars if not c.text.isspace())
    return sizes.most_common(1)[0][0] if sizes else (chars[0].size if chars else 0.0)


def rows_of(page: PageData) -> list[Row]:
    """Text rows of a page, top to bottom; raised small glyphs join the row they belong to as superscripts."""
    clusters = _cluster(page.chars)
    rows = [Row(page.number, cl[0].baseline, _size_of(cl), sorted(cl, key=lambda c: c.x0)) for cl in clusters]
    kept: list[Row] = []
    for i, r in enumerate(rows):
        # A superscript cluster: smaller glyphs whose baseline sits a little above another row's.
        host = None
        for other in rows[i + 1:i + 4]:
            rise = other.baseline - r.baseline
            if rise > 0.6 * other.size:
                break
            if 0 < rise and r.size <= 0.8 * other.size and _overlaps(r, other):
                host = other
                break
        if host is not None:
            host.sup.extend(r.chars)
        else:
            kept.append(r)
    return kept


def _overlaps(small: Row, big: Row) -> bool:
    """The small glyphs sit over the row, or just before it: a footnote's own raised number, set before a tab
    (office suites put the number at the margin and the text at a tab stop)."""
    lo, hi = min(c.x0 for c in big.chars), max(c.x1 for c in big.chars)
    left = 6 * big.size if len(small.chars) <= 3 and all(c.text.isdigit() for c in small.chars) else 2 * big.size
    return all(lo - left <= c.x0 <= hi + 2 * big.size for c in small.chars)


def _compose(row: Row) -> None:
    """Row text with spaces from gaps; superscript glyphs become (digits, offset) markers."""
    glyphs = sorted([(c, False) for c in row.chars] + [(c, True) for c in row.sup], key=lambda t: t[0].x0)
    out: list[str] = []
    markers: list[tuple[str, int]] = []
    prev: Char | None = None
    prev_sup = False
    for c, sup in glyphs:
        if prev is not None and not c.text.isspace() and not prev.text.isspace():
            if c.x0 - prev.x1 > 0.2 * min(c.size, prev.size) and out and not out[-1].endswith(" "):
                out.append(" ")
        if sup and c.text.isdigit():
            text_len = len("".join(out))
            if markers and markers[-1][1] == text_len and prev_sup:
                markers[-1] = (markers[-1][0] + c.text, text_len)
            else:
                markers.append((c.text, text_len))
        elif c.text.isspace():
            if out and not out[-1].endswith(" "):
                out.append(" ")
        else:
            out.append(c.text)
        prev, prev_sup = c, sup and c.text.isdigit()
    text = "".join(out)
    lead = len(text) - len(text.lstrip())
    row.text = text.strip()
    row.markers = [(d, min(max(o - lead, 0), len(row.text))) for d, o in markers]
    body = [c for c in row.chars if not c.text.isspace()]
    row.bold = bool(body) and all(c.bold for c in body)
    row.x0 = min((c.x0 for c in row.chars), default=0.0)


def _mask(text: str) -> str:
    return re.sub(r"\d", "#", re.sub(r"\s+", "", text))


def _furniture_tokens(text: str) -> bool:
    toks = text.split()
    return bool(toks) and all(_FURNITURE_TOKEN.match(t) or SYMBOL_RE.match(t) for t in toks)


@dataclass
class Layout:
    body: list[Row]
    notes: list[Row]
    symbols: Counter
    body_size: float
    warnings: list[str]


def layout(pages: list[PageData]) -> Layout:
    """Split every page into body rows and footnote rows; drop running headers and footers."""
    all_chars = [c for p in pages for c in p.chars if not c.text.isspace()]
    if not all_chars:
        raise CorpusError("no text layer; OCR is not supported (this looks like a scanned PDF)")
    body_size = _size_of(all_chars)
    n_pages = len(pages)
    split_pages, two_column = [], []
    for p in pages:
        parts = _columns(p, body_size)
        if len(parts) > 1:
            two_column.append(p.number)
        split_pages += parts
    pages = split_pages
    page_rows = []
    for p in pages:
        rows = rows_of(p)
        for r in rows:
            _compose(r)
            r.table = _in_table(r, p)
        page_rows.append([r for r in rows if r.text or r.markers])
    # Running headers / footers: rows in the page bands that repeat (digits masked) or are all page furniture.
    band: Counter = Counter()
    for p, rows in zip(pages, page_rows, strict=True):
        for key in {_mask(r.text) for r in rows if _in_band(r, p)}:
            band[key] += 1
    repeat_min = max(2, round(0.25 * n_pages))
    symbols: Counter = Counter()
    body, notes, warnings = [], [], []
    for p, rows in zip(pages, page_rows, strict=True):
        kept = []
        for r in rows:
            if _in_band(r, p) and (band[_mask(r.text)] >= repeat_min or _furniture_tokens(r.text)):
                symbols.update(t for t in r.text.split() if SYMBOL_RE.match(t))
                continue
            kept.append(r)
        split = _footnote_split(kept, p, body_size)
        body += kept[:split]
        notes += kept[split:]
    if two_column:
        warnings.append(f"{_page_list(two_column)}: set in two columns; each page is read left column first, "
                        "then right")
    return Layout(body, notes, symbols, body_size, warnings)


def _page_list(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"page {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"pages {numbers[0]}–{numbers[-1]}"
    return "pages " + ", ".join(map(str, numbers))


def _columns(p: PageData, body_size: float) -> list[PageData]:
    """The page as one column, or as its left and right column where a gutter runs down its middle: an x band,
    in the middle of the page, that no glyph of the text area crosses, with text on both sides of it over
    the same stretch of the page."""
    text = [c for c in p.chars if not c.text.isspace() and 0.085 * p.height <= c.baseline <= 0.925 * p.height]
    if len(text) < 200:
        return [p]
    lo, hi = int(0.3 * p.width), int(0.7 * p.width)
    covered = [False] * (hi - lo + 1)
    for c in text:
        for x in range(max(int(c.x0), lo), min(int(c.x1) + 1, hi + 1)):
            covered[x - lo] = True
    best, run, start = None, 0, 0
    for k, cov in enumerate(covered + [True]):
        if not cov:
            if run == 0:
                start = k
            run += 1
        else:
            if run >= 0.8 * body_size and (best is None or run > best[1]):
                best = (start, run)
            run = 0
    if best is None:
        return [p]
    gutter = lo + best[0] + best[1] / 2
    left = [c.baseline for c in text if c.x1 < gutter]
    right = [c.baseline for c in text if c.x0 > gutter]
    if not (0.2 * len(text) <= len(left) <= 0.8 * len(text)):
        return [p]
    overlap = min(max(left), max(right)) - max(min(left), min(right))
    if overlap < 0.5 * min(max(left) - min(left), max(right) - min(right)):
        return [p]

    def side(left: bool) -> PageData:
        keep = (lambda x: x < gutter) if left else (lambda x: x >= gutter)
        return PageData(p.number, p.width, p.height, [c for c in p.chars if keep((c.x0 + c.x1) / 2)],
                        [r for r in p.rules if keep((r[0] + r[1]) / 2)], list(p.links) if left else [],
                        [v for v in p.vrules if keep(v[0])])
    return [side(True), side(False)]


def _in_table(r: Row, p: PageData) -> bool:
    """Inside a ruled table of two columns or more: three vertical strokes or more (cell borders) at different
    places span the row's baseline. (A box around one block, such as a summary box, has two.)"""
    xs = {round(x) for x, top, bottom in p.vrules if top - 2 <= r.baseline <= bottom + 2}
    return len(xs) >= 3


def _in_band(r: Row, p: PageData) -> bool:
    return r.baseline < 0.085 * p.height or r.baseline > 0.925 * p.height


def _footnote_split(rows: list[Row], p: PageData, body_size: float) -> int:
    """Index of the first footnote row of a page (len(rows) when there is no footnote area)."""
    smaller = 0.95 * body_size
    for x0, x1, y in sorted(p.rules, key=lambda r: r[2]):
        if not (20 <= x1 - x0 <= 0.6 * p.width) or y < 0.25 * p.height:
            continue
        below = [i for i, r in enumerate(rows) if r.baseline > y]
        if below and rows[below[0]].size < smaller and all(rows[i].size < smaller for i in below[:3]):
            return below[0]
    # No rule: trailing smaller-font rows whose first row starts with a number.
    i = len(rows)
    while i > 0 and rows[i - 1].size < 0.9 * body_size:
        i -= 1
    if i < len(rows) and (rows[i].markers and rows[i].markers[0][1] == 0 or re.match(r"^\d{1,3}\s", rows[i].text)):
        return i
    return len(rows)


# -------------------------------------------------------------------------------------------- parse

_ENUMERATOR = re.compile(r"^(?:[A-ZА-Я]|\d{1,3}|[IVXLC]+|[a-z]|\([a-z0-9]+\))\.?\s*$")


def _starts_structure(text: str) -> bool:
    return bool(CHAPTER_RE.match(text) or ROMAN_CHAPTER_RE.match(text) or SECTION_RE.match(text)
                or NUMBERED_RE.match(text))


def _merge_headings(rows: list[Row]) -> list[Row]:
    """A bold heading wrapped over rows ("第一章" / "导言") becomes one row, as the text parser expects."""
    out: list[Row] = []
    for r in rows:
        prev = out[-1] if out else None
        if (prev is not None and prev.bold and r.bold and prev.page == r.page and not r.markers
                and not prev.table and not r.table and not ANNEX_RE.match(prev.text)
                and not prev.markers and r.baseline - prev.baseline < 2.6 * max(prev.size, r.size)
                and not _starts_structure(r.text)):
            bare = CHAPTER_RE.match(prev.text) and not (CHAPTER_RE.match(prev.text).group(2) or "").strip()
            sep = " " if bare or _ENUMERATOR.match(prev.text) else None
            merged = Row(prev.page, prev.baseline, prev.size, prev.chars + r.chars, [], "", [], True, prev.x0)
            merged.text = prev.text + sep + r.text if sep else join_lines(prev.text, r.text)
            merged.baseline = r.baseline
            out[-1] = merged
        else:
            out.append(r)
    return out


def _footnotes(st: LineState, rows: list[Row], warnings: list[str]) -> None:
    for r in rows:
        text = r.text
        numbered = bool(r.markers and r.markers[0][1] == 0)
        if numbered:     # the footnote's own number, set as a superscript
            text = f"{r.markers[0][0]} {text}"
        if not numbered and st.open_footnote is not None and not FOOTNOTE_LINE_RE.match(text):
            # In the footnote area a new footnote starts with its number; anything else continues one.
            fn = st.open_footnote
            fn.text = join_lines(fn.text, text)
            continue
        if not footnote_line(st, text, text):
            warnings.append(f"page {r.page}: footnote-area text not understood, skipped: '{text[:40]}'")


def _row_markers(r: Row, last_marker: int, known: set[int], where: str,
                 warnings: list[str]) -> tuple[str, list[tuple[int, int]], int]:
    """Which of a row's superscripts are footnote markers: the next numbers, among the footnotes the pages
    carry. Returns the row's text (any other superscript put back as text), the markers as (number, offset)
    and the last marker number so far."""
    text, shift, accepted = r.text, 0, []
    for digits, off in r.markers:
        n = int(digits)
        if n > last_marker and (n == last_marker + 1 or n in known):
            if n != last_marker + 1:
                warnings.append(f"page {r.page}: footnote marker {n} follows marker {last_marker}; "
                                f"{', '.join(map(str, range(last_marker + 1, n)))} not found")
            accepted.append((n, off + shift))
            last_marker = n
        else:
            warnings.append(f"page {r.page}, {where}: superscript {digits} is not the next footnote marker "
                            f"(expected {last_marker + 1}); kept as text")
            text = text[:off + shift] + digits + text[off + shift:]
            shift += len(digits)
    return text, accepted, last_marker


def parse_layout(lay: Layout, *, doc_id: str, title: str = "", language: str = "",
                 links: list[str] | None = None) -> Document:
    """The document of a page layout: footnote rows, then body rows through the line state machine, each
    superscript marker carried to the paragraph offset where it sat."""
    st = LineState(tolerate_numbering=True)
    warnings = list(lay.warnings)
    _footnotes(st, lay.notes, warnings)
    st.open_footnote = None
    known = set(st.footnotes)
    rows = _merge_headings(lay.body)
    lines = [r.text for r in rows]
    markers: dict[int, list[Marker]] = {}
    marker_pages: dict[int, int] = {}
    last_marker = 0
    front: list[Row] = []
    columns = _number_columns(rows)
    right: dict[int, float] = {}      # the right edge of the text on each page
    for r in rows:
        right[r.page] = max(right.get(r.page, 0.0), _x1(r))
    para_x = 0.0          # the left edge of the open paragraph's rows
    pending = ""          # a paragraph number alone on its row, waiting for its text
    in_contents = False
    table_rows = 0
    for i, r in enumerate(rows):
        if r.table:
            table_rows += 1
            if i + 1 == len(rows) or not rows[i + 1].table:
                after = f", after ¶{st.paragraphs[-1].n}" if st.paragraphs else ""
                warnings.append(f"page {r.page}{after}: a table ({table_rows} rows) is not read into any paragraph")
                table_rows = 0
            continue
        if not st.paragraphs and CONTENTS_RE.match(r.text):
            in_contents = True      # a table of contents: its entries are not headings
            continue
        if in_contents:
            if _CONTENTS_ENTRY.search(r.text) or _CONTENTS_PAGE.match(r.text):
                continue
            in_contents = False
        if st.paragraphs and ANNEX_RE.match(r.text) and (r.bold or not st.paragraph_open()):
            warnings.append(f"page {r.page}: '{r.text}' and what follows are not read (after ¶{st.paragraphs[-1].n}; "
                            "an annex numbers its paragraphs anew)")
            break
        if (st.current is not None and para_x and r.x0 < para_x - 0.8 * r.size and ends_complete(st.current.text)
                and not NUMBERED_RE.match(r.text)):
            st.current = None     # a row left of a finished paragraph's text (a caption, a note) does not continue it
        where = f"¶{st.current.n}" if st.current else "the front matter"
        text, accepted, last_marker = _row_markers(r, last_marker, known, where, warnings)
        if _BARE_NUMBER.match(text) and int(text[:-1]) == st.next_paragraph and not st.paragraph_open():
            pending = text      # the paragraph breaks (across a page, say) right after its number
            continue
        if pending:
            text, k = f"{pending} {text}", len(pending) + 1
            accepted = [(n, o + k) for n, o in accepted]
            lines[i], pending = text, ""
        touching = _TOUCHING_NUMBER.match(text)
        if (touching and int(touching.group(1)) == st.next_paragraph and not st.paragraph_open()
                and _starts_by_layout(r, rows[i - 1] if i else None, rows[i + 1] if i + 1 < len(rows) else None,
                                      columns, right)):
            # "21.2019 年": the list number touches the text (the tab was only a gap between glyphs).
            k = touching.end()
            text = text[:k] + " " + text[k:]
            accepted = [(n, o + 1 if o >= k else o) for n, o in accepted]
            lines[i] = text
        marker_pages.update((n, r.page) for n, _ in accepted)
        before, before_len, n_warn = st.current, len(st.current.text) if st.current else 0, len(st.warnings)
        st.line_bold = r.bold
        try:
            body_line(st, text, text, lines, i)
        except CorpusError as exc:
            raise CorpusError(re.sub(r"\(line \d+\)", f"(page {r.page})", str(exc))) from exc
        for k in range(n_warn, len(st.warnings)):
            where = f"page {r.page}" + (f", ¶{st.current.n}" if st.current else
                                        f", after ¶{st.paragraphs[-1].n}" if st.paragraphs else "")
            st.warnings[k] = re.sub(r"^line \d+", where, st.warnings[k])
        cur = st.current
        if cur is not None and cur is not before:
            para_x = r.x0
        elif cur is not None and r.x0 < para_x or not para_x:
            para_x = r.x0
        if cur is not None and cur is not before and st.paragraphs and st.paragraphs[-1] is cur:
            m = NUMBERED_RE.match(text)
            start = m.start(2) if m else 0
            markers.setdefault(id(cur), []).extend(Marker(n, max(o - start, 0)) for n, o in accepted)
        elif cur is not None and cur is before and len(cur.text) > before_len:
            start = len(cur.text) - len(text)
            markers.setdefault(id(cur), []).extend(Marker(n, o + start) for n, o in accepted)
        else:
            if not st.paragraphs and not st.heads.chapter:
                front.append(r)
            for n, _ in accepted:
                warnings.append(f"page {r.page}: footnote marker {n} sits in a heading or outside any paragraph "
                                f"('{text[:30]}'); the footnote is attached to no paragraph")
    warnings += st.warnings
    paragraphs = []
    for rp in st.paragraphs:
        clean = rp.text.strip()
        lead = len(rp.text) - len(rp.text.lstrip())
        mk = [Marker(m.n, min(max(m.offset - lead, 0), len(clean))) for m in markers.get(id(rp), [])]
        paragraphs.append(Paragraph(rp.n, clean, list(rp.section), [m.n for m in mk], mk))
    return assemble_document(
        doc_id, paragraphs, {n: fn.text for n, fn in st.footnotes.items()},
        expected="expected paragraphs starting '1.', '2.' …", footnote_place="at the foot of the page",
        title=title or _front_title(front), language=language, links=links, warnings=warnings,
        marker_pages=marker_pages)


ANNEX_RE = re.compile(r"^(?:Annex(?:es)?|ANNEX(?:ES)?|Annexe|Anexo|Приложение|附件[一二三四五六七八九十]*|المرفق)"
                      r"(?:\s+[IVXLC\d]+)?\s*$")
CONTENTS_RE = re.compile(r"^(?:Contents|CONTENTS|Table of contents|Table des matières|Índice|Содержание|目录|目次|"
                         r"المحتويات)\s*$")
_CONTENTS_ENTRY = re.compile(r"(?:\.{3,}|…{2,}|\s)\s*[\divxlc]{1,4}$")     # "I. Introduction ....... 3"
_CONTENTS_PAGE = re.compile(r"^(?:Page|Pages|页次|页码|Página|Стр\.|الصفحة)\s*$")
_BARE_NUMBER = re.compile(r"^\d{1,4}\.$")
_TOUCHING_NUMBER = re.compile(r"^(\d{1,3})\.(?=\d)")


def _number_columns(rows: list[Row]) -> set[tuple[int, int]]:
    """The left edges (rounded, per page) where numbered paragraphs start on the pages."""
    return {(r.page, round(r.x0)) for r in rows if NUMBERED_RE.match(r.text)}


def _x1(r: Row) -> float:
    return max((c.x1 for c in r.chars), default=r.x0)


def _starts_by_layout(r: Row, prev: Row | None, nxt: Row | None, columns: set[tuple[int, int]],
                      right: dict[int, float]) -> bool:
    """Whether a row whose number touches its text ("21.2019 年", or "2.5 million" in running text) starts a
    numbered paragraph by its geometry: the row after it hangs indented under its text; or it begins where
    other numbered paragraphs begin on its page and the row before it stops short of the right edge (the
    last line of a paragraph; a justified line inside one runs to the edge)."""
    if nxt is not None and nxt.page == r.page and nxt.x0 > r.x0 + 0.8 * r.size:
        return True
    column = any(r.page == page and abs(r.x0 - x) <= 1.5 for page, x in columns)
    short = prev is None or _x1(prev) < right.get(prev.page, 0.0) - 2 * prev.size
    return column and short


def _front_title(front: list[Row]) -> str:
    """The report's title: the longest bold block of the first page, before the first heading."""
    first = [r for r in front if r.page == min((x.page for x in front), default=0)]
    blocks = [r.text for r in first if r.bold and not _furniture_tokens(r.text)]
    return max(blocks, key=len) if blocks and len(max(blocks, key=len)) >= 8 else ""


def pdf_date(meta: dict) -> str | None:
    raw = str(meta.get("CreationDate") or meta.get("ModDate") or "")
    m = re.search(r"(\d{4})(\d{2})(\d{2})", raw)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def parse_pdf(path: str | Path, *, doc_id: str, title: str = "", language: str = "", backend: str = "pdfium",
              progress: Progress | None = None) -> Document:
    """Parse a PDF report. Raises `CorpusError` with a one-line reason on input it cannot use."""
    path = Path(path)
    pages, info = extract_pages(path, backend, progress)
    try:
        lay = layout(pages)
    except CorpusError as exc:
        raise CorpusError(f"{path.name}: {exc}") from exc
    links = [u for p in pages for u in p.links]
    try:
        doc = parse_layout(lay, doc_id=doc_id, title=title or "", language=language, links=links)
    except CorpusError as exc:
        raise CorpusError(f"{path.name}: {exc}") from exc
    symbol = lay.symbols.most_common(1)[0][0] if lay.symbols else None
    doc.meta = {"pages": info.pages, "date": pdf_date(info.metadata), "detected_symbol": symbol}
    if info.metadata.get("Title") and not title:
        doc.meta["pdf_title"] = str(info.metadata["Title"])
    return doc
