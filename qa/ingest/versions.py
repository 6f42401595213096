"""Language versions of one report, aligned by paragraph and footnote number, and checked.

The official versions of a UN report (same symbol, different languages) share their paragraph and footnote
numbers. `align(documents)` pairs each version's ¶n with the original's ¶n and footnote n with footnote n, and
checks each pair on what no translation changes: the numbers and dates in the text (month names read as
numbers), the footnote markers a paragraph carries, and each footnote's web addresses. A pair that disagrees is
*misaligned* and reported with its number; a pair with nothing language-neutral to compare is *unverified* and
counts as aligned only between aligned neighbours. Nothing is guessed: a misaligned ¶ is never treated as the
same text in two languages.

The original is the version the corpus lists first among them (the bundled report, else the one added
first). `alignments(corpus)` aligns every symbol that has two or more loaded versions.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from qa.types import Corpus, Document, Footnote, Paragraph

_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THIN_THOUSANDS = re.compile(r"(?<=\d)[\u00a0\u202f\u2009 ](?=\d{3}(?!\d))")  # "150 000" (fr)
_MONTHS = {
    # en (capitalized only: "may" is a verb), fr, es, ru (genitive and nominative), ar
    **{m: i for i, m in enumerate(["January", "February", "March", "April", "May", "June", "July", "August",
                                     "September", "October", "November", "December"], 1)},
    **{m: i for i, m in enumerate(["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                                     "septembre", "octobre", "novembre", "décembre"], 1)},
    **{m: i for i, m in enumerate(["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
                                     "septiembre", "octubre", "noviembre", "diciembre"], 1)},
    **{m: i for i, m in enumerate(["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                                     "сентября", "октября", "ноября", "декабря"], 1)},
    **{m: i for i, m in enumerate(["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
                                     "сентябрь", "октябрь", "ноябрь", "декабрь"], 1)},
    **{m: i for i, m in enumerate(["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيه", "يوليه", "أغسطس",
                                     "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"], 1)},
}
_MONTH_RE = re.compile(r"(?<!\w)(" + "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True)) + r")(?!\w)")


# ------------------------------------------------------------------------------------- neutral tokens

def _number(raw: str) -> str:
    """One number, spelled the same in every language: thousands separators dropped, a decimal comma a point."""
    parts = re.split(r"[.,]", raw)
    if len(parts) > 1 and all(len(p) == 3 for p in parts[1:]):
        return str(int("".join(parts)))
    if len(parts) == 2:
        return f"{int(parts[0])}.{parts[1]}"
    return ".".join(str(int(p)) for p in parts)


def neutral_tokens(text: str) -> list[str]:
    """The numbers and dates of `text` (web addresses left out), sorted: what every language version shares.
    "17 November 2024", "17 novembre 2024" and "2024年11月17日" all give ['11', '17', '2024']."""
    text = _THIN_THOUSANDS.sub("", _URL.sub(" ", text))
    out = [_number(m.group()) for m in _NUMBER.finditer(text)]
    out += [str(_MONTHS[m.group()]) for m in _MONTH_RE.finditer(text)]
    return sorted(out)


def sentence_tokens(p: Paragraph, i: int) -> tuple[list[str], list[int]]:
    """Sentence `i` of `p`: its neutral tokens and the footnote markers inside it."""
    s, e = p.spans[i]
    return neutral_tokens(p.text[s:e]), [m.n for m in p.markers if s < m.offset <= e]


def sentence_map(src: Paragraph, dst: Paragraph) -> bool:
    """Whether sentence i of `src` is sentence i of `dst` for every i: the same number of sentences, each pair with
    the same numbers, dates and footnote markers, and at least one pair with something to compare."""
    if len(src.spans) != len(dst.spans):
        return False
    checked = False
    for i in range(len(src.spans)):
        a, b = sentence_tokens(src, i), sentence_tokens(dst, i)
        if a != b:
            return False
        checked = checked or bool(a[0] or a[1])
    return checked or len(src.spans) == 1


# ----------------------------------------------------------------------------------------- the check

@dataclass
class ParagraphCheck:
    n: int
    status: str  # aligned | unverified | misaligned | missing (not in this version) | extra (only in this version)
    original: list[str] = field(default_factory=list)  # the neutral tokens and markers compared
    version: list[str] = field(default_factory=list)


@dataclass
class VersionCheck:
    """One version against the original."""

    doc: str
    language: str
    paragraphs: int
    footnotes: int
    checks: list[ParagraphCheck] = field(default_factory=list)
    footnotes_misaligned: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    original: bool = False

    @property
    def misaligned(self) -> list[int]:
        return [c.n for c in self.checks if c.status in ("misaligned", "missing", "extra")]

    def aligned(self, n: int) -> bool:
        """Whether ¶n of this version is ¶n of the original (an unverified ¶ only between aligned neighbours)."""
        if self.original:
            return True
        by_n = {c.n: i for i, c in enumerate(self.checks)}
        if n not in by_n:
            return False
        i = by_n[n]
        status = self.checks[i].status
        if status != "unverified":
            return status == "aligned"
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(self.checks) and self.checks[j].status == "unverified":
                j += step
            if 0 <= j < len(self.checks) and self.checks[j].status != "aligned":
                return False
        return True

    def footnote_aligned(self, n: int) -> bool:
        return self.original or (n not in self.footnotes_misaligned and self.footnotes > 0)

    def summary(self) -> str:
        if self.original:
            return "the original"
        bad = self.misaligned
        if not bad and not self.footnotes_misaligned:
            unverified = [c.n for c in self.checks if c.status == "unverified"]
            tail = f" ({len(unverified)} without numbers to compare: ¶{_ranges(unverified)})" if unverified else ""
            return f"aligned: every ¶ and footnote{tail}"
        parts = []
        if bad:
            parts.append(f"¶{_ranges(bad)} misaligned")
        if self.footnotes_misaligned:
            parts.append(f"footnote {_ranges(self.footnotes_misaligned)} misaligned")
        return "MISALIGNED: " + "; ".join(parts)

    def to_json(self) -> dict:
        d = asdict(self)
        d["misaligned"] = self.misaligned
        d["summary"] = self.summary()
        return d


@dataclass
class Alignment:
    symbol: str
    original: str  # the doc id every version is checked against
    versions: list[VersionCheck]

    def version(self, doc_id: str) -> VersionCheck | None:
        return next((v for v in self.versions if v.doc == doc_id), None)

    def in_language(self, lang: str) -> VersionCheck | None:
        return next((v for v in self.versions if v.language == lang), None)

    @property
    def ok(self) -> bool:
        return all(not v.misaligned and not v.footnotes_misaligned for v in self.versions)

    def to_json(self) -> dict:
        return {"symbol": self.symbol, "original": self.original, "ok": self.ok,
                "versions": [v.to_json() for v in self.versions]}

    def lines(self) -> list[str]:
        """The check as text, one line per version and one per note (`qa versions`)."""
        orig = self.version(self.original)
        out = [f"{self.symbol}: {len(self.versions)} language versions; checked against the original, "
               f"{orig.language} ({orig.doc}): ¶ numbers, numbers and dates, footnote markers and web addresses"]
        for v in self.versions:
            out.append(f"  {v.language:3} {v.doc:28} {v.paragraphs:4} ¶ {v.footnotes:3} fn  {v.summary()}")
            out += [f"      {n}" for n in v.notes]
        return out


def _ranges(ns: list[int]) -> str:
    """[7, 8, 9, 12] → '7–9, 12'."""
    out, ns = [], sorted(ns)
    i = 0
    while i < len(ns):
        j = i
        while j + 1 < len(ns) and ns[j + 1] == ns[j] + 1:
            j += 1
        out.append(f"{ns[i]}" if i == j else f"{ns[i]}–{ns[j]}")
        i = j + 1
    return ", ".join(out)


def _paragraph_key(p: Paragraph) -> list[str]:
    return neutral_tokens(p.text) + [f"fn{n}" for n in sorted(p.footnotes)]


def _footnote_key(f: Footnote) -> tuple:
    return neutral_tokens(f.text), sorted(set(f.urls)), f.paragraph


def check_version(original: Document, doc: Document) -> VersionCheck:
    """`doc` against `original`, ¶ by ¶ and footnote by footnote."""
    v = VersionCheck(doc.id, doc.language, len(doc.paragraphs), len(doc.footnotes), original=doc is original)
    mine = {p.n: p for p in doc.paragraphs}
    theirs = {p.n: p for p in original.paragraphs}
    for n in sorted(set(mine) | set(theirs)):
        a, b = theirs.get(n), mine.get(n)
        if a is None or b is None:
            v.checks.append(ParagraphCheck(n, "extra" if a is None else "missing",
                                           _paragraph_key(a) if a else [], _paragraph_key(b) if b else []))
            continue
        ka, kb = _paragraph_key(a), _paragraph_key(b)
        status = "misaligned" if ka != kb else ("aligned" if ka else "unverified")
        v.checks.append(ParagraphCheck(n, status, ka, kb))
    fa = {f.n: f for f in original.footnotes}
    fb = {f.n: f for f in doc.footnotes}
    v.footnotes_misaligned = [n for n in sorted(set(fa) | set(fb))
                              if n not in fa or n not in fb or _footnote_key(fa[n]) != _footnote_key(fb[n])]
    v.notes = _explain(v, theirs, mine)
    return v


def _explain(v: VersionCheck, theirs: dict[int, Paragraph], mine: dict[int, Paragraph]) -> list[str]:
    """What the misaligned ¶ look like: a split or merged paragraph, and from where the numbers are off."""
    notes = []
    bad = v.misaligned
    if not bad:
        return notes
    first = bad[0]
    a, b, b2 = theirs.get(first), mine.get(first), mine.get(first + 1)
    if a and b and b2 and sorted(_paragraph_key(b) + _paragraph_key(b2)) == sorted(_paragraph_key(a)):
        notes.append(f"¶{first} of the original seems split in two here (¶{first} and ¶{first + 1} of this version "
                     f"carry its numbers); the ¶ numbers after it are off by one")
    a2 = theirs.get(first + 1)
    if a and a2 and b and sorted(_paragraph_key(a) + _paragraph_key(a2)) == sorted(_paragraph_key(b)):
        notes.append(f"¶{first} and ¶{first + 1} of the original seem merged into ¶{first} here; the ¶ numbers after "
                     f"it are off by one")
    if v.paragraphs != len(theirs):
        notes.append(f"{v.paragraphs} paragraphs against {len(theirs)} in the original")
    notes.append(f"first disagreement at ¶{first}: the original has {a and _paragraph_key(a) or '–'}, this version "
                 f"{b and _paragraph_key(b) or '–'}; these ¶ are not quoted as the same text")
    return notes


def symbol_key(symbol: str) -> str:
    """How symbols compare: "a/75/36" is "A/75/36"."""
    return re.sub(r"\s+", "", symbol).upper()


def align(documents: list[Document]) -> Alignment:
    """The versions of one report, each checked against the first (the original)."""
    original = documents[0]
    return Alignment(original.meta.get("symbol") or original.id, original.id,
                     [check_version(original, d) for d in documents])


def version_groups(corpus: Corpus) -> dict[str, list[Document]]:
    """Documents by symbol key, in corpus order, for symbols with two or more loaded versions."""
    groups: dict[str, list[Document]] = {}
    for d in corpus.documents:
        if d.meta.get("symbol"):
            groups.setdefault(symbol_key(d.meta["symbol"]), []).append(d)
    return {k: v for k, v in groups.items() if len(v) > 1 and len({d.language for d in v}) > 1}


_CACHE: dict[int, tuple[Corpus, tuple, dict[str, Alignment]]] = {}


def alignments(corpus: Corpus) -> dict[str, Alignment]:
    """Every report with two or more language versions loaded, aligned; by symbol key (upper case, no spaces).
    Cached per corpus (and its list of documents)."""
    stamp = tuple((d.id, len(d.paragraphs)) for d in corpus.documents)
    hit = _CACHE.get(id(corpus))
    if hit is not None and hit[0] is corpus and hit[1] == stamp:
        return hit[2]
    out = {k: align(docs) for k, docs in version_groups(corpus).items()}
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[id(corpus)] = (corpus, stamp, out)
    return out


def alignment_of(corpus: Corpus, doc: Document) -> Alignment | None:
    """The alignment of the report `doc` is a version of, or None when no other version is loaded."""
    symbol = doc.meta.get("symbol")
    return alignments(corpus).get(symbol_key(symbol)) if symbol else None
