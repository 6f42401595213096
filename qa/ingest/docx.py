"""Word (.docx) report → `Document`: list numbering counted as Word counts it, footnotes from their part.

python-docx (MIT) opens the package and resolves its parts; the WordprocessingML is then read directly:

- **Paragraph numbers** are usually automatic list numbering (`w:numPr` on the paragraph or inherited
  from its style), not text. `Numbering` keeps Word's counters: one per abstract list and level, shared
  by the list instances (`w:num`) that point at it, restarted by a `w:startOverride`, deeper levels reset
  when a higher one advances; labels come from `w:lvlText` and `w:numFmt`. Typed numbers ("25. …") work too.
- **Headings** come from styles: outline level (`w:outlineLvl`), `heading N`, or the UN template's
  `HCh` / `H1` / `H23` names; level 0 is a chapter, 1 a section, 2 and deeper a subsection.
- **Footnotes** live in the footnotes part; a `w:footnoteReference` run is the marker, numbered in
  reference order as Word displays them. Links in footnotes come from the part's hyperlink relations.
- Unnumbered text after a numbered paragraph (sub-items, quotes) continues that paragraph; text before
  the first heading or paragraph is front matter (the title comes from the `Title` style or the
  document properties). Warnings name the Word paragraph and the report paragraph.

`check_zip` refuses a package whose ZIP directory promises too much (a zip bomb) before any part is
inflated; `_BodyReader` reads the body one Word paragraph at a time; `assemble_document`
(`qa.ingest.structure`) makes the `Document` by the rules all readers share.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.ingest.structure import (
    MAX_NUMBERING_GAP,
    NUMBERED_RE,
    SYMBOL_RE,
    CorpusError,
    assemble_document,
    ends_complete,
    join_lines,
)
from qa.types import Document, Marker, Paragraph

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_SKIP = {W + "del", W + "moveFrom", W + "txbxContent", MC + "Fallback", W + "instrText", W + "delText",
         W + "footnoteRef", W + "endnoteRef", W + "pPr", W + "rPr"}

MAX_UNZIPPED = 200 * 1024 * 1024      # a Word file's parts together, uncompressed
MAX_RATIO = 100                       # uncompressed / compressed size of one ZIP member
MAX_MEMBERS = 5000

Progress = Callable[[int, int], None]


def _safe_xml(blob: bytes):
    from lxml import etree  # loaded with the first Word file (python-docx's parser), not at start-up

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    return etree.fromstring(blob, parser)


def _val(el, tag: str) -> str | None:
    child = el.find(W + tag) if el is not None else None
    return child.get(W + "val") if child is not None else None


# ----------------------------------------------------------------------------------------- numbering

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CN = "零一二三四五六七八九"


def _roman(n: int) -> str:
    out = ""
    for v, s in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
                 (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= v:
            out, n = out + s, n - v
    return out


def _chinese(n: int) -> str:
    if n < 10:
        return _CN[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN[tens]) + "十" + (_CN[ones] if ones else "")
    return str(n)


def format_number(n: int, fmt: str) -> str:
    """A list number as Word shows it for `w:numFmt` `fmt`."""
    if fmt in ("upperLetter", "lowerLetter"):
        s = _UPPER[(n - 1) % 26] * ((n - 1) // 26 + 1)
        return s if fmt == "upperLetter" else s.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        return _roman(n) if fmt == "upperRoman" else _roman(n).lower()
    if fmt in ("chineseCounting", "chineseCountingThousand", "ideographTraditional", "taiwaneseCounting",
               "chineseLegalSimplified"):
        return _chinese(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("none", "bullet"):
        return ""
    return str(n)


@dataclass
class Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    suffix: str = "tab"


@dataclass
class Numbering:
    """Word's list counters. `label(num_id, ilvl)` advances the counter and returns the shown label."""

    abstract: dict[str, dict[int, Level]] = field(default_factory=dict)
    nums: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)
    counters: dict[str, dict[int, int]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)

    @classmethod
    def from_xml(cls, root) -> Numbering:
        num = cls()
        if root is None:
            return num
        for a in root.findall(W + "abstractNum"):
            levels = {}
            for lvl in a.findall(W + "lvl"):
                levels[int(lvl.get(W + "ilvl", "0"))] = Level(
                    int(_val(lvl, "start") or 1), _val(lvl, "numFmt") or "decimal", _val(lvl, "lvlText") or "",
                    _val(lvl, "suff") or "tab")
            num.abstract[a.get(W + "abstractNumId")] = levels
        for n in root.findall(W + "num"):
            overrides = {}
            for o in n.findall(W + "lvlOverride"):
                start = _val(o, "startOverride")
                if start is not None:
                    overrides[int(o.get(W + "ilvl", "0"))] = int(start)
            num.nums[n.get(W + "numId")] = (_val(n, "abstractNumId") or "", overrides)
        return num

    def label(self, num_id: str, ilvl: int) -> tuple[str, str]:
        """(label, suffix) for the next paragraph of list `num_id` at level `ilvl`; ("", "") if none."""
        if num_id not in self.nums:
            return "", ""
        abs_id, overrides = self.nums[num_id]
        levels = self.abstract.get(abs_id, {})
        counts = self.counters.setdefault(abs_id, {})
        if num_id not in self.started:
            self.started.add(num_id)
            for lv, start in overrides.items():
                counts[lv] = start - 1
                for deeper in [k for k in counts if k > lv]:
                    del counts[deeper]
        level = levels.get(ilvl, Level())
        counts[ilvl] = counts.get(ilvl, level.start - 1) + 1
        for deeper in [k for k in counts if k > ilvl]:
            del counts[deeper]
        if level.fmt == "bullet" or level.fmt == "none":
            return "", ""

        def sub(m: re.Match) -> str:
            k = int(m.group(1)) - 1
            lv = levels.get(k, Level())
            return format_number(counts.get(k, lv.start), lv.fmt)

        return re.sub(r"%(\d)", sub, level.text), level.suffix


