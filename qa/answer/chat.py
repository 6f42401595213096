"""The conversation: a question (with the turns before it) → lookup or search → `Answer`.

`ChatSession` is the one path the CLI (`ask`, `chat`), the Gradio app (one session per browser
tab), MCP and the benchmark all use, so they give the same answer to the same question. It owns
the history of earlier questions (for follow-ups) and how many paragraphs an answer shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from qa.answer.extractive import Answer, build_answer, lookup_answer
from qa.answer.followup import followup_queries, leans_on_topic, names_own, refers_back
from qa.answer.guard import clean_question
from qa.answer.lookup import parse_lookup
from qa.answer.select import DEFAULT_WEIGHTS, AnswerWeights, Focus, bare, parts, refers_to_place
from qa.answer.versions import fuse_versions, in_reader_version
from qa.errors import UserError
from qa.retrieval.bridge import OFFICE, PLACE_KINDS
from qa.retrieval.retriever import SearchResult
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
    weights: AnswerWeights = DEFAULT_WEIGHTS  # how the answer's sentences are chosen

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
            return in_reader_version(ans, corpus, lang)
        result, focus = self.search(text, lang=lang)
        ans = build_answer(text, result, corpus, lang=lang, notice=notice, shown=self.top_k, focus=focus,
                           weights=self.weights)
        self.history = (self.history + [ans.question])[-MAX_HISTORY:]
        self.turns = (self.turns + [_turn_of(ans)])[-MAX_HISTORY:]
        return in_reader_version(ans, corpus, lang)  # quotes in the reader's language version, when loaded

    def search(self, text: str, *, lang: str | None = None, depth: int = SEARCH_DEPTH) -> tuple[SearchResult, Focus]:
        """The ranked paragraphs for a question in this conversation, and what it asks (its `Focus`).

        A follow-up searches the earlier topic with its own words; one that refers back ("when was it adopted?",
        "那项呼吁") also searches the previous answer's first sentence and the names in it, and "that country"
        takes the place that sentence names. A two-part question puts the best paragraph of each half first.
        The history is not changed (`ask` records the turn)."""
        lang = lang or detect_language(text)
        corpus, retriever, w = self.engine.corpus, self.engine.retriever, self.weights
        prior = self._previous_turn()
        query, also = followup_queries(self.history, text, retriever.entities, lang, topic_weight=w.topic,
                                       own_weight=w.own)
        leans = prior is not None and leans_on_topic(text, retriever.entities, lang)
        back = (prior is not None and (refers_back(text, lang) or leans)
                and not _names_new_place(retriever, text, query))
        carried = _names_in(retriever, prior.quote) if back and prior.quote else []
        if back and prior.quote and w.prior_quote:
            also = also + [(prior.quote, w.prior_quote)]
        if carried and w.prior_names:
            also = also + [(" ".join(dict.fromkeys(f for e in carried for f in e.zh)), w.prior_names)]
        focus = Focus.of(text, query, retriever.entities(query, lang if query == text else None))
        focus = replace(focus, cities=retriever.bridge.cities if getattr(retriever, "bridge", None) else frozenset(),
                        said=(prior.quote,) if back and prior.quote else (),
                        n_names=0 if leans else focus.n_names)  # a follow-up's names are the topic's: not required
        new_places = Focus.of(text, text, retriever.entities(text, lang)).places if leans else []
        if back and not new_places and refers_to_place(text, lang):  # "that country": the place last named
            new_places = [tuple(e.zh) for e in carried if e.kind in PLACE_KINDS]
            focus = replace(focus, places=new_places or focus.places)
            query = " ".join([query, *(forms[0] for forms in new_places)])  # searched as if it were named
        result = retriever.search(query, mode=self.mode, top_k=max(self.top_k, depth), also=also, docs=self.docs)
        # "where can I read that report?": the link of what the previous answer led with
        link_back = back and not bare(text) and "link" in focus.intents and not names_own(text, retriever.entities)
        boost = w.prior_bare if back and (bare(text) or link_back) else w.prior
        result.hits = _reorder(result.hits, corpus, prior if back else None, new_places, boost, lead_only=link_back)
        halves = parts(text) if w.split_parts else [text]
        if len(halves) == 2:  # "what did X say, and what did Y do?": the best paragraph for each half is quoted
            focus = replace(focus, two_part=True)
            leaders = [retriever.search(h, mode=self.mode, top_k=1, docs=self.docs).hits[:1] for h in halves]
            result.hits = _with_leaders(result.hits, [h[0] for h in leaders if h])
        result = fuse_versions(result, corpus)  # one hit per ¶ of a report with several language versions loaded
        return result, focus

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


def _names_in(retriever, quote: str) -> list:
    """The places, bodies and terms a quoted sentence names (not the Office itself), as the bridge knows them."""
    return [e for e in retriever.entities(quote, "zh")
            if e.in_corpus and e.kind in ("place", "region", "term", "body") and e.id not in OFFICE]


def _turn_of(ans: Answer) -> Turn:
    cited = [(p.doc, p.n) for p in ans.paragraphs] if ans.covered else []
    return Turn(ans.question, cited, ans.quotes[0].text if ans.quotes and ans.covered else "")


def _names_new_place(retriever, text: str, query: str) -> bool:
    """Whether a follow-up names a place of its own ("what about Tunisia?"): then it is not about "it"."""
    return any(e.kind in PLACE_KINDS for e in retriever.entities(text)) and query != text


def _with_leaders(hits: list, leaders: list) -> list:
    """The hits with each leader first among them and scored as the top hit, so that each one is quoted."""
    if not hits:
        return leaders
    top = max(h.score for h in hits)
    keys = [(h.doc, h.paragraph) for h in leaders]
    out = []
    for key, lead in zip(keys, leaders, strict=True):
        found = next((h for h in hits if (h.doc, h.paragraph) == key), lead)
        if found not in out:
            found.score = top
            out.append(found)
    out += [h for h in hits if h not in out]
    for rank, h in enumerate(out, 1):
        h.rank = rank
    return out


def _reorder(hits: list, corpus, prior: Turn | None, places: list[tuple[str, ...]], boost: float, *,
             lead_only: bool = False) -> list:
    """A follow-up's hits, re-ordered: those naming the place it asks about first ("what about Tunisia?"); or,
    when it refers back ("when was it adopted?"), the previous answer's paragraphs (`lead_only`: its first) raised
    by `boost` times the spread of the hits' scores."""
    if places:
        def key(h):
            text = corpus.document(h.doc).paragraph(h.paragraph).text
            return (0 if any(f in text for forms in places for f in forms) else 1, h.rank)
    elif prior is not None and prior.cited and boost and len(hits) > 1:
        cited = set(prior.cited[:1] if lead_only else prior.cited)
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


def ask(engine, question: str, *, history: list[str] | None = None, mode: Mode = "hybrid",
        top_k: int = DEFAULT_TOP_K) -> Answer:
    """One question in a fresh session that starts from `history` (the session is not kept)."""
    return ChatSession(engine, mode, top_k, list(history or [])).ask(question)
