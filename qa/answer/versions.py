"""An answer in the reader's language version of a report: each quote and each cited ¶ placed in that version.

The official language versions of a UN report share their ¶ and footnote numbers (`qa.ingest.versions` aligns
and checks them). When the version in the reader's language is loaded, a quote from ¶n of any version becomes
the same sentences of ¶n of the reader's version: sentence i is sentence i when both ¶ have as many sentences
and each pair carries the same numbers, dates and footnote markers; otherwise the whole ¶ is quoted. The
citation stays the same ([A/75/36 ¶25, fn 6]: the number is the same in every version). The original
version's text goes along (`original`), so the app can show it one click away and the JSON carries both.

A ¶ the check found misaligned is never quoted as the same text: a quote from such a ¶ stays as found, and a
quote whose reader's ¶ is misaligned stays in the original, each with a `note`. A reader whose version is not
loaded gets the original version's text, as with one version loaded.

`fuse_versions(result, corpus)` merges search hits on the same aligned ¶ of several versions into one (the
best-ranked), so a question matched in every loaded version cites each ¶ once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from babel import Locale

from qa.answer.extractive import Answer, CitedParagraph, Quote
from qa.answer.i18n import cite
from qa.ingest.versions import Alignment, alignment_of, alignments, sentence_map
from qa.retrieval.retriever import SearchResult
from qa.types import Corpus, Document, Paragraph

SHOW_ORIGINAL = {  # {name}: the original's language, named in the reader's language
    "en": "Show the {name} text (the original)", "fr": "Afficher le texte original ({name})",
    "es": "Mostrar el texto original ({name})", "ru": "Показать оригинал ({name})",
    "ar": "عرض النص الأصلي ({name})", "zh": "显示原文（{name}）",
}
NOTES = {
    "source_misaligned": "¶{n} of the {lang} version does not line up with the original (see qa versions {symbol}); "
                         "quoted as found",
    "reader_misaligned": "¶{n} of the {lang} version does not line up with the original (see qa versions {symbol}); "
                         "quoted in the original",
}


@dataclass
class VersionedQuote(Quote):
    """A quote placed in one language version; `original` is the same span in the original version."""

    language: str = ""          # the language of `text`
    version: str = "original"   # which version `text` comes from: "reader", "original" or "other"
    alignment: str = "same"     # "same" (as found), "sentence" (the same sentences), "paragraph" (the whole ¶),
    #                             "footnote" (the footnote with the same number)
    original: dict | None = None  # {"doc", "language", "text", "start", "end"} when `text` is not the original
    note: str | None = None


@dataclass
class VersionedParagraph(CitedParagraph):
    """A cited ¶ in one language version; `original` is the original version's ¶ with its highlights."""

    language: str = ""
    version: str = "original"
    original: dict | None = None  # {"doc", "language", "section", "text", "highlights", "markers", "footnotes"}
    note: str | None = None


def show_original_label(reader: str, original: str) -> str:
    """"Show the Chinese text (the original)", "Afficher le texte original (chinois)": in the reader's language."""
    try:
        name = Locale.parse(original).get_display_name(reader if reader in SHOW_ORIGINAL else "en") or original
    except (ValueError, TypeError, LookupError):
        name = original
    return SHOW_ORIGINAL.get(reader, SHOW_ORIGINAL["en"]).format(name=name)


# ------------------------------------------------------------------------------------------- spans

def map_span(src: Paragraph, start: int, end: int, dst: Paragraph) -> tuple[int, int, str]:
    """The span of `dst` that says what [start, end) of `src` says: the same sentences when the two ¶ align
    sentence by sentence, else the whole of `dst`."""
    if start <= 0 and end >= len(src.text):
        return 0, len(dst.text), "paragraph"
    if sentence_map(src, dst):
        idx = [i for i, (s, e) in enumerate(src.spans) if s < end and e > start]
        if idx:
            return dst.spans[idx[0]][0], dst.spans[idx[-1]][1], "sentence"
    return 0, len(dst.text), "paragraph"


def _role(doc: Document, al: Alignment, lang: str) -> str:
    return "reader" if doc.language == lang else "original" if doc.id == al.original else "other"


