"""Gradio glue for the optional LLM answer (qa/answer/llm.py): after the extractive answer is in the chat, the
generated answer streams in above the verbatim quotes, one checked sentence at a time; sentences the citation
guard drops never appear, and a failure ends in one line.

Off unless ``REPORT_QA_LLM_URL`` (and ``REPORT_QA_LLM_MODEL``) are set when the app starts. Two hooks in
qa/app/ui/webapp.py use it: `remember_answer` wraps the chat's ``run_ask`` (`qa.app.api.run_ask`) so the Answer
just rendered is known (per worker thread), and `with_llm` wraps the chat handler.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import gradio as gr

from qa.answer.extractive import Answer
from qa.answer.llm import LLMConfig, LLMConfigError, LLMResult, stream_llm_answer
from qa.app.ui.render import answer_markdown

_last = threading.local()


def remember_answer(run_ask: Callable) -> Callable:
    """Wrap ``run_ask(...) -> (Answer | None, history, error)`` so `with_llm` can find the Answer it returned."""

    def run(*args, **kwargs):
        out = run_ask(*args, **kwargs)
        _last.answer = out[0]
        return out

    named = getattr(run_ask, "func", run_ask)  # a functools.partial: the name and doc of the function it binds
    run.__name__, run.__doc__ = getattr(named, "__name__", "run_ask"), getattr(named, "__doc__", None)
    return run


def partial_llm(result_so_far: list, lang: str, *, writing: bool) -> dict:
    """The ``Answer.llm`` shown while streaming: the sentences kept so far, and "…" while more may come."""
    kept = [s.to_json() for s in result_so_far if s.kept]
    return {"status": "ok", "sentences": kept, "text": ("" if lang == "zh" else " ").join(s["text"] for s in kept),
            "notice": "…" if writing else None}


def llm_updates(ans: Answer, config: LLMConfig, render: Callable[[Answer], str]) -> Iterator[str]:
    """The assistant message, re-rendered as the guarded answer streams: first a placeholder, then each kept
    sentence as soon as it is checked, finally the result (or the extractive answer with one notice line)."""
    lab_lang = ans.language
    checks: list = []
    ans.llm = partial_llm(checks, lab_lang, writing=True)
    yield render(ans)
    for event in stream_llm_answer(ans, config):
        if event.type == "sentence":
            checks.append(event.sentence)
            if event.sentence.kept:
                ans.llm = partial_llm(checks, lab_lang, writing=True)
                yield render(ans)
        elif event.type == "done":
            result: LLMResult = event.result
            ans.llm = result.to_json()
            yield render(ans)


def app_config() -> LLMConfig | None:
    """The app's LLM endpoint from the environment, or None (off, or misconfigured: then one line on stderr)."""
    try:
        return LLMConfig.resolve()
    except LLMConfigError as exc:  # a bad REPORT_QA_LLM_* must not stop the app: say so once, answer without
        print(f"report-qa: LLM answers are off: {exc}", file=sys.stderr, flush=True)
        return None


def with_llm(handler: Callable, *, n_outputs: int, chat_out: int = 1, config: LLMConfig | None = None,
             render: Callable[[Answer], str] | None = None, keep: Callable[[], object] | None = None) -> Callable:
    """Wrap a (generator) chat handler whose outputs include the chat at ``chat_out``; unchanged when no LLM is
    configured (``config`` defaults to `app_config()`, i.e. the environment)."""
    config = config or app_config()
    if config is None:
        return handler
    render = render or answer_markdown
    keep = keep or gr.update

    def run(*args):
        ans = None
        steps = iter(handler(*args))
        while True:
            _last.answer = None
            try:
                out = next(steps)
            except StopIteration:
                break
            ans = getattr(_last, "answer", None) or ans
            yield out
        if ans is None or not ans.paragraphs:
            return
        chat = list(out[chat_out])
        if not chat or chat[-1].get("role") != "assistant":
            return
        for content in llm_updates(ans, config, render):
            chat = chat[:-1] + [{**chat[-1], "content": content}]
            yield tuple(chat if i == chat_out else keep() for i in range(n_outputs))

    run.__name__, run.__doc__ = getattr(handler, "__name__", "respond"), getattr(handler, "__doc__", None)
    return run

