"""Shared fixtures: one real retriever (restored e5-small + USE + BM25) per test session, and a
deterministic `FakeEncoder` for the fast tier (`make test-fast`: `pytest -m "not slow"`, no model)."""

from __future__ import annotations

import os
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Fixtures that load the real models: a test that uses one is slow whether or not it says so.
MODEL_FIXTURES = {"engine", "retriever"}


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


# The fast tier stays fast: a test not marked `slow` that loads a model or starts the app (in a fixture of any scope,
# or in its body) fails at once and says how to fix it. CLI subprocesses that load a model cannot be seen from here.
_RUNNING: dict = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _RUNNING["item"] = item


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    _RUNNING.pop("item", None)


def _only_in_slow_tests(what: str) -> None:
    item = _RUNNING.get("item")
    if item is not None and not item.get_closest_marker("slow"):
        pytest.fail(f"{item.nodeid} {what}: mark it @pytest.mark.slow (or use tests.conftest.FakeEncoder)", pytrace=False)


def pytest_configure(config):
    import embeddings.encoders as encoders
    from tests.appserver import AppServer

    load = encoders._load_encoder
    if not getattr(load, "_fast_tier_guard", False):
        def guarded_load(key: str):
            _only_in_slow_tests(f"loads the model {key!r}")
            return load(key)

        guarded_load.cache_clear = load.cache_clear  # load_encoder.cache_clear() keeps working
        guarded_load._fast_tier_guard = True
        encoders._load_encoder = guarded_load
    start = AppServer.__init__
    if not getattr(start, "_fast_tier_guard", False):
        def guarded_start(self, *args, **kwargs):
            _only_in_slow_tests("starts the app (AppServer)")
            start(self, *args, **kwargs)

        guarded_start._fast_tier_guard = True
        AppServer.__init__ = guarded_start


class FakeEncoder:
    """A deterministic stand-in for an `embeddings.encoders.Encoder`: no model, no randomness.

    Each text is a bag of signed, hashed character 2- and 3-grams (crc32, stable across processes), L2-normalized
    float32, so texts that share words get similar vectors. Only for index and plumbing logic, never
    for retrieval quality. `calls` counts encode calls; `texts` lists every text encoded.
    """

    def __init__(self, name: str = "fake-a", dim: int = 256, *, prompt: str = ""):
        self.name, self.dim, self.fingerprint = name, dim, f"fp-{name}"
        self.query_prompt = self.passage_prompt = prompt
        self.calls = 0
        self.texts: list[str] = []

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        self.calls += 1
        self.texts.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            t = f" {prompt}{text.lower()} "
            for n in (2, 3):
                for j in range(len(t) - n + 1):
                    h = zlib.crc32(t[j:j + n].encode("utf-8"))
                    out[i, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            if not out[i].any():  # keep every vector unit length
                out[i, 0] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self.query_prompt)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self.passage_prompt)


@pytest.fixture(scope="session")
def qa_home(tmp_path_factory) -> Path:
    """A cache home for the whole session (REPORT_QA_TEST_HOME reuses one between runs)."""
    home = Path(os.environ.get("REPORT_QA_TEST_HOME") or tmp_path_factory.mktemp("qa-home"))
    os.environ["REPORT_QA_HOME"] = str(home)
    # The app serves the bundled report plus the library (default <home>/library): a reused home's library must not
    # turn the one-report tests into two-report ones, so tests get an empty library unless they set their own.
    os.environ["REPORT_QA_LIBRARY"] = str(tmp_path_factory.mktemp("qa-library"))
    return home


# --- the real app and a real browser (tests/app/test_*_browser.py, tests/app/test_launch.py) --------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's Chromium, driven through Playwright
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Playwright's `Browser`) for one test module; skips where Chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextmanager
def app_server(home: Path, log_path: Path, *, timeout: float = 300, **kwargs):
    """The real app (`tests.appserver.AppServer`; `cmd`, `extra_env` as there) started with the cache home `home`,
    logging to `log_path`; yields it once it serves with its models loaded, and stops it on the way out."""
    from tests.appserver import AppServer

    srv = AppServer(home, log_path, **kwargs)
    try:
        srv.wait(timeout=timeout)
        yield srv
    finally:
        srv.stop()


def ask_in_page(page, text: str) -> None:
    """Type a question into the app's chat box and send it."""
    page.wait_for_selector("#rqa-input textarea")
    page.fill("#rqa-input textarea", text)
    page.click("#rqa-send")


@pytest.fixture(scope="module")
def english_pdf(tmp_path_factory) -> Path:
    """The English fixture report (tests/fixtures/typeset.py) typeset as a PDF, once per test module."""
    from tests.fixtures.typeset import ENGLISH_JOB, ENGLISH_SYMBOL, english_report, typeset_pdf

    path = tmp_path_factory.mktemp("english-pdf") / "freedonia.en.pdf"
    typeset_pdf(english_report(), path, symbol=ENGLISH_SYMBOL, job=ENGLISH_JOB)
    return path


@pytest.fixture(scope="session")
def corpus():
    from qa.ingest import load_corpus

    return load_corpus()


@pytest.fixture(scope="session")
def engine(qa_home, corpus):
    from qa.engine import load_engine
    from qa.retrieval.index import IndexHome

    return load_engine(corpus, home=IndexHome.resolve(qa_home), quiet=True)


@pytest.fixture(scope="session")
def retriever(engine):
    return engine.retriever


@pytest.fixture(scope="session")
def questions():
    from qa.evaluation.evalset import load_questions

    return load_questions()


def run_async(coro):
    """Run a coroutine to completion in a thread of its own, so it never meets another test's running loop
    (Playwright's sync API keeps one in the main thread while a browser fixture is alive)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
