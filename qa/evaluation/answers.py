"""Answer-level evaluation: do the quoted sentences hold the fact, and are the right questions declined?

Each question is asked through `ChatSession`, the path every interface uses, with its earlier turns asked
first in the same session (so a follow-up sees the previous answer, as a reader's would). An answer is
right when its quotes contain every `all_of` gold span and, if any are given, one `any_of` span, compared
without whitespace. Questions with no relevant paragraph (near misses, names the report lacks) are right
when declined.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from qa.answer.chat import ChatSession
from qa.answer.select import DEFAULT_WEIGHTS, AnswerWeights
from qa.evaluation.evalset import Question

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Text without whitespace: the report's line breaks and the spacing of CJK and Latin runs never count."""
    return _WS.sub("", text)


def holds(quotes: list[str], all_of: list[str], any_of: list[str]) -> bool:
    """Whether the quoted text contains every `all_of` span and (when there are some) one `any_of` span."""
    if not all_of and not any_of:
        return False
    text = "\u0000".join(squash(q) for q in quotes)
    return all(squash(s) in text for s in all_of) and (not any_of or any(squash(s) in text for s in any_of))


def span_problems(questions: list[Question], corpus) -> list[str]:
    """Gold spans that do not occur in their question's relevant paragraphs or footnotes (should be none)."""
    out = []
    for q in questions:
        doc = corpus.document(q.doc) if q.doc else corpus.documents[0]
        texts = [squash(p.text) for p in (doc.paragraph(n) for n in q.relevant) if p]
        texts += [squash(f.text) for f in (doc.footnote(n) for n in q.footnotes) if f]
        if q.answerable and not (q.all_of or q.any_of):
            out.append(f"{q.id}: no gold span")
        for s in q.all_of + q.any_of:
            if not any(squash(s) in t for t in texts):
                out.append(f"{q.id}: span {s!r} is not in ¶{q.relevant} / fn{q.footnotes}")
    return out


@dataclass
class AnswerRow:
    id: str
    lang: str
    kind: str
    question: str
    answerable: bool
    declined: bool
    correct: bool  # answerable: the quotes hold the fact; not answerable: declined
    first_quote: bool  # answerable: the first quote alone holds it
    cited: list[int]
    quotes: list[str]
    message: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


def ask_all(engine, questions: list[Question], *, mode: str = "hybrid", top_k: int = 3,
            weights: AnswerWeights = DEFAULT_WEIGHTS, progress: Callable[[str], None] | None = None
            ) -> list[AnswerRow]:
    """Ask every question in a fresh session (its history first) and judge the answer."""
    rows = []
    for q in questions:
        if progress:
            progress(f"answers: {q.id}")
        session = ChatSession(engine, mode, top_k, docs=[q.doc] if q.doc else None, weights=weights)
        for earlier in q.history:
            session.ask(earlier)
        ans = session.ask(q.question)
        quotes = [x.text for x in ans.quotes]
        declined = not ans.covered
        if q.answerable:
            correct = not declined and holds(quotes, q.all_of, q.any_of)
            first = not declined and holds(quotes[:1], q.all_of, q.any_of)
        else:
            correct, first = declined, declined
        rows.append(AnswerRow(q.id, q.lang, q.kind, q.question, q.answerable, declined, correct, first,
                              [p.n for p in ans.paragraphs], quotes, ans.message))
    return rows


def _share(rows: list[AnswerRow], attr: str) -> float | None:
    return round(sum(getattr(r, attr) for r in rows) / len(rows), 4) if rows else None


def declines(rows: list[AnswerRow]) -> dict:
    """Declining as a classifier: positives are the questions the report does not answer."""
    tp = sum(r.declined and not r.answerable for r in rows)
    fp = sum(r.declined and r.answerable for r in rows)
    fn = sum(not r.declined and not r.answerable for r in rows)
    answerable = sum(r.answerable for r in rows)
    p = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(rec, 4),
            "f1": round(2 * p * rec / (p + rec), 4) if p + rec else 0.0,
            "declined_answerable": fp, "answerable": answerable,
            "declined_answerable_share": round(fp / answerable, 4) if answerable else 0.0,
            "declined_unanswerable": tp, "unanswerable": tp + fn}


def summarize(rows: list[AnswerRow]) -> dict:
    """Accuracy overall, by language and by kind (answerable questions), and declines."""
    ans = [r for r in rows if r.answerable]

    def block(rs: list[AnswerRow]) -> dict:
        a = [r for r in rs if r.answerable]
        return {"n": len(a), "accuracy": _share(a, "correct"), "first_quote": _share(a, "first_quote")}

    by_lang: dict[str, list[AnswerRow]] = defaultdict(list)
    by_kind: dict[str, list[AnswerRow]] = defaultdict(list)
    for r in rows:
        by_lang[r.lang].append(r)
        by_kind[r.kind].append(r)
    return {
        "overall": block(ans),
        "by_language": {k: block(v) for k, v in sorted(by_lang.items()) if any(r.answerable for r in v)},
        "by_kind": {k: block(v) for k, v in sorted(by_kind.items()) if any(r.answerable for r in v)},
        "declines": declines(rows),
        "declined_by_kind": {k: _share(v, "declined") for k, v in sorted(by_kind.items())},
    }


def evaluate_answers(engine, questions: list[Question], *, mode: str = "hybrid", top_k: int = 3,
                     progress: Callable[[str], None] | None = None) -> dict:
    rows = ask_all(engine, questions, mode=mode, top_k=top_k, progress=progress)
    return {**summarize(rows), "per_question": [r.to_json() for r in rows]}


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def answers_markdown(res: dict) -> str:
    o, d = res["overall"], res["declines"]
    lines = ["| | n | answer accuracy | first quote |", "|---|---|---|---|",
             f"| overall | {o['n']} | {_fmt(o['accuracy'])} | {_fmt(o['first_quote'])} |"]
    for key in ("by_language", "by_kind"):
        for g, b in res[key].items():
            lines.append(f"| {key[3:]}: {g} | {b['n']} | {_fmt(b['accuracy'])} | {_fmt(b['first_quote'])} |")
    lines += ["", f"Declines: F1 {d['f1']:.3f} (precision {d['precision']:.3f}, recall {d['recall']:.3f}); "
              f"{d['declined_unanswerable']}/{d['unanswerable']} unanswerable declined, "
              f"{d['declined_answerable']}/{d['answerable']} answerable declined "
              f"({100 * d['declined_answerable_share']:.1f}%)."]
    return "\n".join(lines)
