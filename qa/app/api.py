"""The app's API: `/chat` and the four MCP tools `ask`, `search`, `get_paragraph`, `get_footnote`.

All are Gradio API endpoints (`gr.api`), registered by `register` inside the app's Blocks. `python app.py
--mcp` (Gradio's `mcp_server=True`) serves the four tools at `/gradio_api/mcp/` (streamable HTTP); a tool's
name is its function's name and its description is its docstring (the text before "Args:", plus the
"Returns:" lines). Each tool returns one JSON object as text, because Gradio hands a tool's result to the
client as `str(value)`. `/chat` is the browser chat's own path and stays out of the MCP list (`ask` is the
same answer for MCP clients). Answers and searches have the JSON shape of `qa.answer.payload`, as in the CLI.

The tools skip the queue (`queue=False`): Gradio then calls them in-process for MCP instead of looping back
over HTTP through its own client, and each one takes milliseconds.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable

import gradio as gr

from qa.answer.chat import ChatSession
from qa.answer.extractive import Answer
from qa.answer.guard import clean_question
from qa.answer.links import official, reader_language
from qa.answer.llm import LLMConfig, attach_llm
from qa.answer.payload import answer_json, search_json
from qa.app.serve.limits import trim_history
from qa.app.ui.reports import LiveEngine, docs_of
from qa.errors import USER_ERRORS, UserError

log = logging.getLogger("report_qa")
TOOLS = ("ask", "search", "get_paragraph", "get_footnote")
ANSWER_FAILED = "Something went wrong while answering; please try again or rephrase the question."


def _text(value, what: str, *, optional: bool = False) -> str:
    """A text parameter of the API or a tool; anything else (a number, a list) is the caller's mistake."""
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise UserError(f"{what} must be text, not {type(value).__name__}")
    return value


