"""Plain domain records shared by every stage (corpus → index → retrieve → answer → UI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qa.text import sentence_spans

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
UnitKind = Literal["paragraph", "heading", "sentence", "clause", "footnote"]
AnswerKind = Literal["search", "lookup", "not_found"]
QuoteSource = Literal["paragraph", "footnote"]


@dataclass(frozen=True)
class Marker:
    """A footnote marker: footnote `n` sat at character `offset` of the cleaned paragraph text."""

    n: int
    offset: int


@dataclass
class Paragraph:
    n: int
    text: str
    section: list[str] = field(default_factory=list)
    footnotes: list[int] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    _spans: tuple[str, list[tuple[int, int]]] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """(start, end) of each sentence of `text`: the one sentence split the index and the answer share."""
        if self._spans is None or self._spans[0] is not self.text:
            self._spans = (self.text, sentence_spans(self.text))
        return self._spans[1]

    def sentence(self, i: int) -> str:
        s, e = self.spans[i]
        return self.text[s:e]


@dataclass
class Footnote:
    n: int
    text: str
    paragraph: int | None = None
    urls: list[str] = field(default_factory=list)


@dataclass
class Document:
    id: str
    title: str
    language: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    footnotes: list[Footnote] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def paragraph(self, n: int) -> Paragraph | None:
        for p in self.paragraphs:
            if p.n == n:
                return p
        return None

    def footnote(self, n: int) -> Footnote | None:
        for f in self.footnotes:
            if f.n == n:
                return f
        return None

    def to_json(self) -> dict:
        """The stable JSON shape of `python -m qa corpus --json`."""
        return {
            "id": self.id,
            "title": self.title,
            "language": self.language,
            "paragraphs": [
                {"n": p.n, "text": p.text, "section": list(p.section), "footnotes": list(p.footnotes)}
                for p in self.paragraphs
            ],
            "footnotes": [
                {"n": f.n, "text": f.text, "paragraph": f.paragraph, "urls": list(f.urls)}
                for f in self.footnotes
            ],
        }


@dataclass
class Corpus:
    documents: list[Document]

    def document(self, doc_id: str) -> Document | None:
        for d in self.documents:
            if d.id == doc_id:
                return d
        return None

    def to_json(self) -> dict:
        return {"documents": [d.to_json() for d in self.documents]}