# -------------------------------------------------------------------------------------------- styles

@dataclass
class StyleInfo:
    name: str = ""
    based_on: str | None = None
    num: tuple[str, int] | None = None
    outline: int | None = None


_HEADING_NAME = [
    (re.compile(r"^heading\s*(\d)$", re.IGNORECASE), None),
    (re.compile(r"^_?\s*H_?Ch", re.IGNORECASE), 0),
    (re.compile(r"^_?\s*H_?1(?!\d)", re.IGNORECASE), 1),
    (re.compile(r"^_?\s*H_?(?:2|23|2/3|3|4)", re.IGNORECASE), 2),
]


def _num_pr(ppr) -> tuple[str, int] | None:
    if ppr is None:
        return None
    np_ = ppr.find(W + "numPr")
    if np_ is None:
        return None
    num_id = _val(np_, "numId")
    return (num_id, int(_val(np_, "ilvl") or 0)) if num_id is not None else None


def read_styles(root) -> dict[str, StyleInfo]:
    styles: dict[str, StyleInfo] = {}
    if root is None:
        return styles
    for s in root.findall(W + "style"):
        ppr = s.find(W + "pPr")
        outline = _val(ppr, "outlineLvl") if ppr is not None else None
        styles[s.get(W + "styleId")] = StyleInfo(_val(s, "name") or "", _val(s, "basedOn"), _num_pr(ppr),
                                                 int(outline) if outline is not None else None)
    return styles


def _resolve(styles: dict[str, StyleInfo], sid: str | None) -> tuple[tuple[str, int] | None, int | None, str]:
    """(numPr, heading level, name) of a paragraph style, following `basedOn`."""
    num, outline, name, seen = None, None, "", set()
    while sid and sid in styles and sid not in seen:
        seen.add(sid)
        st = styles[sid]
        name = name or st.name
        num = num or st.num
        outline = outline if outline is not None else st.outline
        sid = st.based_on
    level = outline if outline is not None and outline < 9 else None
    if level is None:
        for rx, lv in _HEADING_NAME:
            m = rx.match(name)
            if m:
                level = int(m.group(1)) - 1 if lv is None else lv
                break
    return num, level, name


