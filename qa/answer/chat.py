"""The conversation: a question (with the turns before it) → lookup or search → `Answer`.

`ChatSession` is the one path the CLI (`ask`, `chat`), the Gradio app (one session per browser
tab), MCP and the benchmark all use, so they give the same answer to the same question. It owns
the history of earlier questions (for follow-ups) and how many paragraphs an answer shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from qa.answer.extractive import Answer, build_answer, lookup_answer
from qa.answer.followup import PRIOR_QUOTE_WEIGHT, followup_queries, is_elliptical, refers_back
from qa.answer.guard import clean_question
from qa.answer.lookup import parse_lookup
from qa.answer.select import DEFAULT_WEIGHTS, Focus, SentenceWeights
from qa.errors import UserError
from qa.text import detect_language
from qa.types import MODES, Mode

DEFAULT_TOP_K = 3
MAX_TOP_K = 10
MAX_HISTORY = 20  # earlier questions kept for follow-ups; older turns are dropped
SEARCH_DEPTH = 12  # hits fetched before the answer stage re-orders them (country questions, follow-ups)


@dataclass
class Turn:
    """What a follow-up needs of an earlier answer: the paragraphs it cited and its first quote."""

    question: str
    cited: list[tuple[str, int]] = field(default_factory=list)
    quote: str = ""


@dataclass
class ChatSession:
    """Keeps the user's earlier questions so follow-ups ("What about Mexico?") can be resolved."""

    engine: object  # qa.engine.Engine (duck-typed: needs .retriever and .corpus)
    mode: Mode = "hybrid"
    top_k: int = DEFAULT_TOP_K
    history: list[str] = field(default_factory=list)
    docs: list[str] | None = None  # limit answers to these document ids (None: every loaded report)
    turns: list[Turn] = field(default_factory=list, repr=False)  # the answers behind `history`, where known
    weights: SentenceWeights = DEFAULT_WEIGHTS  # how the answer's sentences are chosen

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        try:
            self.top_k = max(1, min(MAX_TOP_K, int(self.top_k)))
        except (TypeError, ValueError):
            raise UserError(f"top-k must be a whole number from 1 to {MAX_TOP_K}") from None
        self.history = [h for h in self.history if isinstance(h, str)][-MAX_HISTORY:]
        self.docs = [d for d in (self.docs or []) if isinstance(d, str) and d] or None

    def ask(self, question: str, *, lang: str | None = None) -> Answer:
        """Answer one question. Raises `BadQuestion` (a UserError) for empty or wordless input."""
        text, notice = clean_question(question)
        lang = lang or detect_language(text)
        corpus = self.engine.corpus
        lookup = parse_lookup(text)
        if self.docs:
            unknown = [d for d in self.docs if corpus.document(d) is None]
            if unknown:
                raise UserError(f"no report {', '.join(map(repr, unknown))} is loaded; choose one of "
                                f"{', '.join(d.id for d in corpus.documents)}")
            if lookup is not None and lookup.doc is None:  # "¶25" of the chosen report
                lookup = replace(lookup, doc=self.docs[0])
        if lookup is not None:
            ans = lookup_answer(text, lookup, corpus, lang=lang)
            ans.notice = notice
            return ans
        retriever = self.engine.retriever
        prior = self._previous_turn()
        query, also = followup_queries(self.history, text, retriever.entities)
        back = (prior is not None and (refers_back(text) or is_elliptical(text))
                and not _names_new_place(retriever, text, query))
        if back and prior.quote:
            also = also + [(prior.quote, PRIOR_QUOTE_WEIGHT)]
        focus = Focus.of(text, query, retriever.entities(query, lang if query == text else None))
        new_places = Focus.of(text, text, retriever.entities(text, lang)).places if prior else []
        result = retriever.search(query, mode=self.mode, top_k=max(self.top_k, SEARCH_DEPTH), also=also,
                                  docs=self.docs)
        result.hits = _reorder(result.hits, corpus, prior if back else None, new_places, self.weights.prior)
        ans = build_answer(text, result, corpus, lang=lang, notice=notice, shown=self.top_k, focus=focus,
                           weights=self.weights)
        self.history = (self.history + [ans.question])[-MAX_HISTORY:]
        self.turns = (self.turns + [_turn_of(ans)])[-MAX_HISTORY:]
        return ans

    def _previous_turn(self) -> Turn | None:
        """The last answer, from this session or, when the history came from outside (the API), asked again."""
        if not self.history:
            return None
        if self.turns and self.turns[-1].question == self.history[-1]:
            return self.turns[-1]
        earlier = ChatSession(self.engine, self.mode, self.top_k, self.history[:-1], self.docs, weights=self.weights)
        try:
            return _turn_of(earlier.ask(self.history[-1]))
        except UserError:
            return None


def _turn_of(ans: Answer) -> Turn:
    cited = [(p.doc, p.n) for p in ans.paragraphs] if ans.covered else []
    return Turn(ans.question, cited, ans.quotes[0].text if ans.quotes and ans.covered else "")


def _names_new_place(retriever, text: str, query: str) -> bool:
    """Whether a follow-up names a place of its own ("what about Tunisia?"): then it is not about "it"."""
    return any(e.kind in ("place", "region") for e in retriever.entities(text)) and query != text


def _reorder(hits: list, corpus, prior: Turn | None, places: list[tuple[str, ...]], boost: float) -> list:
    """A follow-up's hits, re-ordered: those naming the place it asks about first ("what about Tunisia?"); or,
    when it refers back ("when was it adopted?"), the previous answer's paragraphs raised by `boost` times
    the spread of the hits' scores."""
    if places:
        def key(h):
            text = corpus.document(h.doc).paragraph(h.paragraph).text
            return (0 if any(f in text for forms in places for f in forms) else 1, h.rank)
    elif prior is not None and prior.cited and boost and len(hits) > 1:
        cited = set(prior.cited)
        spread = max(h.score for h in hits) - min(h.score for h in hits)
        for h in hits:
            if (h.doc, h.paragraph) in cited:
                h.score = round(h.score + boost * spread, 4)

        def key(h):
            return (-h.score, h.rank)
    else:
        return hits
    ordered = sorted(hits, key=key)
    for rank, h in enumerate(ordered, 1):
        h.rank = rank
    return ordered
