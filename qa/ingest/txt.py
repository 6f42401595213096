"""Report text (as a PDF extraction leaves it) → numbered paragraphs, footnotes and sections.

The layout this reads is the one UN documents share in all six official languages:
chapters (`第二章` / `Chapter II` / `II. Title`), sections (`A. Title`), subsections (`1. Title`),
numbered paragraphs (`25. ...`), footnote blocks that start at a `______` rule at each page
bottom, and the page's hyperlinks printed again after the block. Paragraph and subsection numbers
look alike, so the parser tells them apart by sequence and context, never by this file's counts.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from qa.errors import UserError
from qa.text import URL_RE, is_cjk
from qa.types import Corpus, Document, Footnote, Marker, Paragraph

DATA_DIR = Path(str(files("qa") / "data"))


class CorpusError(UserError, ValueError):
    """Input the parser cannot turn into a document; the message says what to fix."""



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
# A marker is the next footnote number right after punctuation, followed by a space or the end.
_MARKER_PUNCT = "。，；：、！？．.,;:!?)）”’\"」』"
MARKER_RE = re.compile(r"(?<=[" + re.escape(_MARKER_PUNCT) + r"])(\d{1,3})(?!\d)(?=\s|$)")
TERMINAL_RE = re.compile(r"[。．.!?！？;；:：)）”’\"»」』…]\s*(?:\d{1,3})?\s*$")
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


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


@dataclass
class _RawParagraph:
    n: int
    text: str
    section: list[str]
    trailing_space: bool = False


@dataclass
class _RawFootnote:
    n: int
    text: str
    trailing_space: bool = False


@dataclass
class _Heads:
    chapter: str | None = None
    chapter_no: int = 0
    section: str | None = None
    section_letter: str | None = None
    subsection: str | None = None
    subsection_no: int = 0

    def path(self) -> list[str]:
        return [h for h in (self.chapter, self.section, self.subsection) if h]


@dataclass
class _State:
    heads: _Heads = field(default_factory=_Heads)
    paragraphs: list[_RawParagraph] = field(default_factory=list)
    footnotes: dict[int, _RawFootnote] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    current: _RawParagraph | None = None
    in_block: bool = False
    open_footnote: _RawFootnote | None = None
    pending_chapter_title: bool = False

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


def _looks_like_heading(text: str) -> bool:
    return len(text) <= 120 and not ends_complete(text)


def _footnote_line(st: _State, line: str, raw: str) -> bool:
    """Consume a line inside a footnote block. False when the block has ended."""
    m = FOOTNOTE_LINE_RE.match(line)
    last = max(st.footnotes) if st.footnotes else 0
    prev_open = st.open_footnote is not None and not ends_complete(st.open_footnote.text)
    if m and int(m.group(1)) > last and (int(m.group(1)) == last + 1 or not prev_open):
        fn = _RawFootnote(int(m.group(1)), m.group(2).rstrip(), raw.endswith((" ", "\t")))
        st.footnotes[fn.n] = fn
        st.open_footnote = fn
        return True
    if prev_open:
        fn = st.open_footnote
        fn.text = join_lines(fn.text, line, fn.trailing_space)
        fn.trailing_space = raw.endswith((" ", "\t"))
        return True
    return False


def _heading_line(st: _State, line: str, lines: list[str], i: int) -> bool:
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


def _body_line(st: _State, line: str, raw: str, lines: list[str], i: int) -> None:
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
            st.current = _RawParagraph(n, nm.group(2).rstrip(), st.heads.path(), raw.endswith((" ", "\t")))
            st.paragraphs.append(st.current)
            return
        if st.paragraphs and not st.paragraph_open() and not _looks_like_heading(line):
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


def _extract_markers(st: _State) -> tuple[list[Paragraph], dict[int, int]]:
    """Strip footnote markers (1, 2, 3 … in document order) and remember where each sat."""
    expected = 1
    holder: dict[int, int] = {}
    out: list[Paragraph] = []
    for rp in st.paragraphs:
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
            holder[expected] = rp.n
            pos = end
            expected += 1
        pieces.append(text[pos:])
        clean = "".join(pieces).strip()
        markers = [Marker(mk.n, min(mk.offset, len(clean))) for mk in markers]
        out.append(Paragraph(rp.n, clean, list(rp.section), [mk.n for mk in markers], markers))
    return out, holder


def _footnote_urls(text: str, links: list[str]) -> list[str]:
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
    # Document symbols (A/HRC/43/3) link to the official-document links the page printed.
    for link in links:
        m = re.match(r"https?://(?:www\.)?undocs\.org/(?:[a-z]{2}/)?(\S+)$", link, re.IGNORECASE)
        if m and re.search(r"(?<![\w/])" + re.escape(m.group(1)) + r"(?![\w/])", text) and link not in urls:
            urls.append(link)
    return urls


def parse(text: str, *, doc_id: str = "doc", title: str = "", language: str = "") -> Document:
    """Parse one report text into a `Document`. Raises `CorpusError` on input it cannot use."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise CorpusError("the text is empty; give a report text with numbered paragraphs")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    lines = text.splitlines()
    st = _State()
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
            if _footnote_line(st, line, raw):
                continue
            st.in_block, st.open_footnote = False, None
        _body_line(st, line, raw, lines, i)
    if not st.paragraphs:
        raise CorpusError("no numbered paragraphs found (expected lines like '1. Text'); is this a UN report text?")
    warnings = list(st.warnings)
    paragraphs, holder = _extract_markers(st)
    footnotes: list[Footnote] = []
    for n in sorted(st.footnotes):
        raw_fn = st.footnotes[n]
        ftext = re.sub(r"[ \t]{2,}", " ", raw_fn.text).strip()
        par = holder.get(n)
        if par is None:
            warnings.append(f"footnote {n} has no marker in any paragraph")
        footnotes.append(Footnote(n, ftext, par, _footnote_urls(ftext, st.links)))
    missing = [(n, p) for n, p in holder.items() if n not in st.footnotes]
    if missing:
        n, p = missing[0]
        raise CorpusError(f"footnote marker {n} in ¶{p} has no footnote text; the page's footnote block lacks ' {n} ...'")
    for p in paragraphs:
        if not p.section:
            warnings.append(f"¶{p.n} has no section heading above it")
    language = language or guess_language(text)
    if not title:
        first = next((p for p in st.paragraphs if p.section), None)
        title = first.section[0] if first else doc_id
    return Document(doc_id, title, language, paragraphs, footnotes, warnings)