# ------------------------------------------------------------------------------------------ text runs

@dataclass
class _Para:
    text: str
    refs: list[tuple[str, int, bool]]     # (footnote id, offset, custom mark)


def _runs(p) -> _Para:
    out: list[str] = []
    refs: list[tuple[str, int, bool]] = []

    def walk(el) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == W + "t":
                out.append(child.text or "")
            elif tag in (W + "tab", W + "ptab"):
                out.append("\t")
            elif tag in (W + "br", W + "cr"):
                out.append("\n")
            elif tag == W + "noBreakHyphen":
                out.append("-")
            elif tag == W + "footnoteReference":
                custom = child.get(W + "customMarkFollows") in ("1", "true", "on")
                refs.append((child.get(W + "id"), len("".join(out)), custom))
            else:
                walk(child)

    walk(p)
    return _Para("".join(out), refs)


def _clean(text: str) -> tuple[str, int]:
    """Whitespace runs → one space; returns the text and how many characters were cut from its start."""
    flat = re.sub(r"[\t\n\r\u00a0 ]+", " ", text)
    lead = len(flat) - len(flat.lstrip())
    return flat.strip(), lead


def _offset_map(text: str) -> list[int]:
    """Offset in `text` → offset in `_clean(text)[0]`."""
    out, j, prev_space, started = [], 0, False, False
    for ch in text:
        out.append(j)
        space = ch in "\t\n\r\u00a0 "
        if space:
            if started and not prev_space:
                j += 1
        else:
            j += 1
            started = True
        prev_space = space
    out.append(j)
    return out


# --------------------------------------------------------------------------------------------- parse

@dataclass
class DocxParts:
    body: object
    styles: object
    numbering: object
    footnotes: object
    footnote_links: dict[str, str]
    headers: list[str]
    title: str
    created: str | None
    language: str


