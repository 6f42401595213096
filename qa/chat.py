"""The conversation: a question (with the turns before it) → lookup or search → `Answer`.

`ask` is the one function the CLI, the terminal chat and the Gradio app all call, so they give
the same answer to the same question.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.answer import Answer, build_answer, lookup_answer
from qa.followup import followup_queries
from qa.guard import clean_question
from qa.lang import detect_language
from qa.lookup import parse_lookup
from qa.retrieve import Retriever

DEFAULT_TOP_K = 5


def ask(retriever: Retriever, question: str, *, history: list[str] | None = None, mode: str = "hybrid",
        top_k: int = DEFAULT_TOP_K, lang: str | None = None) -> Answer:
    """Answer one question. Raises `BadQuestion` (a UserError) for empty or wordless input."""
    text, notice = clean_question(question)
    lang = lang or detect_language(text)
    lookup = parse_lookup(text)
    if lookup is not None:
        ans = lookup_answer(text, lookup, retriever.corpus, lang=lang)
        ans.notice = notice
        return ans
    query, also = followup_queries(list(history or []), text)
    result = retriever.search(query, mode=mode, top_k=max(top_k, 3), also=also)
    return build_answer(text, result, retriever.corpus, lang=lang, notice=notice, shown=min(top_k, 5))


@dataclass
class ChatSession:
    """Keeps the user's earlier questions so follow-ups ("What about Mexico?") can be resolved."""

    retriever: Retriever
    mode: str = "hybrid"
    top_k: int = DEFAULT_TOP_K
    history: list[str] = field(default_factory=list)

    def ask(self, question: str) -> Answer:
        ans = ask(self.retriever, question, history=self.history, mode=self.mode, top_k=self.top_k)
        if ans.kind == "search":
            self.history.append(ans.question)
        return ans
