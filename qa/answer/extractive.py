"""Hits → an `Answer`: 1–3 verbatim sentences, each cited ([¶25], [¶10, 注4]), and the cited paragraphs in full.

Exactness is structural: every quoted sentence is a slice of its paragraph's text (or a footnote's
text), every citation names a paragraph that is shown, and a cited footnote is one whose marker
sits in that paragraph.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from qa.answer.i18n import cite, labels
from qa.answer.lookup import Lookup
from qa.answer.select import DEFAULT_WEIGHTS, TYPED, AnswerWeights, Focus, absent_type, asks_several, rank_sentences
from qa.retrieval.retriever import Hit, SearchResult
from qa.types import Corpus, Document, Footnote, Paragraph

SHOWN_PARAGRAPHS = 3
COUNTRY_PARAGRAPHS = 8  # a country question quotes one sentence from each of up to 8 paragraphs naming the place


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
                 notice: str | None = None, shown: int = SHOWN_PARAGRAPHS, focus: Focus | None = None,
                 weights: AnswerWeights = DEFAULT_WEIGHTS) -> Answer:
    """The answer to `question` from its search result. `focus` (what the question asks and names) chooses
    the sentences to quote; a country question ("what did OHCHR do in X?") quotes one sentence from each
    paragraph among the hits that names the place, up to COUNTRY_PARAGRAPHS."""
    lang = lang or result.language
    lab = labels(lang)
    hits = result.hits
    if not hits:
        return Answer(question, result.query, lang, False, "search", message=lab["not_covered"], notice=notice,
                      mode=result.mode)
    focus = focus or Focus()
    # a place the report never mentions, written as a name (Latin and Cyrillic prefixes also meet common words)
    unknown = [m for m in result.missing if not m[:1].isalpha() or not m[:1].islower()]
    if result.abstained or (weights.decline_missing and unknown and not focus.places):
        message = lab["not_covered"]
        if result.missing:
            message = lab["not_mentioned"].format(names=", ".join(result.missing)) + " " + message
        related = []
        for h in hits[:shown]:
            doc = corpus.document(h.doc)
            related.append(cited_paragraph(doc, doc.paragraph(h.paragraph), hit=h))
        return Answer(question, result.query, lang, False, "search", related=related, message=message,
                      notice=notice, mode=result.mode, confidence=result.confidence, timings_ms=result.timings_ms)

    if focus.country_question:
        chosen = [h for h in hits if _names_place(corpus, h, focus)][:COUNTRY_PARAGRAPHS] or hits[:1]
        per_paragraph = {id(h): 1 for h in chosen}
        max_quotes = COUNTRY_PARAGRAPHS
        shown_hits = chosen + [h for h in hits[:shown] if h not in chosen]
    else:
        if "link" in focus.intents:  # "where can I read X?": a paragraph whose footnote links to it leads
            hits = sorted(hits[:shown], key=lambda h: not _links_out(corpus, h, focus)) + hits[shown:]
        elif weights.about_lead and focus.n_names and set(TYPED) & focus.intents and not _about(corpus, hits[0], focus):
            lead = next((h for h in hits[1:shown] if _about(corpus, h, focus)), None)  # "how many field presences?"
            if lead is not None:
                hits = [lead] + [h for h in hits if h is not lead]
        top = hits[0].score
        gap = max(1.0, weights.second_share * abs(top))
        if weights.typed_share and not _gives_asked(corpus, hits[0], focus):
            # "and how many people were trained?": the best paragraph gives no number, the next close one does
            near = weights.typed_share * abs(top)
            lead = next((h for h in hits[1:shown] if top - h.score <= near and _gives_asked(corpus, h, focus)), None)
            if lead is not None:
                hits = [lead] + [h for h in hits if h is not lead]
                top = lead.score
        chosen = [h for i, h in enumerate(hits[:shown]) if i == 0 or top - h.score <= gap]
        first, rest, max_quotes = weights.per_paragraph[0], weights.per_paragraph[1], weights.max_sentences
        if weights.several and asks_several(question):  # "how many …, and where?": more of each paragraph
            first, rest, max_quotes = first + 1, rest + 1, max_quotes + weights.several
        per_paragraph = {id(h): first if i == 0 else rest for i, h in enumerate(chosen)}
        shown_hits = hits[:shown]
    quotes: list[Quote] = []
    paragraphs: list[CitedParagraph] = []
    for h in shown_hits:
        doc = corpus.document(h.doc)
        p = doc.paragraph(h.paragraph)
        spans = p.spans
        highlights: list[tuple[int, int]] = []
        fn_map = {f.n: f for f in (doc.footnote(n) for n in p.footnotes) if f is not None}
        if id(h) in per_paragraph:
            order = rank_sentences(p, focus, h.sentences, fn_map, weights)
            for si in order[:per_paragraph[id(h)]]:
                if len(quotes) >= max_quotes:
                    break
                s, e = spans[si]
                highlights.append((s, e))
                fns = _footnotes_in_span(p, s, e)
                quotes.append(Quote(p.text[s:e], doc.id, p.n, "paragraph", si, s, e, fns,
                                    cite(p.n, fns, lang, report_label(doc, corpus))))
            for fnum in _evidence_footnotes(h, p, fn_map, focus, highlights):
                f = fn_map.get(fnum)
                if f is None or f.paragraph != p.n or len(quotes) >= max_quotes + ("link" in focus.intents):
                    continue
                quotes.append(Quote(f.text, doc.id, p.n, "footnote", footnotes=[fnum],
                                    citation=cite(p.n, [fnum], lang, report_label(doc, corpus))))
        paragraphs.append(cited_paragraph(doc, p, highlights=highlights, evidence_footnotes=h.footnotes, hit=h))
    if "link" in focus.intents:  # the footnote with the link answers "where can I read it?": it leads
        quotes.sort(key=lambda q: q.source != "footnote")
    quoted = [(corpus.document(q.doc).paragraph(q.paragraph), q.start, q.end)
              for q in quotes if q.source == "paragraph"][:weights.typed_quotes]
    lacking = absent_type(focus, quoted)
    if lacking:  # on topic, but nothing quoted gives the date or number asked: say so, show what is there
        what = lab[f"what_{lacking}"]
        message = (lab["mentions_not"].format(names=", ".join(focus.names), what=what) if focus.names
                   else lab["gives_not"].format(what=what))
        for cp in paragraphs:
            cp.highlights = []
        return Answer(question, result.query, lang, False, "search", related=paragraphs, message=message,
                      notice=notice, mode=result.mode, confidence=result.confidence, timings_ms=result.timings_ms)
    return Answer(question, result.query, lang, True, "search", quotes, paragraphs, notice=notice, mode=result.mode,
                  confidence=result.confidence, timings_ms=result.timings_ms)


def _links_out(corpus: Corpus, h: Hit, focus: Focus) -> bool:
    """Whether one of the paragraph's footnotes gives a link that shares words with the question."""
    doc = corpus.document(h.doc)
    fns = [doc.footnote(n) for n in doc.paragraph(h.paragraph).footnotes]
    return any(f is not None and f.urls and _link_match(f, focus) for f in fns)


