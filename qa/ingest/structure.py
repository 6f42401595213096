"""The layout grammar of UN reports that the three readers (`txt`, `pdf`, `docx`) share, and the document
they all end with (`assemble_document`).

The layout is the one UN documents share in all six official languages: chapters (`第二章` / `Chapter II` /
`II. Title`), sections (`A. Title`), subsections (`1. Title`), numbered paragraphs (`25. ...`), footnote blocks
that start at a `______` rule at each page bottom, and the page's hyperlinks printed again after the block.

- The line patterns (`CHAPTER_RE`, `NUMBERED_RE`, …), `join_lines` (how a wrapped line continues the one
  before it) and `ends_complete` (whether a text ends like a finished paragraph).
- `LineState` with `body_line` and `footnote_line`: the state machine that reads a report one line at a time
  (the text reader feeds it lines, the PDF reader layout rows). Paragraph and subsection numbers look alike,
  so headings are told from paragraphs by sequence and context, never by a report's own counts.
- `extract_markers`: footnote markers written inline in the text (`…。5 `), taken in the order 1, 2, 3 ….
- `footnote_urls`: the web addresses a footnote cites, completed from the links the page carried.
- `assemble_document`: the tail every reader ends with, one rule for all three: footnotes attached to the
  paragraph that cites them; warnings for a footnote without a marker, a marker without a footnote text (the
  footnote, its page where known, and the paragraph) and a paragraph without a heading; language and title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import UserError
from qa.text import URL_RE, detect_language, is_cjk
from qa.types import Document, Footnote, Marker, Paragraph


class CorpusError(UserError, ValueError):
    """Input a reader cannot turn into a document; the message says what to fix."""


CHAPTER_RE = re.compile(
    r"^(第[〇零一二三四五六七八九十百\d]+章|(?:Chapter|Chapitre|Cap[ií]tulo|Глава)\s+[IVXLC\d]+|الفصل\s+\S+)"
    r"(?:[\s.:：—–-]+(.*))?$",
    re.IGNORECASE,
)
ROMAN_CHAPTER_RE = re.compile(r"^([IVXLC]+)\.\s+(\S.*)$")
SECTION_RE = re.compile(r"^([A-ZА-Я])\.\s+(\S.*)$")
NUMBERED_RE = re.compile(r"^(\d{1,4})\.(?!\d)\s*(\S.*)$")
RULE_RE = re.compile(r"^_{5,}\s*$")
FOOTNOTE_LINE_RE = re.compile(r"^(\d{1,3})\s+(\S.*)$")
LINK_LINE_RE = re.compile(r"^(?:https?|file|ftp)://\S+$", re.IGNORECASE)
# A document symbol: A/75/36, A/HRC/43/3, E/CN.4/2005/1 (running headers, Word page headers).
SYMBOL_RE = re.compile(r"^(?=[A-Z][A-Za-z0-9.()/-]*\d)[A-Z]{1,8}(?:\.\d+)?(?:/[A-Za-z0-9.()-]+)+$")
# A marker is the next footnote number right after punctuation, followed by a space or the end.
_MARKER_PUNCT = "。，；：、！？．.,;:!?)）”’\"」』"
MARKER_RE = re.compile(r"(?<=[" + re.escape(_MARKER_PUNCT) + r"])(\d{1,3})(?!\d)(?=\s|$)")
TERMINAL_RE = re.compile(r"[。．.!?！？;；:：)）”’\"»」』…]\s*(?:\d{1,3})?\s*$")
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
# The most paragraphs a tolerant reader believes missing at one place; a larger jump (a year such as
# "2019." at a line start) is running text, never a paragraph number.
MAX_NUMBERING_GAP = 50
# How much paragraph text the language is detected from (enough for any report, cheap for a long one).
LANGUAGE_SAMPLE = 20000


def doc_id_for(path: Path) -> str:
    """The id a report gets from its file name when its metadata gives none."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-") or "doc"


def roman_to_int(s: str) -> int:
    total, prev = 0, 0
    for ch in reversed(s.upper()):
        v = _ROMAN.get(ch, 0)
        total = total - v if v < prev else total + v
        prev = max(prev, v)
    return total


