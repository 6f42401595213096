"""Serve at once, load the models behind: the app's `EngineHandle`.

`qa.app.serve.launch.serve()` parses the corpus (fast) and starts the UI straight away; the encoders, indexes and BM25 load in a
background thread. Until they are ready:

- the status line under the title reads "⏳ Loading the model…", then "✅ Ready";
- paragraph and footnote lookups ("¶25", "fn 6") and the paragraph browser work, since they need only the corpus;
- a question first shows "the model is still loading; your question will be answered as soon as it is ready",
  then the answer (`waiting_first`); the API waits the same way, for at most `LOAD_WAIT_S`.

`EngineHandle` stands in for `qa.engine.Engine`: `.corpus` is there at once, and any other attribute
(`.retriever`, `.describe()`, …) waits for the engine, so code written for an `Engine` works unchanged. It is
the app's only stand-in that forwards attributes; `qa.app.ui.reports.LiveEngine`, which swaps engines when the
reports change, is a holder whose `current()` returns this handle or an `Engine`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import gradio as gr

from qa.answer.guard import clean_question
from qa.answer.lookup import parse_lookup
from qa.app.ui.markup import escape_md
from qa.errors import UserError

log = logging.getLogger("report_qa")
LOAD_WAIT_S = 600.0  # longest a question waits for the models (a cold first start builds the index: ~1–2 min)
WAITING_MESSAGE = ("⏳ *The model is still loading (started {elapsed:.0f} s ago); your question will be answered as "
                   "soon as it is ready…*")


class EngineNotReady(UserError):
    """The models are still loading (or failed to load); the message says which and what to do."""


class EngineHandle:
    """The engine being loaded in a background thread: `.ready`, `.status`, `.wait()`, `.get()`."""

    def __init__(self, corpus, loader: Callable[[], object] | None = None):
        self.corpus = corpus
        self._loader = loader
        self._engine = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._callbacks: list[Callable[[EngineHandle], None]] = []
        self.started = time.monotonic()
        self.seconds: float | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, engine) -> EngineHandle:
        """A handle for an engine that is already loaded (or a handle, returned as it is)."""
        if isinstance(engine, EngineHandle):
            return engine
        handle = cls(engine.corpus)
        handle._finish(engine, None)
        return handle

    def start(self) -> EngineHandle:
        if self._thread is None and not self._done.is_set():
            self.started = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="report-qa-engine-loader", daemon=True)
            self._thread.start()
        return self

    def on_ready(self, callback: Callable[[EngineHandle], None]) -> None:
        """Call `callback(handle)` once loading ends (at once if it has), success or failure."""
        if self._done.is_set():
            callback(self)
        else:
            self._callbacks.append(callback)

    def _run(self) -> None:
        try:
            engine = self._loader()
        except BaseException as exc:  # noqa: BLE001 - reported in the status line and on every question
            if not isinstance(exc, UserError):
                log.exception("loading the model failed")
            self._finish(None, exc)
        else:
            self._finish(engine, None)

    def _finish(self, engine, error: BaseException | None) -> None:
        self._engine, self._error = engine, error
        self.seconds = time.monotonic() - self.started
        self._done.set()
        for cb in self._callbacks:
            try:
                cb(self)
            except Exception:  # noqa: BLE001 - a status printer must not take the app down
                log.exception("on_ready callback failed")
        self._callbacks.clear()

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self._engine is not None

    @property
    def failed(self) -> bool:
        return self._done.is_set() and self._error is not None

    @property
    def elapsed(self) -> float:
        return self.seconds if self.seconds is not None else time.monotonic() - self.started

    @property
    def status(self) -> str:
        """ "loading", "ready" or "failed"."""
        return "loading" if not self._done.is_set() else ("ready" if self._engine is not None else "failed")

    def wait(self, timeout: float | None = LOAD_WAIT_S) -> bool:
        """Block until loading ends (or `timeout` s); True when the engine is ready."""
        self._done.wait(timeout)
        return self.ready

    def get(self, timeout: float | None = LOAD_WAIT_S):
        """The engine, waiting for it at most `timeout` s. Raises EngineNotReady (a UserError)."""
        if not self._done.wait(timeout):
            raise EngineNotReady(f"the model is still loading (waited {self.elapsed:.0f} s); please try again in a moment")
        if self._error is not None:
            raise EngineNotReady(f"the model could not be loaded ({_one_line(self._error)}); paragraph and footnote "
                                 "lookups such as “¶25” or “fn 6” still work") from None
        return self._engine

    def __getattr__(self, name: str):
        # Only for attributes a handle lacks: the Engine's (retriever, index_reports, describe, …).
        if name.startswith("__") or name in ("_engine", "_error", "_done", "_loader"):
            raise AttributeError(name)
        return getattr(self.get(), name)

    def status_markdown(self) -> str:
        if self.status == "loading":
            return f"⏳ **Loading the model…** ({self.elapsed:.0f} s) — paragraph lookups such as “¶25” work already."
        if self.status == "ready":
            return f"✅ **Ready** — model loaded in {self.seconds:.1f} s."
        return (f"⚠️ **The model could not be loaded**: {_one_line(self._error)}. Lookups such as “¶25” or “fn 6” "
                "still work.")

    def waiting_message(self) -> str:
        return WAITING_MESSAGE.format(elapsed=self.elapsed)


def _one_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def needs_engine(message) -> bool:
    """False for what the corpus alone answers (¶ / footnote lookups) and for input that will be refused anyway."""
    try:
        text, _ = clean_question(message if isinstance(message, str) else "")
    except UserError:
        return False
    return parse_lookup(text) is None


def waiting_first(fn: Callable, handle: EngineHandle, *, n_outputs: int, message_in: int = 0, chat_in: int = 1,
                  message_out: int = 0, chat_out: int = 1) -> Callable:
    """Wrap a chat handler (inputs: message, chat, …; outputs: message box, chat, …) so that a question asked
    while the model loads first shows a "still loading" reply in the chat, then the real answer."""
    def run(*args):
        message = args[message_in]
        if not handle.ready and not handle.failed and needs_engine(message):
            shown = message if len(message) <= 2000 else message[:2000] + " …"
            outs = [gr.update() for _ in range(n_outputs)]
            outs[message_out] = ""
            outs[chat_out] = list(args[chat_in] or []) + [{"role": "user", "content": escape_md(shown) or "…"},
                                                          {"role": "assistant", "content": handle.waiting_message()}]
            yield tuple(outs)
            handle.wait(LOAD_WAIT_S)
        yield fn(*args)

    named = getattr(fn, "func", fn)  # a functools.partial: the name and doc of the function it binds
    run.__name__, run.__doc__ = getattr(named, "__name__", "respond"), getattr(named, "__doc__", None)
    return run


def status_timer(handle: EngineHandle, status, extra: list | None = None, extra_values: Callable[[], list] | None = None):
    """A 1-second Gradio timer that refreshes `status` (and `extra` components) until loading ends, then stops."""

    timer = gr.Timer(1.0, active=True)
    extra = list(extra or [])

    def tick():
        done = handle.status != "loading"
        values = [handle.status_markdown(), gr.Timer(active=not done)]
        if extra:
            values += list(extra_values()) if done and extra_values else [gr.update() for _ in extra]
        return tuple(values)

    timer.tick(tick, None, [status, timer, *extra], api_visibility="private", queue=False, show_progress="hidden")
    return timer
