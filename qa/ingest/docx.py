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
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.ingest.pdf import SYMBOL_RE
from qa.ingest.txt import NUMBERED_RE, CorpusError, _footnote_urls, ends_complete, guess_language, join_lines
from qa.types import Document, Footnote, Marker, Paragraph

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_SKIP = {W + "del", W + "moveFrom", W + "txbxContent", MC + "Fallback", W + "instrText", W + "delText",
         W + "footnoteRef", W + "endnoteRef", W + "pPr", W + "rPr"}

Progress = Callable[[int, int], None]


def _safe_xml(blob: bytes):
    from lxml import etree

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


def open_docx(path: Path) -> DocxParts:
    import docx
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


def _paragraph_elements(body, warnings: list[str]):
    """Block-level paragraphs in reading order (content controls opened; tables skipped with a warning)."""
    for el in body:
        if el.tag == W + "p":
            yield el
        elif el.tag == W + "sdt":
            content = el.find(W + "sdtContent")
            if content is not None:
                yield from _paragraph_elements(content, warnings)
        elif el.tag == W + "tbl":
            yield el


def parse_docx(path: str | Path, *, doc_id: str, title: str = "", language: str = "",
               progress: Progress | None = None) -> Document:
    """Parse a Word report. Raises `CorpusError` with a one-line reason on input it cannot use."""
    from qa.ingest.files import check_zip

    path = Path(path)
    check_zip(path)   # a zip bomb is refused before any part is inflated
    parts = open_docx(path)
    try:
        return _parse(parts, path, doc_id=doc_id, title=title, language=language, progress=progress)
    except CorpusError as exc:
        raise CorpusError(f"{path.name}: {exc}") from exc


def _parse(parts: DocxParts, path: Path, *, doc_id: str, title: str, language: str,
           progress: Progress | None) -> Document:
    styles = read_styles(parts.styles)
    numbering = Numbering.from_xml(parts.numbering)
    fn_text, fn_links = _footnote_texts(parts.footnotes, parts.footnote_links)
    warnings: list[str] = []
    paragraphs: list[Paragraph] = []
    path_heads: list[str] = []
    fn_number: dict[str, int] = {}
    holder: dict[int, int] = {}
    front_title = ""
    stopped = False
    elements = list(_paragraph_elements(parts.body, warnings))
    for k, el in enumerate(elements, start=1):
        where = f"Word paragraph {k}" + (f" (after ¶{paragraphs[-1].n})" if paragraphs else "")
        if el.tag == W + "tbl":
            if paragraphs:
                warnings.append(f"{where}: a table is not read")
            continue
        ppr = el.find(W + "pPr")
        style_num, level, style_name = _resolve(styles, _val(ppr, "pStyle"))
        own_outline = _val(ppr, "outlineLvl") if ppr is not None else None
        if own_outline is not None and int(own_outline) < 9:
            level = int(own_outline)
        num = _num_pr(ppr) or style_num
        label, suffix = numbering.label(*num) if num and num[0] != "0" else ("", "")
        run = _runs(el)
        sep = "" if suffix == "nothing" else " "
        full = (label + sep if label else "") + run.text
        shift = len(full) - len(run.text)
        text, _ = _clean(full)
        omap = _offset_map(full)
        refs = []
        for fid, off, custom in run.refs:
            if custom:
                warnings.append(f"{where}: a footnote with its own mark (not numbered) is not read")
                continue
            if fid not in fn_number:
                fn_number[fid] = len(fn_number) + 1
            refs.append((fn_number[fid], omap[off + shift]))
        if stopped or (not text and not refs):
            continue
        if level is not None and level < 9 and text:
            depth = min(level, 2)
            path_heads = path_heads[:depth] + [text]
            for n, _ in refs:
                warnings.append(f"{where}: footnote {n} is cited in a heading; it is attached to no paragraph")
            continue
        m = NUMBERED_RE.match(text)
        n = int(m.group(1)) if m else None
        expected = paragraphs[-1].n + 1 if paragraphs else 1
        if n is not None and not label and n > expected and paragraphs and ends_complete(paragraphs[-1].text):
            raise CorpusError(f"paragraph numbers out of order: found ¶{n} after ¶{expected - 1} "
                              f"({where}); paragraphs must run 1, 2, 3 …")
        if n is not None and (label.rstrip(".").isdigit() if label else n == expected):
            if n != expected:
                if n == 1 and paragraphs:
                    warnings.append(f"{where}: paragraph numbering restarts at 1 (an annex?); the rest is not read")
                    stopped = True
                    continue
                raise CorpusError(f"paragraph numbers out of order: found ¶{n} after ¶{expected - 1} "
                                  f"({where}); paragraphs must run 1, 2, 3 …")
            body = m.group(2)
            cut = m.start(2)
            markers = [Marker(fn, max(off - cut, 0)) for fn, off in refs]
            paragraphs.append(Paragraph(n, body.rstrip(), list(path_heads), [mk.n for mk in markers], markers))
            for mk in markers:
                holder[mk.n] = n
            continue
        if paragraphs and path_heads == paragraphs[-1].section:
            p = paragraphs[-1]
            joined = join_lines(p.text, text)
            base = len(joined) - len(text)
            p.text = joined
            for fn, off in refs:
                p.markers.append(Marker(fn, base + off))
                p.footnotes.append(fn)
                holder[fn] = p.n
            continue
        if not paragraphs and not path_heads:
            if "title" in style_name.lower() and not front_title:
                front_title = text
            continue
        warnings.append(f"{where}: text outside any numbered paragraph skipped: '{text[:40]}'")
    if progress:
        progress(len(elements), len(elements))
    if not paragraphs:
        raise CorpusError("no numbered paragraphs found (neither list-numbered nor typed '1.', '2.' …); "
                          "is this a UN report?")
    by_number = {n: fid for fid, n in fn_number.items()}
    footnotes = []
    for n in sorted(by_number):
        text = fn_text.get(by_number[n])
        if text is None:
            warnings.append(f"¶{holder.get(n)}: footnote {n} has no text in the footnotes part")
            continue
        footnotes.append(Footnote(n, text, holder.get(n), _footnote_urls(text, fn_links)))
    for p in paragraphs:
        p.markers = [Marker(mk.n, min(mk.offset, len(p.text))) for mk in p.markers]
        if not p.section:
            warnings.append(f"¶{p.n} has no section heading above it")
    language = language or (parts.language or "")[:2].lower() or guess_language("\n".join(p.text for p in paragraphs))
    title = title or front_title or parts.title or next((p.section[0] for p in paragraphs if p.section), doc_id)
    symbols = Counter(t for h in parts.headers for t in h.split() if SYMBOL_RE.match(t))
    doc = Document(doc_id, title, language, paragraphs, footnotes, warnings)
    doc.meta = {"date": parts.created, "detected_symbol": symbols.most_common(1)[0][0] if symbols else None}
    return doc
