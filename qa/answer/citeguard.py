"""The citation guard: checks a generated answer sentence by sentence before any reader sees it.

A sentence survives only when

1. it carries at least one citation, ``[¶n]`` or ``[¶n, fn k]`` (also ``[¶10, 注4]``, ``[¶25, note 6]`` …);
2. every cited ¶ is one of the paragraphs that were retrieved (and shown) for this question;
3. every cited footnote is one whose marker sits in that paragraph;
4. every number and date in the sentence occurs in what it cites: each digit run of the sentence
   (citations removed; full-width and other Unicode digits read as ASCII; ``1,000`` / ``1 000`` read
   as ``1000``; leading zeros ignored; month names next to a number read as the month's number, so
   ``2 March 2020`` needs 2, 3 and 2020, exactly like ``2020年3月2日``) must occur as a digit run in
   the cited paragraphs' text and section headings, or in the text of the footnotes it cites (names such as
   COVID-19 are not numbers).

Anything else (a ¶ mentioned in the running text but not cited, an unreadable citation) fails too.
A failing sentence is dropped with a reason; this module only decides, it never rewrites a sentence.
Everything here is pure: no network, no model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

# --- citations ------------------------------------------------------------------------------------

# A bracket whose content starts with ¶: [¶25], [¶25, fn 6], 【¶25】, ［¶25］.
CITE_RE = re.compile(r"[\[【［]\s*¶[^\[\]【】［］\n]{0,120}[\]】］]")
_FN_LABEL = (r"(?:footnotes?|fns?|notes?|notas?|脚注|注|сноск[аиу]|сн|حاشية|الحاشية|الحواشي)")
_CITE_ITEM = re.compile(
    r"\s*(?:¶\s*(?P<p>\d+)|" + _FN_LABEL + r"\s*\.?\s*(?P<f>\d+)|(?P<n>\d+))\s*"
    r"(?:[,;，；、]|\band\b|\bet\b|\by\b|\bи\b|和|و)?",
    re.IGNORECASE,
)


@dataclass
class Citation:
    """One cited paragraph and the footnotes cited with it."""

    paragraph: int
    footnotes: list[int] = field(default_factory=list)


class CitationSyntaxError(ValueError):
    """A bracket that starts with ¶ but is not a citation this guard can read."""


def _ascii_digits(text: str) -> str:
    """Every Unicode decimal digit (full-width, Arabic-Indic …) as its ASCII digit; same length."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


_BRACKETS = str.maketrans("【】［］", "[][]")


def _scan_form(text: str) -> str:
    """The text the guard scans: ASCII digits, ASCII square brackets; offsets unchanged."""
    return _ascii_digits(text).translate(_BRACKETS)


def parse_citation(marker: str) -> list[Citation]:
    """``[¶25, fn 6, 7]`` → [Citation(25, [6, 7])]; ``[¶3][¶4]`` style items inside one bracket work too.

    Raises `CitationSyntaxError` for anything else inside the bracket (a range, a word, a footnote
    before any ¶, a bare number right after a ¶).
    """
    inner = _scan_form(marker).strip()[1:-1]
    out: list[Citation] = []
    pos, last = 0, ""
    while pos < len(inner):
        m = _CITE_ITEM.match(inner, pos)
        if not m or m.end() == pos:
            raise CitationSyntaxError(f"cannot read citation {marker!r}")
        if m.group("p"):
            out.append(Citation(int(m.group("p"))))
            last = "p"
        elif m.group("f"):
            if not out:
                raise CitationSyntaxError(f"footnote before any ¶ in {marker!r}")
            out[-1].footnotes.append(int(m.group("f")))
            last = "f"
        else:  # a bare number continues a list of footnotes: [¶25, fn 6, 7]
            if last != "f":
                raise CitationSyntaxError(f"unlabelled number in {marker!r} (write [¶n, fn k])")
            out[-1].footnotes.append(int(m.group("n")))
        pos = m.end()
    if not out:
        raise CitationSyntaxError(f"empty citation {marker!r}")
    return out


# --- sentences ------------------------------------------------------------------------------------

