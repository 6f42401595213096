"""The JSON of an answer and of a search: one shape for `qa ask --json` / `qa search --json`, the app's `/chat`
API and the MCP tools `ask` and `search`."""

from __future__ import annotations

from qa.answer.extractive import Answer
from qa.answer.links import official
from qa.retrieval.retriever import Hit, SearchResult
from qa.types import Corpus


def answer_json(ans: Answer) -> dict:
    """`Answer.to_json()` (quotes, paragraphs, each with its official links; `llm` when one answered) plus
    `citations`: each quote's citation ("[¶25, fn 6]"), in order."""
    data = ans.to_json()
    data["citations"] = [q["citation"] for q in data["quotes"]]
    return data


def hit_sentences(corpus: Corpus, hit: Hit) -> tuple[list[str], list[str]]:
    """A hit's best-matching sentences (verbatim) and its paragraph's section path."""
    p = corpus.document(hit.doc).paragraph(hit.paragraph)
    return [p.sentence(i) for i in hit.sentences if i < len(p.spans)], list(p.section)


def search_json(result: SearchResult, corpus: Corpus, notice: str | None = None) -> dict:
    """`SearchResult.to_json()` with, for each hit, its `best_sentences`, `section`, the `citation` to paste and
    the `links` to the six official language versions (the query's language first); `notice` when the question
    was cut or cleaned."""
    data = result.to_json()
    for h, hit in zip(data["hits"], result.hits, strict=True):
        h["best_sentences"], h["section"] = hit_sentences(corpus, hit)
        info = official(corpus.document(hit.doc).meta.get("symbol"), hit.paragraph, hit.footnotes, result.language)
        h["citation"], h["links"] = info["citation"], info["links"]
    if notice:
        data["notice"] = notice
    return data
