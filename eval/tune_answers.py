"""Choose the answer stage's sentence weights by k-fold cross-validation on the tuning set.

    python eval/tune_answers.py [--questions eval/questions.jsonl eval/tuning-2.jsonl … eval/tuning-6.jsonl] [--folds 5]
    python eval/tune_answers.py --grid followups

Retrieval does not depend on these weights, so every search is made once and replayed; each grid point
then re-builds the answers. For each fold the best grid point on the other folds is scored on the held-out
fold, and the out-of-fold accuracy is printed beside the in-sample best. Never run it on the blind set.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.answer.select import DEFAULT_WEIGHTS, AnswerWeights  # noqa: E402
from qa.engine import load_engine  # noqa: E402
from qa.evaluation.answers import ask_all  # noqa: E402
from qa.evaluation.evalset import load_questions  # noqa: E402


class ReplayRetriever:
    """The engine's retriever with each search remembered (hits copied, since the answer stage re-orders them)."""

    def __init__(self, inner):
        self._inner, self._seen = inner, {}

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def search(self, query, **kw):
        key = (query, json.dumps(kw, sort_keys=True, default=str))
        if key not in self._seen:
            self._seen[key] = self._inner.search(query, **kw)
        res = self._seen[key]
        return replace(res, hits=[replace(h) for h in res.hits])


class ReplayEngine:
    def __init__(self, engine):
        self.corpus, self.retriever = engine.corpus, ReplayRetriever(engine.retriever)


def grid(kind: str = "sentences") -> list[AnswerWeights]:
    """The grid points: the answer stage's sentence choice, or how a follow-up uses the previous answer."""
    d = DEFAULT_WEIGHTS
    if kind == "followups":
        return [replace(d, topic=t, own=o, prior=p, prior_bare=b)
                for t, o, p, b in itertools.product((0.5, 0.75, 1.0), (0.15, 0.3), (0.0, 0.1, 0.25), (0.5, 1.0))]
    return [replace(d, several=several, about_lead=about, typed_share=share)
            for several, about, share in itertools.product((0, 1, 2), (False, True), (0.0, 0.05, 0.1, 0.15, 0.2, 0.3))]


def after_unrelated(questions: list) -> list:
    """Each answerable question without a history, asked after the nearest earlier one of its language that shares
    no relevant paragraph with it: a topic switch, which a follow-up rule must not mistake for a follow-up."""
    alone = [q for q in questions if not q.history and q.answerable]
    out = []
    for i, q in enumerate(alone):
        prev = next((p for p in reversed(alone[:i]) if p.lang == q.lang and not set(p.relevant) & set(q.relevant)),
                    None)
        if prev is not None:
            out.append(replace(q, id=f"{q.id}/after-{prev.id}", history=[prev.question]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", nargs="+", default=["eval/questions.jsonl", *(f"eval/tuning-{k}.jsonl" for k in range(2, 7))])
    ap.add_argument("--grid", choices=("sentences", "followups"), default="sentences",
                    help="followups: the weights of follow-ups, on the follow-ups and on every other answerable "
                         "question asked after an unrelated one")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    questions = [q for path in args.questions for q in load_questions(path)]
    if args.grid == "followups":  # the other questions have no previous answer: these weights cannot change them
        questions = [q for q in questions if q.history] + after_unrelated(questions)
    engine = ReplayEngine(load_engine())
    points = grid(args.grid)
    if DEFAULT_WEIGHTS not in points:
        points.append(DEFAULT_WEIGHTS)
    right = {}
    for i, w in enumerate(points):
        rows = ask_all(engine, questions, weights=w)
        right[w] = {r.id: r.correct for r in rows}
        print(f"{i + 1}/{len(points)} {w}: {sum(right[w].values()) / len(rows):.4f}", file=sys.stderr)
    ids = [q.id for q in questions]
    random.Random(7).shuffle(ids)
    folds = [ids[k::args.folds] for k in range(args.folds)]
    oof, chosen = 0, []
    for k, held in enumerate(folds):
        train = [i for f in folds[:k] + folds[k + 1:] for i in f]
        best = max(points, key=lambda w: (sum(right[w][i] for i in train), w == DEFAULT_WEIGHTS))
        chosen.append(best)
        oof += sum(right[best][i] for i in held)
    best_all = max(points, key=lambda w: (sum(right[w].values()), w == DEFAULT_WEIGHTS))
    print(json.dumps({
        "questions": len(ids), "folds": args.folds,
        "default": {"weights": DEFAULT_WEIGHTS.__dict__, "accuracy": round(sum(right[DEFAULT_WEIGHTS].values()) / len(ids), 4)},
        "out_of_fold_accuracy": round(oof / len(ids), 4),
        "chosen_per_fold": [w.__dict__ for w in chosen],
        "in_sample_best": {"weights": best_all.__dict__, "accuracy": round(sum(right[best_all].values()) / len(ids), 4)},
    }, indent=1, default=list))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