# A sentence ends at 。！？!? (with closing quotes), at a "." followed by a space, a citation or the end
# (not after common abbreviations or initials), or at a line break.
_TERM = re.compile(
    r"[。！？!?]+[”’」』)）\"']*"
    r"|(?<!\be\.g)(?<!\bi\.e)(?<!\bNo)(?<!\bno)(?<!\bnos)(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bvs)"
    r"(?<!\bpara)(?<!\bparas)(?<!\bfn)(?<!\bart)(?<!\bArt)(?<!\bpp)(?<!\bp)(?<!\b[A-Z])"
    r"\.[”’\"')）]*(?=\s|$|\[)"
    r"|\n+"
)
_LABEL = re.compile(r"[(（][^()（）\[\]\n]{1,60}[)）][ \t]*")
_LIST_MARK = re.compile(r"(?m)^[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """Drop ``<think>…</think>`` blocks some local models emit before the answer (an open one runs to the end)."""
    return _THINK.sub("", text) if "<think>" in text else text


def _masked(text: str) -> str:
    """The scan form with list bullets blanked out, so "1. " at a line start neither ends nor numbers a sentence."""
    return _LIST_MARK.sub(lambda m: " " * len(m.group()), _scan_form(text))


def split_spans(text: str, start: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text[start:]`` (offsets into ``text``).

    Citations that follow a sentence's final stop (``… ended. [¶90]``) belong to that sentence, and a
    lead-in that ends with a colon joins the sentence after it. Fragments without a letter or digit
    (a stray "." or "---") are left out.
    """
    scan = _masked(text)
    cites = [(m.start(), m.end()) for m in CITE_RE.finditer(scan, start)]

    def in_cite(i: int) -> bool:
        return any(s <= i < e for s, e in cites)

    def cite_at(i: int) -> int | None:
        for s, e in cites:
            if s == i:
                return e
        return None

    raw: list[tuple[int, int]] = []
    pos = start
    for m in _TERM.finditer(scan, start):
        if m.start() < pos or in_cite(m.start()):
            continue
        end = m.end()
        if "\n" not in m.group():
            j = end
            while True:  # absorb citations (and a stop after them) that follow the stop
                k = j
                while k < len(scan) and scan[k] in " \t\n":
                    k += 1
                label = _LABEL.match(scan, k)  # "… .” (unofficial machine translation) [¶90]"
                if label and cite_at(label.end()) is not None:
                    k = label.end()
                e = cite_at(k)
                if e is None:
                    break
                j = end = e
            t = re.match(r"[ \t]*[。.!?！？]+", scan[end:])
            if t and end > m.end():
                end += t.end()
        raw.append((pos, end))
        pos = end
    raw.append((pos, len(text)))
    spans: list[tuple[int, int]] = []
    for s, e in raw:
        while s < e and scan[s].isspace():
            s += 1
        while e > s and scan[e - 1].isspace():
            e -= 1
        if not any(ch.isalnum() for ch in scan[s:e]):
            continue
        if spans and scan[spans[-1][1] - 1] in ":：":
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_spans(text)]


# --- numbers --------------------------------------------------------------------------------------

_MONTHS: dict[str, int] = {}
for _names in (
    "january february march april may june july august september october november december",
    "jan feb mar apr may jun jul aug sep oct nov dec",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
):
    for _i, _name in enumerate(_names.split(), 1):
        _MONTHS.setdefault(_name, _i)
_MONTH_RE = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True)) + r")\.?(?!\w)",
                       re.IGNORECASE)
# A number, with thousands groups joined by a comma, a (no-break / thin) space or an apostrophe.
_NUMBER_RE = re.compile(r"(?<!\d)\d{1,3}(?:[,\u00a0\u202f\u2009' ]\d{3}(?!\d))+|\d+")
_NEAR_NUMBER_BEFORE = re.compile(r"\d[\s,.\u00a0]*(?:of\s+|de\s+)?$")
_NEAR_NUMBER_AFTER = re.compile(r"^[\s,.\u00a0]*(?:de\s+|del\s+|of\s+)?\d")
# A paragraph or footnote named in the running text ("as ¶25 notes", "第25段", "footnote 6").
_PARA_MENTION = re.compile(r"¶\s*(\d+)|第\s*(\d+)\s*段|\b(?:paragraphs?|paragraphes?|párrafos?|paras?\.?)\s*(\d+)",
                           re.IGNORECASE)
# Names with digits in them are not numbers.
_NAMES_WITH_DIGITS = re.compile(r"\bCOVID[-‑–]?19\b|\bSARS[-‑]CoV[-‑]2\b", re.IGNORECASE)
_FN_MENTION = re.compile(r"(?:\bfootnotes?|\bfn\.?|脚注|\bnotes?\s+de\s+bas\s+de\s+page)\s*(\d+)", re.IGNORECASE)


def _norm(run: str) -> str:
    return str(int(run)) if run.isdigit() else run


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_RUN = re.compile("[" + "".join(_CN_DIGITS) + "".join(_CN_UNITS) + "".join(_CN_BIG) + "]+")


