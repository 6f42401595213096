"""Hits → an `Answer`: 1–3 verbatim sentences, each cited ([¶25], [¶10, 注4]), and the cited paragraphs in full.

Exactness is structural: every quoted sentence is a slice of its paragraph's text (or a footnote's
text), every citation names a paragraph that is shown, and a cited footnote is one whose marker
sits in that paragraph.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from qa.answer.i18n import cite, labels
from qa.answer.lookup import Lookup
from qa.retrieval.retriever import Hit, SearchResult
from qa.types import Corpus, Document, Footnote, Paragraph

MAX_SENTENCES = 3
SHOWN_PARAGRAPHS = 3
SECOND_SOURCE_SHARE = 0.15  # a 2nd/3rd paragraph joins the answer when within 15% of the top fused score


@dataclass
class Quote:
    """One answer sentence, verbatim, with its citation."""

    text: str
    doc: str
    paragraph: int
    source: str  # "paragraph" or "footnote"
    sentence: int | None = None  # index in the paragraph (source == "paragraph")
    start: int | None = None  # offsets in the paragraph text
    end: int | None = None
    footnotes: list[int] = field(default_factory=list)
    citation: str = ""


@dataclass
class CitedParagraph:
    doc: str
    n: int
    section: list[str]
    text: str
    highlights: list[tuple[int, int]]
    markers: list[tuple[int, int]]  # (footnote, offset) for superscripts
    footnotes: list[Footnote]
    evidence_footnotes: list[int] = field(default_factory=list)
    score: float | None = None
    signals: dict[str, float] = field(default_factory=dict)
    symbol: str | None = None  # the document's UN symbol (A/75/36): official language versions, citations to paste


@dataclass
class Answer:
    question: str
    query: str
    language: str
    covered: bool
    kind: str  # "search", "lookup" or "not_found"
    quotes: list[Quote] = field(default_factory=list)
    paragraphs: list[CitedParagraph] = field(default_factory=list)
    related: list[CitedParagraph] = field(default_factory=list)
    message: str = ""
    notice: str | None = None
    mode: str = "hybrid"
    confidence: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    llm: dict | None = None  # the optional generated answer and the citation guard's decisions (qa/answer/llm.py)

    def to_json(self) -> dict:
        from qa.answer.links import annotate

        d = asdict(self)
        d["text"] = self.text()
        return annotate(d, self.language)  # each paragraph and quote: "official" symbol, citation, six links

    def text(self) -> str:
        """The answer as plain text: the message, or the quotes each followed by its citation."""
        if self.quotes:
            return "\n".join(f"{q.text} {q.citation}" for q in self.quotes)
        return self.message


def cited_paragraph(doc: Document, p: Paragraph, *, highlights: list[tuple[int, int]] | None = None,
                    evidence_footnotes: list[int] | None = None, hit: Hit | None = None) -> CitedParagraph:
    fns = [f for f in (doc.footnote(n) for n in p.footnotes) if f is not None]
    return CitedParagraph(
        doc.id, p.n, list(p.section), p.text, sorted(highlights or []), [(m.n, m.offset) for m in p.markers], fns,
        list(evidence_footnotes or []), hit.score if hit else None, dict(hit.signals) if hit else {},
        doc.meta.get("symbol"),
    )


def report_label(doc: Document, corpus: Corpus) -> str | None:
    """How a citation names the report when several are loaded: its UN symbol (A/75/36), else its id; with the
    language added when two loaded versions share the symbol ("A/75/36 (en)"). None with one report: [¶25]."""
    if len(corpus.documents) <= 1:
        return None
    symbol = (doc.meta.get("symbol") or "").strip()
    if not symbol:
        return doc.id
    key = "".join(symbol.split()).upper()
    twins = [d for d in corpus.documents if d.id != doc.id
             and "".join((d.meta.get("symbol") or "").split()).upper() == key]
    return f"{symbol} ({doc.language})" if twins else symbol


def _footnotes_in_span(p: Paragraph, start: int, end: int) -> list[int]:
    """Footnotes whose marker sits inside (or right after) this sentence."""
    return [m.n for m in p.markers if start < m.offset <= end]


def build_answer(question: str, result: SearchResult, corpus: Corpus, *, lang: str | None = None,
                 notice: str | None = None, shown: int = SHOWN_PARAGRAPHS) -> Answer:
    lang = lang or result.language
    lab = labels(lang)
    hits = result.hits
    if not hits:
        return Answer(question, result.query, lang, False, "search", message=lab["not_covered"], notice=notice,
                      mode=result.mode)
    if result.abstained:
        message = lab["not_covered"]
        if result.missing:
            message = lab["not_mentioned"].format(names=", ".join(result.missing)) + " " + message
        related = []
        for h in hits[:shown]:
            doc = corpus.document(h.doc)
            related.append(cited_paragraph(doc, doc.paragraph(h.paragraph), hit=h))
        return Answer(question, result.query, lang, False, "search", related=related, message=message,
                      notice=notice, mode=result.mode, confidence=result.confidence, timings_ms=result.timings_ms)

    top = hits[0].score
    gap = max(1.0, SECOND_SOURCE_SHARE * abs(top))
    chosen = [h for i, h in enumerate(hits[:shown]) if i == 0 or top - h.score <= gap]
    quotes: list[Quote] = []
    paragraphs: list[CitedParagraph] = []
    for h in hits[:shown]:
        doc = corpus.document(h.doc)
        p = doc.paragraph(h.paragraph)
        spans = p.spans
        highlights: list[tuple[int, int]] = []
        if h in chosen:
            for si in h.sentences[: 2 if h is hits[0] else 1]:
                if si >= len(spans) or len(quotes) >= MAX_SENTENCES:
                    continue
                s, e = spans[si]
                highlights.append((s, e))
                fns = _footnotes_in_span(p, s, e)
                quotes.append(Quote(p.text[s:e], doc.id, p.n, "paragraph", si, s, e, fns,
                                    cite(p.n, fns, lang, report_label(doc, corpus))))
            for fnum in h.footnotes:
                f = doc.footnote(fnum)
                if f is None or f.paragraph != p.n or len(quotes) >= MAX_SENTENCES:
                    continue
                quotes.append(Quote(f.text, doc.id, p.n, "footnote", footnotes=[fnum],
                                    citation=cite(p.n, [fnum], lang, report_label(doc, corpus))))
        paragraphs.append(cited_paragraph(doc, p, highlights=highlights, evidence_footnotes=h.footnotes, hit=h))
    return Answer(question, result.query, lang, True, "search", quotes, paragraphs, notice=notice, mode=result.mode,
                  confidence=result.confidence, timings_ms=result.timings_ms)


def lookup_answer(question: str, lookup: Lookup, corpus: Corpus, *, lang: str) -> Answer:
    """Answer a direct reference with that paragraph or footnote, exactly."""
    lab = labels(lang)
    doc = corpus.document(lookup.doc) if lookup.doc else corpus.documents[0]
    if lookup.kind == "paragraph":
        p = doc.paragraph(lookup.n)
        if p is None:
            msg = lab["lookup_missing_paragraph"].format(first=doc.paragraphs[0].n, last=doc.paragraphs[-1].n, n=lookup.n)
            return Answer(question, question, lang, False, "not_found", message=msg)
        quote = Quote(p.text, doc.id, p.n, "paragraph", None, 0, len(p.text), list(p.footnotes),
                      cite(p.n, list(p.footnotes), lang, report_label(doc, corpus)))
        cp = cited_paragraph(doc, p, highlights=[(0, len(p.text))])
        return Answer(question, question, lang, True, "lookup", [quote], [cp])
    f = doc.footnote(lookup.n)
    if f is None or f.paragraph is None:
        last = doc.footnotes[-1].n if doc.footnotes else 0
        msg = lab["lookup_missing_footnote"].format(last=last, n=lookup.n)
        return Answer(question, question, lang, False, "not_found", message=msg)
    p = doc.paragraph(f.paragraph)
    quote = Quote(f.text, doc.id, p.n, "footnote", footnotes=[f.n],
                  citation=cite(p.n, [f.n], lang, report_label(doc, corpus)))
    cp = cited_paragraph(doc, p, evidence_footnotes=[f.n])
    return Answer(question, question, lang, True, "lookup", [quote], [cp])