def _reader_doc(al: Alignment, corpus: Corpus, lang: str, n: int) -> Document | None:
    """The reader's version, preferring one whose ¶n is aligned when two are loaded in that language."""
    mine = [v for v in al.versions if v.language == lang]
    mine.sort(key=lambda v: not v.aligned(n))
    return corpus.document(mine[0].doc) if mine else None


def _target(al: Alignment, corpus: Corpus, doc: Document, n: int, lang: str) -> tuple[Document, str | None]:
    """Where ¶n found in `doc` is shown to a `lang` reader, and the note that says why when it is not there."""
    src = al.version(doc.id)
    symbol = al.symbol
    if src is None or not src.aligned(n):
        return doc, NOTES["source_misaligned"].format(n=n, lang=doc.language, symbol=symbol)
    reader = _reader_doc(al, corpus, lang, n)
    if reader is None:  # no version in the reader's language: the original, as with one version loaded
        orig = corpus.document(al.original)
        return (orig if orig.paragraph(n) is not None else doc), None
    if not al.version(reader.id).aligned(n) or reader.paragraph(n) is None:
        return corpus.document(al.original), NOTES["reader_misaligned"].format(n=n, lang=reader.language, symbol=symbol)
    return reader, None


def _label(corpus: Corpus, al: Alignment) -> str | None:
    """How a citation names the report: its symbol, with no language (the ¶ numbers are those of every version)."""
    return al.symbol if len(corpus.documents) > 1 else None


# ------------------------------------------------------------------------------------------ answers

def _quote(q: Quote, corpus: Corpus, lang: str) -> Quote:
    doc = corpus.document(q.doc)
    al = alignment_of(corpus, doc) if doc is not None else None
    if al is None:
        return q
    src_p = doc.paragraph(q.paragraph)
    target, note = _target(al, corpus, doc, q.paragraph, lang)
    orig = corpus.document(al.original)
    base = {f.name: getattr(q, f.name) for f in fields(Quote)}
    out = VersionedQuote(**base, language=doc.language, version=_role(doc, al, lang), note=note)
    if al.version(doc.id).aligned(q.paragraph):  # a misaligned ¶ keeps the citation it was found with
        out.citation = cite(q.paragraph, q.footnotes, lang, _label(corpus, al))
    if q.source == "footnote":
        fn = q.footnotes[0] if q.footnotes else None
        f_dst = target.footnote(fn) if fn is not None else None
        ok = target is doc or (al.version(target.id).footnote_aligned(fn) and al.version(doc.id).footnote_aligned(fn))
        if f_dst is not None and ok:
            out.text, out.doc, out.language = f_dst.text, target.id, target.language
            out.version, out.alignment = _role(target, al, lang), "same" if target is doc else "footnote"
        f_orig = orig.footnote(fn) if fn is not None else None
        if out.doc != orig.id and f_orig is not None:
            out.original = {"doc": orig.id, "language": orig.language, "text": f_orig.text, "start": None, "end": None}
        return out
    if src_p is None or q.start is None or q.end is None:
        return out
    if target is not doc:
        dst_p = target.paragraph(q.paragraph)
        s, e, how = map_span(src_p, q.start, q.end, dst_p)
        out.text, out.doc, out.start, out.end, out.alignment = dst_p.text[s:e], target.id, s, e, how
        out.sentence = _sentence_at(dst_p, s) if how == "sentence" else None
        out.language, out.version = target.language, _role(target, al, lang)
    if out.doc != orig.id:
        o_p = orig.paragraph(q.paragraph)
        if o_p is not None and al.version(doc.id).aligned(q.paragraph):
            s, e, _ = map_span(src_p, q.start, q.end, o_p) if doc is not orig else (q.start, q.end, "same")
            out.original = {"doc": orig.id, "language": orig.language, "text": o_p.text[s:e], "start": s, "end": e}
    return out


def _sentence_at(p: Paragraph, start: int) -> int | None:
    return next((i for i, (s, _) in enumerate(p.spans) if s == start), None)