def _cn_value(run: str) -> int | None:
    """四十三 → 43, 一百二十 → 120, 两千 → 2000, 二〇二〇 → 2020; None when the run is not a number."""
    if not any(ch in _CN_UNITS or ch in _CN_BIG for ch in run):
        return int("".join(str(_CN_DIGITS[ch]) for ch in run))
    total = section = number = 0
    for ch in run:
        if ch in _CN_DIGITS:
            number = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (number or 1) * _CN_UNITS[ch]
            number = 0
        else:
            if section + number == 0:
                return None
            total += (section + number) * _CN_BIG[ch]
            section = number = 0
    return total + section + number


def _cn_numbers(text: str, *, strict: bool) -> list[tuple[int, str]]:
    """Numbers written in Chinese numerals. ``strict`` (for generated sentences) keeps only unambiguous ones:
    two or more characters with 十/百/千 in them (四十三, 十二), so words like 一些 or 万一 are not read as numbers."""
    out = []
    for m in _CN_RUN.finditer(text):
        run = m.group()
        if strict and (len(run) < 2 or not any(ch in _CN_UNITS for ch in run)):
            continue
        v = _cn_value(run)
        if v is not None:
            out.append((m.start(), str(v)))
    return out


def number_tokens(text: str, *, source: bool = False) -> list[tuple[str, list[str]]]:
    """Each number of ``text`` as (joined digits, its digit groups), plus the month of a date written in words.

    ``"1,000 … 2 March 2020"`` → [("1000", ["1000"]), ("2", ["2"]), ("3", ["3"]), ("2020", ["2020"])]; a number
    grouped by a plain space (``1 000``) also lists its groups, since "87 100" may be two numbers
    (the order follows the text; a month name counts only next to a number, so "in May" is not a date).
    Numbers in Chinese numerals count too: all of them in a ``source`` text, the unambiguous ones otherwise.
    """
    scan = _ascii_digits(text)
    found: list[tuple[int, str, list[str]]] = []
    for m in _NUMBER_RE.finditer(scan):
        groups = re.findall(r"\d+", m.group())
        joined = _norm("".join(groups))
        # "1,000" is one number; "87 100" may be one number or two, so either reading is accepted.
        found.append((m.start(), joined, [_norm(g) for g in groups] if " " in m.group() else [joined]))
    for m in _MONTH_RE.finditer(scan):
        before, after = scan[max(0, m.start() - 12):m.start()], scan[m.end():m.end() + 12]
        if _NEAR_NUMBER_BEFORE.search(before) or _NEAR_NUMBER_AFTER.match(after):
            month = str(_MONTHS[m.group(1).lower()])
            found.append((m.start(), month, [month]))
    for start, value in _cn_numbers(scan, strict=not source):
        found.append((start, value, [value]))
    found.sort(key=lambda t: t[0])
    return [(joined, groups) for _, joined, groups in found]


def number_set(texts: Iterable[str]) -> set[str]:
    """Every number the texts contain, joined and group by group (the support a sentence is checked against)."""
    out: set[str] = set()
    for t in texts:
        for joined, groups in number_tokens(t, source=True):
            out.add(joined)
            out.update(groups)
    return out


# --- the check ------------------------------------------------------------------------------------

@dataclass
class Source:
    """What a citation of one retrieved paragraph may lean on: its text and headings, and its footnotes."""

    n: int
    texts: list[str]
    footnotes: dict[int, str]


def sources_from(paragraphs: Iterable) -> dict[int, Source]:
    """Sources keyed by ¶ number from `CitedParagraph`s (anything with n, text, section, footnotes[].n/.text)."""
    out: dict[int, Source] = {}
    for p in paragraphs:
        src = out.setdefault(p.n, Source(p.n, [], {}))
        src.texts.append(p.text)
        src.texts.extend(p.section)
        for f in p.footnotes:
            src.footnotes[f.n] = f.text
    return out


@dataclass
class SentenceCheck:
    """One generated sentence and the guard's decision."""

    text: str
    kept: bool
    reason: str | None = None  # why it was dropped, for people
    code: str | None = None  # why it was dropped, for programs
    citations: list[Citation] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def _drop(text: str, code: str, reason: str, cites: list[Citation]) -> SentenceCheck:
    return SentenceCheck(text, False, reason, code, cites)