def join_lines(prev: str, nxt: str, prev_had_trailing_space: bool = False) -> str:
    """Join two wrapped lines the way the page meant them: CJK text and split URLs take no space."""
    if not prev:
        return nxt
    if not nxt:
        return prev
    a, b = prev[-1], nxt[0]
    if is_cjk(a) or is_cjk(b):
        return prev + nxt
    last = prev.rsplit(None, 1)[-1]
    looks_url = "://" in last or last.lower().startswith("www") or last.count("/") >= 2
    if looks_url and not prev_had_trailing_space:
        return prev + nxt
    if a == "-" and not prev_had_trailing_space and len(last) > 1 and last[-2].isalpha() and b.isalpha():
        return prev + nxt
    return prev + " " + nxt


def ends_complete(text: str) -> bool:
    """True when `text` ends like a finished paragraph (terminal punctuation, maybe a marker)."""
    return bool(TERMINAL_RE.search(text))


def _looks_like_heading(text: str) -> bool:
    return len(text) <= 120 and not ends_complete(text)


# ------------------------------------------------------------------------------------ line state machine

@dataclass
class RawParagraph:
    """A numbered paragraph as read so far: its text still holds inline markers and line-end spacing."""

    n: int
    text: str
    section: list[str]
    trailing_space: bool = False


@dataclass
class RawFootnote:
    n: int
    text: str
    trailing_space: bool = False


@dataclass
class Heads:
    """The chapter, section and subsection headings above the line being read."""

    chapter: str | None = None
    chapter_no: int = 0
    section: str | None = None
    section_letter: str | None = None
    subsection: str | None = None
    subsection_no: int = 0

    def path(self) -> list[str]:
        return [h for h in (self.chapter, self.section, self.subsection) if h]


@dataclass
class LineState:
    """What `body_line` and `footnote_line` have read: paragraphs, footnotes, links, warnings, open items."""

    heads: Heads = field(default_factory=Heads)
    paragraphs: list[RawParagraph] = field(default_factory=list)
    footnotes: dict[int, RawFootnote] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    current: RawParagraph | None = None
    in_block: bool = False
    open_footnote: RawFootnote | None = None
    pending_chapter_title: bool = False
    # False: a paragraph number out of sequence refuses the report (text input, where the numbers are the
    # text). True: it becomes a warning and reading goes on (PDF input, where numbers are found by layout).
    tolerate_numbering: bool = False
    # Whether the line being read is set like a heading (bold), where the reader knows; None: judged by its text.
    line_bold: bool | None = None

    @property
    def next_paragraph(self) -> int:
        return self.paragraphs[-1].n + 1 if self.paragraphs else 1

    def paragraph_open(self) -> bool:
        return self.current is not None and not ends_complete(self.current.text)


def _next_body_line(lines: list[str], i: int) -> str:
    for raw in lines[i + 1:]:
        s = raw.strip()
        if s and not LINK_LINE_RE.match(s) and not RULE_RE.match(s):
            return s
    return ""


def footnote_line(st: LineState, line: str, raw: str) -> bool:
    """Consume a line inside a footnote block. False when the block has ended."""
    m = FOOTNOTE_LINE_RE.match(line)
    last = max(st.footnotes) if st.footnotes else 0
    prev_open = st.open_footnote is not None and not ends_complete(st.open_footnote.text)
    if m and int(m.group(1)) > last and (int(m.group(1)) == last + 1 or not prev_open):
        fn = RawFootnote(int(m.group(1)), m.group(2).rstrip(), raw.endswith((" ", "\t")))
        st.footnotes[fn.n] = fn
        st.open_footnote = fn
        return True
    if prev_open:
        fn = st.open_footnote
        fn.text = join_lines(fn.text, line, fn.trailing_space)
        fn.trailing_space = raw.endswith((" ", "\t"))
        return True
    return False