def _link_match(f: Footnote, focus: Focus) -> float:
    """How much of what the question says a footnote's text and links share."""
    return focus.overlap(f.text + " " + " ".join(f.urls))


def _gives_asked(corpus: Corpus, h: Hit, focus: Focus) -> bool:
    """Whether some sentence of the paragraph gives the date, number or names a typed question asks (True when the
    question asks for none)."""
    if not set(TYPED) & focus.intents:
        return True
    p = corpus.document(h.doc).paragraph(h.paragraph)
    return absent_type(focus, [(p, s, e) for s, e in p.spans]) is None


def _about(corpus: Corpus, h: Hit, focus: Focus) -> bool:
    return focus.about(corpus.document(h.doc).paragraph(h.paragraph))


def _names_place(corpus: Corpus, h: Hit, focus: Focus) -> bool:
    return focus.names_place(corpus.document(h.doc).paragraph(h.paragraph).text)


def _evidence_footnotes(h: Hit, p: Paragraph, fn_map: dict[int, Footnote], focus: Focus,
                        highlights: list[tuple[int, int]]) -> list[int]:
    """The footnotes to quote with a paragraph: those retrieval matched whose marker is in a quoted sentence; when
    the reader asks where to read something, every one retrieval matched, led by the linked footnote of a quoted
    sentence (else of the paragraph) that best matches."""
    out = list(h.footnotes)
    in_quotes = [m.n for m in p.markers if any(s < m.offset <= e for s, e in highlights)]
    if "link" not in focus.intents:
        return [n for n in out if n in in_quotes]
    linked = [n for n in (in_quotes or list(fn_map)) if fn_map.get(n) and fn_map[n].urls]
    if not linked:
        return out
    best = max(linked, key=lambda n: (_link_match(fn_map[n], focus), -linked.index(n)))
    return [best] + [n for n in out if n != best]


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
