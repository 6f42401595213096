"""The conversation: a question (with the turns before it) → lookup or search → `Answer`.

`ChatSession` is the one path the CLI (`ask`, `chat`), the Gradio app (one session per browser
tab), MCP and the benchmark all use, so they give the same answer to the same question. It owns
the history of earlier questions (for follow-ups) and how many paragraphs an answer shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from qa.answer.extractive import Answer, build_answer, lookup_answer
from qa.answer.followup import followup_queries
from qa.answer.guard import clean_question
from qa.answer.lookup import parse_lookup
from qa.errors import UserError
from qa.text import detect_language
from qa.types import MODES, Mode

DEFAULT_TOP_K = 3
MAX_TOP_K = 10
MAX_HISTORY = 20  # earlier questions kept for follow-ups; older turns are dropped


@dataclass
class ChatSession:
    """Keeps the user's earlier questions so follow-ups ("What about Mexico?") can be resolved."""

    engine: object  # qa.engine.Engine (duck-typed: needs .retriever and .corpus)
    mode: Mode = "hybrid"
    top_k: int = DEFAULT_TOP_K
    history: list[str] = field(default_factory=list)
    docs: list[str] | None = None  # limit answers to these document ids (None: every loaded report)

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
        query, also = followup_queries(self.history, text, self.engine.retriever.entities)
        result = self.engine.retriever.search(query, mode=self.mode, top_k=self.top_k, also=also, docs=self.docs)
        ans = build_answer(text, result, corpus, lang=lang, notice=notice, shown=self.top_k)
        self.history = (self.history + [ans.question])[-MAX_HISTORY:]
        return ans


def ask(engine, question: str, *, history: list[str] | None = None, mode: Mode = "hybrid",
        top_k: int = DEFAULT_TOP_K) -> Answer:
    """One question in a fresh session that starts from `history` (the session is not kept)."""
    return ChatSession(engine, mode, top_k, list(history or [])).ask(question)