def _heading_line(st: LineState, line: str, lines: list[str], i: int) -> bool:
    """Handle chapter, section and subsection headings. True when `line` was one."""
    h = st.heads
    can_head = not st.paragraph_open()
    m = CHAPTER_RE.match(line)
    rm = ROMAN_CHAPTER_RE.match(line)
    if m and can_head:
        number = m.group(1)
        title = (m.group(2) or "").strip()
        h.chapter, h.section, h.subsection = (f"{number} {title}".strip(), None, None)
        h.chapter_no += 1
        h.section_letter, h.subsection_no = None, 0
        st.pending_chapter_title = not title
        st.current = None
        return True
    sm = SECTION_RE.match(line)
    expected_letter = chr(ord(h.section_letter) + 1) if h.section_letter else ("А" if sm and "А" <= sm.group(1) <= "Я" else "A")
    if sm and can_head and sm.group(1) == expected_letter and _looks_like_heading(line):
        h.section, h.section_letter, h.subsection, h.subsection_no = line, sm.group(1), None, 0
        st.current = None
        return True
    if rm and can_head and roman_to_int(rm.group(1)) == h.chapter_no + 1 and _looks_like_heading(line):
        h.chapter, h.section, h.subsection = line, None, None
        h.chapter_no += 1
        h.section_letter, h.subsection_no = None, 0
        st.current = None
        return True
    nm = NUMBERED_RE.match(line)
    if nm and can_head and (h.section or h.chapter):
        n = int(nm.group(1))
        if n == h.subsection_no + 1 and _looks_like_heading(line):
            is_heading = True
            if n == st.next_paragraph:
                # Same number both ways: a heading is followed by the paragraph it announces.
                follow = NUMBERED_RE.match(_next_body_line(lines, i))
                is_heading = bool(follow and int(follow.group(1)) == n)
            if is_heading:
                h.subsection, h.subsection_no = line, n
                st.current = None
                return True
    return False


def body_line(st: LineState, line: str, raw: str, lines: list[str], i: int) -> None:
    """Read one body line (`lines[i]`, stripped): a heading, a new numbered paragraph, or the open one's text."""
    if st.pending_chapter_title:
        st.pending_chapter_title = False
        if not NUMBERED_RE.match(line) and not SECTION_RE.match(line) and _looks_like_heading(line):
            st.heads.chapter = f"{st.heads.chapter} {line}"
            return
    if _heading_line(st, line, lines, i):
        return
    nm = NUMBERED_RE.match(line)
    if nm:
        n = int(nm.group(1))
        if n == st.next_paragraph:
            st.current = RawParagraph(n, nm.group(2).rstrip(), st.heads.path(), raw.endswith((" ", "\t")))
            st.paragraphs.append(st.current)
            return
        heading_like = _looks_like_heading(line) if st.line_bold is None else st.line_bold
        if st.paragraphs and not st.paragraph_open() and not heading_like and st.tolerate_numbering:
            last = st.paragraphs[-1].n
            if last < n <= last + MAX_NUMBERING_GAP:
                missing = f"¶{last + 1}" + (f"–¶{n - 1}" if n - 1 > last + 1 else "")
                st.current = RawParagraph(n, nm.group(2).rstrip(), st.heads.path(), raw.endswith((" ", "\t")))
                st.paragraphs.append(st.current)
                st.warnings.append(f"line {i + 1}: ¶{n} follows ¶{last}; {missing} not found (numbering gap)")
                return
            if n <= last:
                st.warnings.append(f"line {i + 1}: ¶{n} follows ¶{last} (out of order); its text is kept in ¶{last}")
            st.current = st.paragraphs[-1]     # a larger jump is running text ("2019. …" at a line start)
        elif st.paragraphs and not st.paragraph_open() and not _looks_like_heading(line):
            raise CorpusError(
                f"paragraph numbers out of order: found ¶{n} after ¶{st.paragraphs[-1].n} "
                f"(line {i + 1}); paragraphs must run 1, 2, 3 …"
            )
        if _looks_like_heading(line) and not st.paragraph_open():
            st.warnings.append(f"line {i + 1}: numbered heading '{line[:40]}' is out of sequence; taken as a subsection")
            st.heads.subsection, st.heads.subsection_no = line, n
            st.current = None
            return
    if st.current is None:
        if st.paragraphs or st.heads.chapter:
            st.warnings.append(f"line {i + 1}: text outside any numbered paragraph skipped: '{line[:40]}'")
        return
    cur = st.current
    cur.text = join_lines(cur.text, line, cur.trailing_space)
    cur.trailing_space = raw.endswith((" ", "\t"))


# ------------------------------------------------------------------------------ markers and footnotes

