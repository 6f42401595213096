"""The two question sets: the blind set is frozen, and every gold span of both occurs in its paragraph."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from qa.evaluation.answers import span_problems
from qa.evaluation.evalset import load_questions
from qa.ingest.files import load_corpus

ROOT = Path(__file__).resolve().parents[2]
BLIND = ROOT / "eval" / "blind.jsonl"


def test_the_blind_set_is_the_frozen_one():
    recorded = re.search(r"sha256 ([0-9a-f]{64})  eval/blind\.jsonl", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert recorded, "the README records the blind set's sha256"
    assert hashlib.sha256(BLIND.read_bytes()).hexdigest() == recorded.group(1), "eval/blind.jsonl changed"


@pytest.mark.parametrize("path", [None, BLIND, *sorted((ROOT / "eval").glob("tuning-*.jsonl"))],
                         ids=lambda p: "questions" if p is None else p.stem)
def test_every_gold_span_is_in_its_paragraph(path):
    questions = load_questions(path)
    assert span_problems(questions, load_corpus()) == []
    langs = {q.lang for q in questions}
    assert langs == {"zh", "en", "fr", "es", "ru", "ar"}