def check_sentence(sentence: str, sources: dict[int, Source]) -> SentenceCheck:
    """Apply the four rules (see the module docstring) to one sentence."""
    scan = _scan_form(sentence)
    cites: list[Citation] = []
    for m in CITE_RE.finditer(scan):
        try:
            cites.extend(parse_citation(m.group()))
        except CitationSyntaxError as exc:
            return _drop(sentence, "bad_citation", str(exc), cites)
    if not cites:
        return _drop(sentence, "no_citation", "the sentence cites no paragraph", cites)
    for c in cites:
        src = sources.get(c.paragraph)
        if src is None:
            return _drop(sentence, "not_retrieved",
                         f"¶{c.paragraph} is not among the retrieved paragraphs ({_list(sources)})", cites)
        for fn in c.footnotes:
            if fn not in src.footnotes:
                have = ", ".join(map(str, sorted(src.footnotes))) or "none"
                return _drop(sentence, "footnote_not_in_paragraph",
                             f"footnote {fn} does not belong to ¶{c.paragraph} (its footnotes: {have})", cites)
    cited_paras = {c.paragraph for c in cites}
    cited_fns = {fn for c in cites for fn in c.footnotes}
    body = CITE_RE.sub(" ", scan)
    for m in _PARA_MENTION.finditer(body):
        n = int(next(g for g in m.groups() if g))
        if n not in cited_paras:
            return _drop(sentence, "uncited_reference", f"the sentence mentions ¶{n} but does not cite it", cites)
    body = _PARA_MENTION.sub(" ", body)
    for m in _FN_MENTION.finditer(body):
        if int(m.group(1)) not in cited_fns:
            return _drop(sentence, "uncited_reference",
                         f"the sentence mentions footnote {m.group(1)} but does not cite it", cites)
    body = _NAMES_WITH_DIGITS.sub(" ", _FN_MENTION.sub(" ", body))
    support = number_set(t for c in cites for t in sources[c.paragraph].texts)
    support |= number_set(sources[c.paragraph].footnotes[fn] for c in cites for fn in c.footnotes)
    for joined, groups in number_tokens(body):
        if joined not in support and not all(g in support for g in groups):
            where = ", ".join(_cite_label(c) for c in cites)
            return _drop(sentence, "unsupported_number", f"{joined} does not occur in {where}", cites)
    return SentenceCheck(sentence, True, None, None, cites)


def _list(sources: dict[int, Source]) -> str:
    return ", ".join(f"¶{n}" for n in sorted(sources)) or "none"


def _cite_label(c: Citation) -> str:
    return f"¶{c.paragraph}" + (f" fn {', '.join(map(str, c.footnotes))}" if c.footnotes else "")


def guard(text: str, paragraphs: Iterable) -> list[SentenceCheck]:
    """Split a generated answer into sentences and check each against the retrieved paragraphs."""
    sources = sources_from(paragraphs)
    visible = strip_reasoning(text)
    return [check_sentence(visible[s:e], sources) for s, e in split_spans(visible)]


class SentenceStream:
    """Incremental `guard`: feed text as it streams in, get each sentence's decision as soon as it is complete.

    A sentence is complete once text that cannot belong to it has arrived (the next sentence has started,
    and not with a citation that may still be attached to it). ``feed(all); finish()`` decides exactly
    what `guard` decides.
    """

    def __init__(self, paragraphs: Iterable) -> None:
        self.sources = sources_from(paragraphs)
        self.raw = ""
        self.done = 0  # offset in the visible text up to which sentences were decided
        self.checks: list[SentenceCheck] = []

    def _visible(self) -> str:
        return strip_reasoning(self.raw)

    def feed(self, delta: str) -> list[SentenceCheck]:
        self.raw += delta
        if "<think>" in self.raw and "</think>" not in self.raw:
            return []  # still reasoning: nothing to show yet
        visible = self._visible()
        spans = split_spans(visible, self.done)
        ready = spans[:-1]
        if ready and visible[spans[-1][0]] in "[【［(（":
            ready = ready[:-1]  # its citation (perhaps after a "(label)") may still be on its way
        while ready and visible[ready[-1][1] - 1] in ":：":
            ready = ready[:-1]  # a lead-in waits for the sentence it introduces
        return self._decide(visible, ready)

    def finish(self) -> list[SentenceCheck]:
        visible = self._visible()
        return self._decide(visible, split_spans(visible, self.done))

    def _decide(self, visible: str, spans: list[tuple[int, int]]) -> list[SentenceCheck]:
        out = [check_sentence(visible[s:e], self.sources) for s, e in spans]
        if spans:
            self.done = spans[-1][1]
        self.checks.extend(out)
        return out
