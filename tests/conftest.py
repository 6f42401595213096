"""Shared fixtures: one real retriever (restored e5-small + USE + BM25) per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def qa_home(tmp_path_factory) -> Path:
    """A cache home for the whole session (REPORT_QA_TEST_HOME reuses one between runs)."""
    home = Path(os.environ.get("REPORT_QA_TEST_HOME") or tmp_path_factory.mktemp("qa-home"))
    os.environ["REPORT_QA_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def corpus():
    from qa.ingest.txt import load_corpus

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
