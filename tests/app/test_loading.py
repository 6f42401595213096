"""Start-up: the UI is served at once while the models load behind; a question asked meanwhile waits and says so."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from qa.app.ui.loading import EngineHandle, EngineNotReady, needs_engine, waiting_first


def gated(result=None, error: BaseException | None = None):
    gate = threading.Event()

    def loader():
        gate.wait(30)
        if error is not None:
            raise error
        return result

    return gate, loader


def test_handle_loads_in_the_background():
    engine = SimpleNamespace(corpus="C", retriever="R", index_reports=[{"model": "m"}])
    gate, loader = gated(engine)
    seen = []
    h = EngineHandle("C", loader)
    h.on_ready(seen.append)
    h.start()
    assert h.status == "loading" and not h.ready and h.corpus == "C"
    assert "Loading the model" in h.status_markdown() and "still loading" in h.waiting_message()
    with pytest.raises(EngineNotReady, match="still loading"):
        h.get(timeout=0.05)
    gate.set()
    assert h.wait(10) and h.status == "ready" and h.get() is engine
    assert h.retriever == "R" and h.index_reports[0]["model"] == "m"  # an Engine's attributes, through the handle
    assert seen == [h] and "Ready" in h.status_markdown()
    late = []
    h.on_ready(late.append)
    assert late == [h]


def test_a_failed_load_is_reported_not_raised_at_start():
    gate, loader = gated(error=RuntimeError("weights file missing\nmore detail"))
    h = EngineHandle("C", loader).start()
    gate.set()
    assert not h.wait(10) and h.status == "failed" and h.failed
    with pytest.raises(EngineNotReady, match="could not be loaded .weights file missing.; paragraph"):
        h.get()
    assert "could not be loaded" in h.status_markdown()


def test_handle_of_a_loaded_engine():
    engine = SimpleNamespace(corpus="C")
    h = EngineHandle.of(engine)
    assert h.ready and h.get() is engine and EngineHandle.of(h) is h


def test_what_needs_the_models():
    assert not needs_engine("¶25") and not needs_engine("fn 6") and not needs_engine("第25段")
    assert not needs_engine("") and not needs_engine("   ") and not needs_engine(None)  # refused anyway
    assert needs_engine("乍得废除了哪项法律中的死刑？")


def test_waiting_first_shows_the_wait_then_the_answer():
    gate, loader = gated(SimpleNamespace(corpus="C"))
    h = EngineHandle("C", loader).start()

    def respond(message, chat, history):
        return "", [*chat, {"role": "user", "content": message}, {"role": "assistant", "content": "answer"}], history

    run = waiting_first(respond, h, n_outputs=3)
    steps = run("What did OHCHR do in Chad?", [{"role": "user", "content": "earlier"}], ["h"])
    first = next(steps)
    assert first[0] == "" and "still loading" in first[1][-1]["content"] and first[1][-2]["content"].startswith("What")
    threading.Timer(0.2, gate.set).start()
    t0 = time.monotonic()
    second = next(steps)
    assert time.monotonic() - t0 < 20 and second[1][-1]["content"] == "answer" and len(second[1]) == 3
    with pytest.raises(StopIteration):
        next(steps)
    # Ready (or a lookup): straight to the answer.
    assert len(list(run("¶25", [], []))) == 1


@pytest.mark.slow
def test_app_answers_lookups_at_once_and_questions_when_ready(engine):
    """build_app on a handle still loading: ¶ lookups answer from the corpus, a question shows the wait first."""
    from qa.app.ui.webapp import build_app

    gate, loader = gated(engine)
    h = EngineHandle(engine.corpus, loader).start()
    demo = build_app(h)
    fns = {fn.name: fn.fn for fn in demo.fns.values()}
    respond = fns["respond"]
    lookup = list(respond("¶25", [], [], "hybrid", 3))
    assert len(lookup) == 1 and "¶25" in lookup[0][1][-1]["content"]
    steps = respond("乍得废除了哪项法律中的死刑？", [], [], "hybrid", 3)
    waiting = next(steps)
    assert "still loading" in waiting[1][-1]["content"]
    assert "Loading the model" in h.status_markdown()
    gate.set()
    answer = next(steps)
    assert "¶90" in answer[1][-1]["content"] and "乍得" in answer[1][-1]["content"] and answer[2]  # + follow-up history
    assert h.status == "ready"