def check_zip(path: Path, *, max_unzipped: int = MAX_UNZIPPED, max_ratio: int = MAX_RATIO,
              max_members: int = MAX_MEMBERS) -> None:
    """Refuse a ZIP whose directory promises too much (a zip bomb) before inflating any of it."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorpusError(f"{path.name}: the Word file is damaged or cut off ({exc})") from exc
    if len(infos) > max_members:
        raise CorpusError(f"{path.name}: refused: {len(infos)} parts inside the Word file (at most {max_members})")
    total = sum(i.file_size for i in infos)
    if total > max_unzipped:
        raise CorpusError(f"{path.name}: refused: the Word file unpacks to {total / 2**20:.0f} MB "
                          f"(at most {max_unzipped / 2**20:.0f} MB); it may be a zip bomb")
    for i in infos:
        if i.file_size > 1_000_000 and i.file_size > max_ratio * max(i.compress_size, 1):
            raise CorpusError(f"{path.name}: refused: part {i.filename} is compressed {i.file_size // max(i.compress_size, 1)}:1 "
                              f"(at most {max_ratio}:1); it may be a zip bomb")
    names = {i.filename for i in infos}
    if "word/document.xml" not in names and not any(n.endswith("document.xml") for n in names):
        raise CorpusError(f"{path.name}: a ZIP file without a Word document inside")


def open_docx(path: Path) -> DocxParts:
    import docx  # python-docx loads with the first Word file, not at start-up
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise CorpusError(f"{path.name}: not a readable Word document ({exc})") from exc
    except Exception as exc:   # zipfile / lxml errors on a damaged package
        raise CorpusError(f"{path.name}: the Word file is damaged ({exc.__class__.__name__}: {exc})") from exc
    part = document.part
    styles = numbering = footnotes = None
    links: dict[str, str] = {}
    headers: list[str] = []
    for rel in part.rels.values():
        if rel.is_external:
            continue
        target = rel.target_part
        if rel.reltype == RT.STYLES:
            styles = _safe_xml(target.blob)
        elif rel.reltype == RT.NUMBERING:
            numbering = _safe_xml(target.blob)
        elif rel.reltype == RT.FOOTNOTES:
            footnotes = _safe_xml(target.blob)
            links = {rid: r.target_ref for rid, r in target.rels.items() if r.is_external}
        elif rel.reltype == RT.HEADER:
            headers.append(" ".join(t.text or "" for t in _safe_xml(target.blob).iter(W + "t")))
    props = document.core_properties
    created = props.created.date().isoformat() if props.created else None
    return DocxParts(document.element.body, styles, numbering, footnotes, links, headers, props.title or "",
                     created, props.language or "")


def _footnote_texts(root, links: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    texts: dict[str, str] = {}
    urls: list[str] = []
    if root is None:
        return texts, urls
    for fn in root.findall(W + "footnote"):
        if fn.get(W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
            continue
        paras = [_clean(_runs(p).text)[0] for p in fn.iter(W + "p")]
        texts[fn.get(W + "id")] = " ".join(p for p in paras if p)
        for h in fn.iter(W + "hyperlink"):
            if h.get(R_ID) in links:
                urls.append(links[h.get(R_ID)])
    return texts, urls


def _paragraph_elements(body):
    """Block-level paragraphs and tables in reading order (content controls opened)."""
    for el in body:
        if el.tag in (W + "p", W + "tbl"):
            yield el
        elif el.tag == W + "sdt":
            content = el.find(W + "sdtContent")
            if content is not None:
                yield from _paragraph_elements(content)


def parse_docx(path: str | Path, *, doc_id: str, title: str = "", language: str = "",
               progress: Progress | None = None) -> Document:
    """Parse a Word report. Raises `CorpusError` with a one-line reason on input it cannot use."""
    path = Path(path)
    check_zip(path)   # a zip bomb is refused before any part is inflated
    parts = open_docx(path)
    try:
        return _parse(parts, doc_id=doc_id, title=title, language=language, progress=progress)
    except CorpusError as exc:
        raise CorpusError(f"{path.name}: {exc}") from exc


def _parse(parts: DocxParts, *, doc_id: str, title: str, language: str, progress: Progress | None) -> Document:
    fn_text, fn_links = _footnote_texts(parts.footnotes, parts.footnote_links)
    reader = _BodyReader(read_styles(parts.styles), Numbering.from_xml(parts.numbering))
    elements = list(_paragraph_elements(parts.body))
    for k, el in enumerate(elements, start=1):
        reader.read(el, k)
    if progress:
        progress(len(elements), len(elements))
    footnotes = {n: fn_text[fid] for fid, n in reader.fn_number.items() if fid in fn_text}
    doc = assemble_document(
        doc_id, reader.paragraphs, footnotes,
        expected="neither list-numbered nor typed '1.', '2.' …", footnote_place="in the footnotes part",
        title=title or reader.front_title or parts.title, language=language or (parts.language or "")[:2].lower(),
        links=fn_links, warnings=reader.warnings)
    symbols = Counter(t for h in parts.headers for t in h.split() if SYMBOL_RE.match(t))
    doc.meta = {"date": parts.created, "detected_symbol": symbols.most_common(1)[0][0] if symbols else None}
    return doc


@dataclass
class _Block:
    """One Word paragraph as shown: list label and text, the footnotes it cites, its heading level and style."""

    text: str
    refs: list[tuple[int, int]]     # (footnote number, offset in text)
    label: str
    level: int | None
    style: str


@dataclass
class _BodyReader:
    """Reads the body's Word paragraphs in order into numbered report paragraphs under their headings."""

    styles: dict[str, StyleInfo]
    numbering: Numbering
    paragraphs: list[Paragraph] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)        # the heading path above the current paragraph
    fn_number: dict[str, int] = field(default_factory=dict)   # footnote id → number, in reference order
    warnings: list[str] = field(default_factory=list)
    front_title: str = ""
    stopped: bool = False     # numbering restarted (an annex): the rest is not read

    def read(self, el, k: int) -> None:
        """Read the `k`-th block of the body (a paragraph or a table)."""
        where = f"Word paragraph {k}" + (f" (after ¶{self.paragraphs[-1].n})" if self.paragraphs else "")
        if el.tag == W + "tbl":
            if self.paragraphs:
                self.warnings.append(f"{where}: a table is not read")
            return
        block = self._block(el, where)   # always: list counters and footnote numbers advance as Word's do
        if self.stopped or (not block.text and not block.refs):
            return
        if block.level is not None and block.level < 9 and block.text:
            self._heading(block, where)
        elif not self._numbered(block, where) and not self._continuation(block):
            if self.paragraphs or self.heads:
                self.warnings.append(f"{where}: text outside any numbered paragraph skipped: '{block.text[:40]}'")
            elif "title" in block.style.lower() and not self.front_title:
                self.front_title = block.text

    def _block(self, el, where: str) -> _Block:
        """The paragraph's label (list numbering), text and footnote references, and its heading level."""
        ppr = el.find(W + "pPr")
        style_num, level, style_name = _resolve(self.styles, _val(ppr, "pStyle"))
        own_outline = _val(ppr, "outlineLvl") if ppr is not None else None
        if own_outline is not None and int(own_outline) < 9:
            level = int(own_outline)
        num = _num_pr(ppr) or style_num
        label, suffix = self.numbering.label(*num) if num and num[0] != "0" else ("", "")
        run = _runs(el)
        sep = "" if suffix == "nothing" else " "
        full = (label + sep if label else "") + run.text
        shift = len(full) - len(run.text)
        omap = _offset_map(full)
        refs = []
        for fid, off, custom in run.refs:
            if custom:
                self.warnings.append(f"{where}: a footnote with its own mark (not numbered) is not read")
                continue
            self.fn_number.setdefault(fid, len(self.fn_number) + 1)
            refs.append((self.fn_number[fid], omap[off + shift]))
        return _Block(_clean(full)[0], refs, label, level, style_name)

    def _heading(self, block: _Block, where: str) -> None:
        """Level 0 is a chapter, 1 a section, 2 and deeper a subsection."""
        self.heads = self.heads[:min(block.level, 2)] + [block.text]
        for n, _ in block.refs:
            self.warnings.append(f"{where}: footnote {n} is cited in a heading; it is attached to no paragraph")

    def _numbered(self, block: _Block, where: str) -> bool:
        """A new numbered paragraph (by its list label, or a typed number in sequence). False when it is none."""
        m = NUMBERED_RE.match(block.text)
        if m is None:
            return False
        n, label, paragraphs = int(m.group(1)), block.label, self.paragraphs
        expected = paragraphs[-1].n + 1 if paragraphs else 1
        gap = paragraphs and expected < n < expected + MAX_NUMBERING_GAP
        if not label and gap and ends_complete(paragraphs[-1].text):
            label = f"{n}."     # a typed number past a gap: taken, with a warning below
        if not (label.rstrip(".").isdigit() if label else n == expected):
            return False
        if n != expected:
            if n == 1 and paragraphs:
                self.warnings.append(f"{where}: paragraph numbering restarts at 1 (an annex?); the rest is not read")
                self.stopped = True
                return True
            if not gap:     # a number already used: its text continues the paragraph before
                self.warnings.append(f"{where}: ¶{n} follows ¶{expected - 1} (out of order); its text is kept in "
                                     f"¶{expected - 1}")
                return False
            missing = f"¶{expected}" + (f"–¶{n - 1}" if n - 1 > expected else "")
            self.warnings.append(f"{where}: ¶{n} follows ¶{expected - 1}; {missing} not found (numbering gap)")
        cut = m.start(2)
        markers = [Marker(fn, max(off - cut, 0)) for fn, off in block.refs]
        paragraphs.append(Paragraph(n, m.group(2).rstrip(), list(self.heads), [mk.n for mk in markers], markers))
        return True

    def _continuation(self, block: _Block) -> bool:
        """Unnumbered text under the same headings as the last paragraph (sub-items, quotes) continues it."""
        if not self.paragraphs or self.heads != self.paragraphs[-1].section:
            return False
        p = self.paragraphs[-1]
        joined = join_lines(p.text, block.text)
        base = len(joined) - len(block.text)
        p.text = joined
        for fn, off in block.refs:
            p.markers.append(Marker(fn, base + off))
            p.footnotes.append(fn)
        return True