def guess_language(text: str) -> str:
    sample = text[:20000]
    counts = {"zh": 0, "ar": 0, "ru": 0, "latin": 0}
    for ch in sample:
        if is_cjk(ch):
            counts["zh"] += 1
        elif "\u0600" <= ch <= "\u06ff":
            counts["ar"] += 1
        elif "\u0400" <= ch <= "\u04ff":
            counts["ru"] += 1
        elif ch.isalpha() and ch.isascii():
            counts["latin"] += 1
    best = max(counts, key=counts.get)
    if best != "latin":
        return best
    words = re.findall(r"[a-záéíóúñçèàêîôû]+", sample.lower())
    score = {
        "en": sum(w in ("the", "and", "of", "to", "with") for w in words),
        "fr": sum(w in ("le", "les", "des", "et", "du", "avec") for w in words),
        "es": sum(w in ("el", "los", "las", "del", "y", "con") for w in words),
    }
    return max(score, key=score.get)


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
    doc_id = meta.get("id") or re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-") or "doc"
    try:
        doc = parse(text, doc_id=doc_id, title=meta.get("title", ""), language=meta.get("language", ""))
    except CorpusError as exc:
        raise CorpusError(f"{path}: {exc}") from exc
    doc.meta = meta
    return doc


def default_paths() -> list[Path]:
    data_dir = Path(os.environ.get("REPORT_QA_DATA") or DATA_DIR)
    if not data_dir.is_dir():
        raise CorpusError(f"data folder {data_dir} is missing; restore data/ from the repository or pass a report PATH")
    paths = sorted(data_dir.glob("*.txt"))
    if not paths:
        raise CorpusError(f"no report texts (*.txt) in {data_dir}; restore data/ from the repository or pass a report PATH")
    return paths


def load_corpus(paths: list[str | Path] | None = None, *, load: Callable[[Path], Document] | None = None) -> Corpus:
    """A corpus is a list of documents; with no paths it is the bundled report(s). Each file is read with `load`
    (default: this module's `load_document`, for .txt); two documents with one id are refused."""
    chosen = [Path(p) for p in paths] if paths else default_paths()
    docs = [(load or load_document)(p) for p in chosen]
    ids = [d.id for d in docs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise CorpusError(f"two documents share the id {sorted(dup)[0]!r}; give each its own file name or sidecar id")
    return Corpus(docs)