def paragraph_in_version(cp: CitedParagraph, corpus: Corpus, lang: str) -> CitedParagraph:
    """`cp` (a cited ¶) in the reader's version, with the original's ¶ in `original`; unchanged when its report
    has no other version loaded."""
    doc = corpus.document(cp.doc)
    al = alignment_of(corpus, doc) if doc is not None else None
    src_p = doc.paragraph(cp.n) if al is not None else None
    if al is None or src_p is None:
        return cp
    target, note = _target(al, corpus, doc, cp.n, lang)
    orig = corpus.document(al.original)
    base = {f.name: getattr(cp, f.name) for f in fields(CitedParagraph)}
    out = VersionedParagraph(**base, language=doc.language, version=_role(doc, al, lang), note=note)
    if target is not doc:
        out.doc, out.language, out.version = target.id, target.language, _role(target, al, lang)
        _place(out, target, src_p, cp.highlights)
    if out.doc != orig.id and al.version(doc.id).aligned(cp.n) and orig.paragraph(cp.n) is not None:
        o = VersionedParagraph(**base)
        if doc is not orig:
            _place(o, orig, src_p, cp.highlights)
        out.original = {"doc": orig.id, "language": orig.language, "section": o.section, "text": o.text,
                        "highlights": o.highlights, "markers": o.markers,
                        "footnotes": [{"n": f.n, "text": f.text, "urls": list(f.urls)} for f in o.footnotes]}
    return out


def _place(cp: CitedParagraph, doc: Document, src: Paragraph, highlights: list[tuple[int, int]]) -> None:
    """Put `cp` (¶n as found in `src`) into `doc`'s ¶n: its text, section, markers, footnotes and the highlights."""
    p = doc.paragraph(cp.n)
    cp.text, cp.section = p.text, list(p.section)
    cp.markers = [(m.n, m.offset) for m in p.markers]
    cp.footnotes = [f for f in (doc.footnote(n) for n in p.footnotes) if f is not None]
    cp.highlights = sorted({map_span(src, s, e, p)[:2] for s, e in highlights})


def in_reader_version(ans: Answer, corpus: Corpus, lang: str | None = None) -> Answer:
    """`ans` with each quote and cited ¶ of a report with several loaded versions placed in the reader's
    version (`lang`, else the answer's language); unchanged when no report has two versions loaded."""
    lang = lang or ans.language
    if not alignments(corpus) or not (ans.quotes or ans.paragraphs or ans.related):
        return ans
    quotes, seen = [], set()
    for q in ans.quotes:
        v = _quote(q, corpus, lang)
        key = (v.doc, v.paragraph, v.source, v.start, v.end, tuple(v.footnotes), v.text)
        if key not in seen:
            seen.add(key)
            quotes.append(v)
    ans.quotes = quotes
    ans.paragraphs = _unique([paragraph_in_version(p, corpus, lang) for p in ans.paragraphs])
    ans.related = _unique([paragraph_in_version(p, corpus, lang) for p in ans.related])
    return ans


def _unique(cards: list[CitedParagraph]) -> list[CitedParagraph]:
    out: dict[tuple[str, int], CitedParagraph] = {}
    for c in cards:
        if (c.doc, c.n) in out:
            kept = out[(c.doc, c.n)]
            kept.highlights = sorted(set(kept.highlights) | set(c.highlights))
            kept.evidence_footnotes = sorted(set(kept.evidence_footnotes) | set(c.evidence_footnotes))
        else:
            out[(c.doc, c.n)] = c
    return list(out.values())


# ------------------------------------------------------------------------------------------- search

def fuse_versions(result: SearchResult, corpus: Corpus) -> SearchResult:
    """Hits on the same aligned ¶ of several versions of one report fused into the best-ranked one (its score;
    the footnotes of all); a hit on a misaligned ¶ stays on its own. Unchanged with one version per report."""
    groups = alignments(corpus)
    if not groups or not result.hits:
        return result
    kept, by_key = [], {}
    for h in result.hits:
        doc = corpus.document(h.doc)
        al = alignment_of(corpus, doc) if doc is not None else None
        check = al.version(h.doc) if al is not None else None
        if check is None or not check.aligned(h.paragraph):
            kept.append(h)
            continue
        key = (al.symbol, h.paragraph)
        if key in by_key:
            best = by_key[key]
            best.footnotes = list(dict.fromkeys(best.footnotes + h.footnotes))
            continue
        by_key[key] = h
        kept.append(h)
    for rank, h in enumerate(kept, 1):
        h.rank = rank
    result.hits = kept
    return result
