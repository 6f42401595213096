"""Evaluation data structures: questions with judgments (qrels) and ranked runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import UserError

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"


@dataclass
class Question:
    id: str
    lang: str
    question: str
    relevant: list[int]
    footnotes: list[int] = field(default_factory=list)
    kind: str = "general"
    history: list[str] = field(default_factory=list)
    standalone: str | None = None
    doc: str | None = None
    all_of: list[str] = field(default_factory=list)  # gold spans an answer must all quote (verbatim, any spacing)
    any_of: list[str] = field(default_factory=list)  # gold spans of which one quoted is enough
    mentions: list[int] = field(default_factory=list)  # near misses: the ¶ that name the entity asked about

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


@dataclass
class Run:
    """One mode's ranked paragraphs per question, with scores and the abstention flag."""

    mode: str
    ranked: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)  # qid -> [(doc, ¶, score)]
    abstained: dict[str, bool] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)

    def paragraphs(self, qid: str) -> list[int]:
        return [n for _, n, _ in self.ranked.get(qid, [])]


def _spans(d: dict, key: str, path: Path, line: int) -> list[str]:
    spans = d.get(key, [])
    if not isinstance(spans, list) or not all(isinstance(x, str) and x.strip() for x in spans):
        raise UserError(f"{path}:{line}: {key!r} must be a list of non-empty strings (gold answer spans)")
    return list(spans)


def load_questions(path: str | Path | None = None) -> list[Question]:
    """Read a questions.jsonl; every bad line is reported with its number and what is wrong."""
    path = Path(path) if path else DEFAULT_QUESTIONS
    if not path.exists():
        raise UserError(f"{path}: no such questions file; give --questions FILE (JSON lines)")
    out: list[Question] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text") from exc
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except ValueError as exc:
            raise UserError(f"{path}:{i}: not valid JSON ({exc.msg})") from exc
        missing = [k for k in ("id", "question", "relevant") if k not in d]
        if not isinstance(d, dict) or missing:
            raise UserError(f"{path}:{i}: missing field(s) {', '.join(missing) or 'object'}; "
                            'expected {"id","lang","question","relevant":[...],"footnotes":[...],"kind"}')
        if not isinstance(d["relevant"], list) or not all(isinstance(n, int) for n in d["relevant"]):
            raise UserError(f"{path}:{i}: 'relevant' must be a list of paragraph numbers")
        qid = str(d["id"])
        if qid in seen:
            raise UserError(f"{path}:{i}: duplicate id {qid!r}")
        seen.add(qid)
        out.append(Question(
            id=qid, lang=str(d.get("lang") or "und"), question=str(d["question"]), relevant=list(d["relevant"]),
            footnotes=[int(x) for x in d.get("footnotes", [])], kind=str(d.get("kind") or "general"),
            history=[str(h) for h in d.get("history", [])], standalone=d.get("standalone"), doc=d.get("doc"),
            all_of=_spans(d, "all_of", path, i), any_of=_spans(d, "any_of", path, i),
            mentions=[int(x) for x in d.get("mentions", [])],
        ))
    if not out:
        raise UserError(f"{path}: no questions in the file")
    return out