def extract_markers(raw: list[RawParagraph]) -> list[Paragraph]:
    """Paragraphs with inline footnote markers (1, 2, 3 … in document order) cut out, each remembered where it sat."""
    expected = 1
    out: list[Paragraph] = []
    for rp in raw:
        text, pieces, markers, pos = rp.text, [], [], 0
        for m in MARKER_RE.finditer(text):
            if int(m.group(1)) != expected:
                continue
            pieces.append(text[pos:m.start()])
            end = m.end()
            # CJK text has no spaces between sentences: drop the space the marker brought.
            if end < len(text) and text[end] == " " and is_cjk(text[m.start() - 1]):
                end += 1
            markers.append(Marker(expected, len("".join(pieces).lstrip())))
            pos = end
            expected += 1
        pieces.append(text[pos:])
        clean = "".join(pieces).strip()
        markers = [Marker(mk.n, min(mk.offset, len(clean))) for mk in markers]
        out.append(Paragraph(rp.n, clean, list(rp.section), [mk.n for mk in markers], markers))
    return out


def footnote_urls(text: str, links: list[str]) -> list[str]:
    """The web addresses `text` cites, in order: written ones (completed from `links`, the page's own
    hyperlinks, when the text shows them without a scheme) and the official-document links of the symbols
    it names (A/HRC/43/3 → the page's undocs.org link)."""
    by_rest: dict[str, str] = {}
    for link in links:
        scheme, _, rest = link.partition("://")
        if scheme.lower() in ("http", "https"):
            by_rest.setdefault(rest.rstrip("/").lower(), link)
    urls: list[str] = []
    for m in URL_RE.finditer(text):
        tok = m.group(0).rstrip(".,;:!?'")
        if "://" not in tok and not tok.lower().startswith("www") and "/" not in tok:
            continue
        if "://" in tok:
            url = tok
        else:
            url = by_rest.get(tok.rstrip("/").lower(), "https://" + tok)
        if url not in urls:
            urls.append(url)
    for link in links:
        m = re.match(r"https?://(?:www\.)?undocs\.org/(?:[a-z]{2}/)?(\S+)$", link, re.IGNORECASE)
        if m and re.search(r"(?<![\w/])" + re.escape(m.group(1)) + r"(?![\w/])", text) and link not in urls:
            urls.append(link)
    return urls


# ---------------------------------------------------------------------------------------- the document

def assemble_document(doc_id: str, paragraphs: list[Paragraph], footnotes: dict[int, str], *,
                      expected: str, footnote_place: str, title: str = "", language: str = "",
                      links: list[str] | None = None, warnings: list[str] | None = None,
                      marker_pages: dict[int, int] | None = None) -> Document:
    """The `Document` a reader ends with, by one rule for every format.

    `paragraphs` carry their markers; `footnotes` maps each footnote number to its text as read; `links` are the
    hyperlinks the pages carried; `warnings` the reader's own, kept first. `expected` says what numbered
    paragraphs look like in this format (for the refusal when there are none), `footnote_place` where a
    footnote's text should have been ("at the foot of the page"), `marker_pages` the page of each marker where
    the reader knows it. A marker whose footnote has no text is kept and warned about, never refused. `title`
    and `language` are the reader's (from metadata or the page); empty, the first heading and the language of
    the paragraphs are used.
    """
    if not paragraphs:
        raise CorpusError(f"no numbered paragraphs found ({expected}); is this a UN report?")
    warnings = list(warnings or [])
    holder: dict[int, int] = {}
    for p in paragraphs:
        p.markers = [Marker(mk.n, min(mk.offset, len(p.text))) for mk in p.markers]
        for mk in p.markers:
            holder[mk.n] = p.n
    notes = []
    for n in sorted(footnotes):
        text = re.sub(r"[ \t]{2,}", " ", footnotes[n]).strip()
        if n not in holder:
            warnings.append(f"footnote {n} has no marker in any paragraph")
        notes.append(Footnote(n, text, holder.get(n), footnote_urls(text, links or [])))
    for n in sorted(set(holder) - set(footnotes)):
        page = (marker_pages or {}).get(n)
        where = (f"page {page}, " if page else "") + f"¶{holder[n]}"
        warnings.append(f"{where}: footnote marker {n} has no footnote text {footnote_place}")
    warnings += [f"¶{p.n} has no section heading above it" for p in paragraphs if not p.section]
    language = language or detect_language("\n".join(p.text for p in paragraphs)[:LANGUAGE_SAMPLE])
    title = title or next((p.section[0] for p in paragraphs if p.section), doc_id)
    return Document(doc_id, title, language, paragraphs, notes, warnings)