def _top_k(value, default: int):
    """top_k as sent: a whole number (or its digits); bools, infinities and the like are refused."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) \
            or (isinstance(value, float) and not math.isfinite(value)):
        raise UserError("top_k must be a whole number")
    return value


def run_ask(live: LiveEngine, message, history, mode, top_k, doc=None) -> tuple[Answer | None, list[str], str | None]:
    """One turn of a conversation (the browser chat and `/chat`): the answer, the new history, or an error message."""
    try:
        message = _text(message, "the question")
        mode = _text(mode, "mode", optional=True)
        session = ChatSession(live.current(), mode or "hybrid", _top_k(top_k, 3), trim_history(history), docs_of(doc))
        return session.ask(message), session.history, None
    except USER_ERRORS as exc:
        return None, list(history or []), str(exc)
    except Exception:  # noqa: BLE001 - the user sees a message, the log gets the traceback
        log.exception("answering failed")
        return None, list(history or []), ANSWER_FAILED


def chat_endpoint(live: LiveEngine, llm: LLMConfig | None) -> Callable[..., dict]:
    """The `/chat` function for `live` (a closure: Gradio reads the API's parameters from its type hints)."""

    def chat_api(message: str, mode: str = "hybrid", top_k: int = 3, history: list[str] | None = None,
                 doc: str | None = None) -> dict:
        """Answer a question about the report: verbatim quotes with ¶/footnote citations, and the cited paragraphs.
        `doc` (a report id) limits the answer to that report; with several reports loaded, citations name it.
        With an LLM endpoint configured, `llm` holds the generated answer after the citation check (as `qa ask`)."""
        ans, _, error = run_ask(live, message, history or [], mode, top_k, doc)
        if error:
            return {"error": error}
        return answer_json(attach_llm(ans, llm))

    return chat_api


def _dump(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _number(n, what: str) -> int:
    """A tool's paragraph or footnote number as an int; anything else is the caller's mistake."""
    try:
        return int(n)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{str(n)[:40]!r} is not a {what} number") from None


def _guarded(fn):
    """User mistakes come back as {"error": "..."}; anything else is logged and reported in one line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return _dump(fn(*args, **kwargs))
        except USER_ERRORS as exc:
            return _dump({"error": str(exc)})
        except Exception:  # noqa: BLE001 - a tool answers with a message, the log gets the traceback
            log.exception("MCP tool %s failed", fn.__name__)
            return _dump({"error": f"{fn.__name__} failed; try again or rephrase"})

    return wrapper


def make_tools(current: Callable[[], object]) -> dict:
    """The four tool functions; `current()` gives the engine to use for one call (`LiveEngine.current`).

    Closures, not partials: Gradio and MCP read each tool's schema from its signature, type hints and docstring."""

    def document(doc: str):
        doc = _text(doc, "doc", optional=True)
        corpus = current().corpus
        d = corpus.document(doc) if doc else corpus.documents[0]
        if d is None:
            raise UserError(f"no document {doc!r}; documents: {', '.join(x.id for x in corpus.documents)}")
        return d

    @_guarded
    def ask(question: str, history: list[str] | None = None, mode: str = "hybrid", top_k: int = 3) -> str:
        """Answer a question about the UN report (any of the six UN languages) with verbatim quotes and exact paragraph (¶) and footnote citations.

        Args:
            question: the question, e.g. "Which law in Chad abolished the death penalty?" or a direct reference such as "¶25" or "fn 6"
            history: earlier questions of the same conversation, oldest first, so that a follow-up ("And in Mexico?") is understood
            mode: retrieval mode: "hybrid" (default), "dense" or "lexical"
            top_k: how many paragraphs to show, 1 to 10 (default 3)

        Returns:
            JSON object: covered (false when the report does not cover the question; message says so and related lists possibly related paragraphs), text (the quoted sentences, each followed by its citation such as [¶90] or [¶25, fn 6]), quotes (text, paragraph, footnotes, citation, official), paragraphs (the cited paragraphs in full: n, section, text, footnotes, official), language, query. Each official has the document symbol (A/75/36), a citation to paste ("A/75/36, para. 25 (fn. 6)") and links to the six official language versions at undocs.org, the reader's language first.
        """
        question, mode = _text(question, "question"), _text(mode, "mode", optional=True)
        return answer_json(ChatSession(current(), mode or "hybrid", _top_k(top_k, 3), trim_history(history)).ask(question))

    @_guarded
    def search(query: str, mode: str = "hybrid", top_k: int = 5) -> str:
        """Search the UN report and rank its paragraphs for a query in any of the six UN languages.

        Args:
            query: what to look for, e.g. "death penalty in Chad" or "人权外地存在"
            mode: retrieval mode: "hybrid" (default), "dense" or "lexical"
            top_k: how many paragraphs to return, 1 to 20 (default 5)

        Returns:
            JSON object: query, mode, language, abstained (true when the report probably does not cover the query), hits (rank, paragraph, score, section, best_sentences quoted verbatim, footnotes, citation to paste, links to the six official language versions).
        """
        text, notice = clean_question(_text(query, "query"))
        try:
            k = max(1, min(20, int(_top_k(top_k, 5))))
        except (TypeError, ValueError):
            raise UserError("top_k must be a whole number from 1 to 20") from None
        if mode not in ("hybrid", "dense", "lexical"):
            raise UserError(f"unknown mode {mode!r}; choose hybrid, dense or lexical")
        eng = current()
        return search_json(eng.retriever.search(text, mode=mode, top_k=k), eng.corpus, notice)

    @_guarded
    def get_paragraph(n: int, language: str = "en", doc: str = "") -> str:
        """Get one numbered paragraph of the UN report, exactly as published, with its section and footnotes.

        Args:
            n: the paragraph number (¶), e.g. 25; paragraph numbers are the same in every language version
            language: the reader's language for the citation string and the order of the links: ar, zh, en, fr, ru or es (default en)
            doc: document id (default: the bundled report)

        Returns:
            JSON object: doc, symbol, n, section (headings from the top), text (verbatim, original language), footnotes (n, text, urls) marked in it, citation to paste (e.g. "A/75/36, para. 25"), links to the six official language versions, the reader's first.
        """
        d = document(doc)
        num = _number(n, "paragraph")
        p = d.paragraph(num)
        if p is None:
            raise UserError(f"the report has paragraphs {d.paragraphs[0].n}–{d.paragraphs[-1].n}; there is no ¶{num}")
        lang = reader_language(_text(language, "language", optional=True))
        fns = [f for f in (d.footnote(x) for x in p.footnotes) if f is not None]
        info = official(d.meta.get("symbol"), p.n, (), lang)
        return {"doc": d.id, "symbol": info["symbol"], "n": p.n, "section": list(p.section), "text": p.text,
                "language": d.language,
                "footnotes": [{"n": f.n, "text": f.text, "urls": list(f.urls)} for f in fns],
                "citation": info["citation"], "links": info["links"]}

    @_guarded
    def get_footnote(n: int, language: str = "en", doc: str = "") -> str:
        """Get one footnote of the UN report, exactly as published, with the paragraph whose text carries its marker.

        Args:
            n: the footnote number, e.g. 6
            language: the reader's language for the citation string and the order of the links: ar, zh, en, fr, ru or es (default en)
            doc: document id (default: the bundled report)

        Returns:
            JSON object: doc, symbol, n, text (verbatim), urls, paragraph (the ¶ number that carries the marker), paragraph_text, citation to paste (e.g. "A/75/36, para. 25 (fn. 6)"), links to the six official language versions, the reader's first.
        """
        d = document(doc)
        num = _number(n, "footnote")
        f = d.footnote(num)
        if f is None or f.paragraph is None:
            last = d.footnotes[-1].n if d.footnotes else 0
            raise UserError(f"the report has footnotes 1–{last}; there is no footnote {num}")
        lang = reader_language(_text(language, "language", optional=True))
        p = d.paragraph(f.paragraph)
        info = official(d.meta.get("symbol"), f.paragraph, [f.n], lang)
        return {"doc": d.id, "symbol": info["symbol"], "n": f.n, "text": f.text, "urls": list(f.urls),
                "paragraph": f.paragraph, "paragraph_text": p.text if p else None,
                "citation": info["citation"], "links": info["links"]}

    return {"ask": ask, "search": search, "get_paragraph": get_paragraph, "get_footnote": get_footnote}


def hide_from_mcp(fn):
    """Keep an API endpoint out of the MCP tool list (Gradio lists only functions whose `_mcp_type` is "tool")."""
    fn._mcp_type = "api"
    return fn


def register(live: LiveEngine, llm: LLMConfig | None) -> None:
    """Add `/chat` and the four tools as API endpoints of the Blocks being built (call inside `with gr.Blocks()`)."""
    gr.api(hide_from_mcp(chat_endpoint(live, llm)), api_name="chat")  # MCP clients get `ask` instead
    for name, fn in make_tools(live.current).items():
        gr.api(fn, api_name=name, queue=False)
