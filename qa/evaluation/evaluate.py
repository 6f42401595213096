"""The user-facing verbs of evaluation: `evaluate` (run modes, score them), `compare` (paired test), `write_report`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.chat import ChatSession
from qa.evaluation.answers import answers_markdown, evaluate_answers
from qa.evaluation.evalset import Question, Run
from qa.evaluation.metrics import hit_at_k, mrr_at_k, ndcg_at_k, recall_at_k
from qa.retrieval.retriever import Retriever

METRICS = ("hit@1", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
CURVE_K = tuple(range(1, 11))


@dataclass
class _Engine:
    """What `ChatSession` needs of an engine, from a retriever alone."""

    retriever: Retriever

    @property
    def corpus(self):
        return self.retriever.corpus


def make_run(retriever: Retriever, questions: list[Question], mode: str, *, depth: int = 100,
             standalone: bool = False, progress: Callable[[str], None] | None = None) -> Run:
    """Search every question in one mode, as the chat does: in a fresh session that has asked its earlier turns
    (`ChatSession.search`), or, with `standalone`, a follow-up's standalone rewrite alone.

    `progress(label)` is called before each question (the app's Evaluation tab drives its progress bar with it).
    """
    run = Run(mode)
    engine = _Engine(retriever)
    for q in questions:
        if progress:
            progress(f"{mode}{' (standalone)' if standalone else ''}: {q.id}")
        session = ChatSession(engine, mode, docs=[q.doc] if q.doc else None)
        if standalone and q.standalone:
            res, _ = session.search(q.standalone, depth=depth)
        else:
            for earlier in q.history:
                session.ask(earlier)
            res, _ = session.search(q.question, depth=depth)
        run.ranked[q.id] = [(h.doc, h.paragraph, h.score) for h in res.hits]
        run.abstained[q.id] = res.abstained
        run.queries[q.id] = res.query
    return run


def score_question(ranked: list[int], relevant: set[int]) -> dict[str, float]:
    row = {
        "hit@1": hit_at_k(ranked, relevant, 1),
        "recall@1": recall_at_k(ranked, relevant, 1),
        "recall@5": recall_at_k(ranked, relevant, 5),
        "recall@10": recall_at_k(ranked, relevant, 10),
        "mrr@10": mrr_at_k(ranked, relevant, 10),
        "ndcg@10": ndcg_at_k(ranked, relevant, 10),
    }
    for k in CURVE_K:
        row[f"curve_recall@{k}"] = recall_at_k(ranked, relevant, k)
    return row


def per_question(run: Run, questions: list[Question]) -> list[dict]:
    rows = []
    for q in questions:
        ranked = run.paragraphs(q.id)
        row = {"id": q.id, "lang": q.lang, "kind": q.kind, "question": q.question, "query": run.queries.get(q.id, ""),
               "relevant": q.relevant, "top": ranked[:5], "abstained": run.abstained.get(q.id, False),
               "answerable": q.answerable}
        if q.answerable:
            row.update(score_question(ranked, set(q.relevant)))
        rows.append(row)
    return rows


def aggregate(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    out = {m: round(float(np.mean([r[m] for r in answerable])), 4) if answerable else None for m in METRICS}
    out["n"] = len(answerable)
    return out


def abstention(rows: list[dict]) -> dict:
    tp = sum(1 for r in rows if r["abstained"] and not r["answerable"])
    fp = sum(1 for r in rows if r["abstained"] and r["answerable"])
    fn = sum(1 for r in rows if not r["abstained"] and not r["answerable"])
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "abstained": tp + fp, "unanswerable": tp + fn}


def grouped(rows: list[dict], key: str) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    return {g: aggregate(rs) for g, rs in sorted(groups.items()) if any(r["answerable"] for r in rs)}


def compare(rows_a: list[dict], rows_b: list[dict], metric: str = "ndcg@10", *, trials: int = 10000,
            seed: int = 42) -> dict:
    """Two-sided paired randomization (Fisher) test on per-question `metric`, as ranx and trec tools do.

    `scipy.stats.permutation_test` with paired samples: each question's two scores are swapped or not
    (a sign flip of its difference), exact when 2**n <= `trials`, else `trials` random resamples.
    """
    from scipy.stats import permutation_test

    a = {r["id"]: r[metric] for r in rows_a if r["answerable"]}
    b = {r["id"]: r[metric] for r in rows_b if r["answerable"]}
    ids = sorted(set(a) & set(b))
    xa = np.array([a[i] for i in ids], dtype=float)
    xb = np.array([b[i] for i in ids], dtype=float)
    p = 1.0  # with fewer than two questions no sign flip can beat the observed difference
    if len(ids) >= 2:
        res = permutation_test((xa, xb), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                               permutation_type="samples", alternative="two-sided", n_resamples=trials,
                               random_state=seed)
        p = float(res.pvalue)
    return {"metric": metric, "mean_diff": round(float((xa - xb).mean()) if len(ids) else 0.0, 4),
            "p_value": round(p, 4), "n": len(ids)}


def evaluate(retriever: Retriever, questions: list[Question], modes: list[str], *, k: int = 10,
             answers: bool = True, progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Run every mode and score it: overall, by language, by kind, abstention, per question, paired tests;
    with `answers` (and the hybrid mode), also the answers as a reader gets them (`qa.evaluation.answers`).

    `progress(done, total, label)` is called as the searches go (one step per question and mode).
    """
    results: dict = {"modes": {}, "runs": {}, "questions": len(questions)}
    answers = answers and "hybrid" in modes
    total = len(questions) * len(modes) + (sum(1 for q in questions if q.history and q.standalone) if "hybrid" in modes else 0)
    total += len(questions) if answers else 0
    done = 0

    def step(label: str) -> None:
        nonlocal done
        if progress:
            progress(done, total, label)
        done += 1

    for mode in modes:
        run = make_run(retriever, questions, mode, progress=step)
        rows = per_question(run, questions)
        results["runs"][mode] = run
        results["modes"][mode] = {
            "overall": aggregate(rows), "by_language": grouped(rows, "lang"), "by_kind": grouped(rows, "kind"),
            "abstention": abstention(rows), "per_question": rows,
        }
    followups = [q for q in questions if q.history and q.standalone]
    if followups and "hybrid" in modes:
        run_std = make_run(retriever, followups, "hybrid", standalone=True, progress=step)
        ctx_rows = [r for r in results["modes"]["hybrid"]["per_question"] if r["id"] in {q.id for q in followups}]
        results["followups"] = {"contextual": aggregate(ctx_rows), "standalone": aggregate(per_question(run_std, followups))}
    tests = []
    for i, m1 in enumerate(modes):
        for m2 in modes[i + 1:]:
            t = compare(results["modes"][m1]["per_question"], results["modes"][m2]["per_question"])
            tests.append({"a": m1, "b": m2, **t})
    results["significance"] = tests
    if answers:
        results["answers"] = evaluate_answers(_Engine(retriever), questions, progress=step)
    return results


# --- output ----------------------------------------------------------------------------------------

def trec_lines(run: Run, *, tag: str | None = None) -> list[str]:
    """`qid Q0 docid rank score tag`; scores are nudged by rank so ties keep our order in any tool."""
    lines = []
    for qid, ranked in run.ranked.items():
        for rank, (doc, n, score) in enumerate(ranked, 1):
            lines.append(f"{qid} Q0 {doc}/{n} {rank} {score - rank * 1e-6:.6f} {tag or run.mode}")
    return lines


def qrels_lines(questions: list[Question], doc_id: str) -> list[str]:
    return [f"{q.id} 0 {q.doc or doc_id}/{n} 1" for q in questions for n in q.relevant]


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def summary_table(results: dict) -> str:
    modes = list(results["modes"])
    head = "| mode | " + " | ".join(METRICS) + " | abstain P | abstain R |"
    lines = [head, "|" + "---|" * (len(METRICS) + 3)]
    for m in modes:
        o = results["modes"][m]["overall"]
        a = results["modes"][m]["abstention"]
        lines.append(f"| {m} | " + " | ".join(_fmt(o[x]) for x in METRICS) + f" | {a['precision']:.2f} | {a['recall']:.2f} |")
    return "\n".join(lines)


def group_table(results: dict, key: str, metric: str = "ndcg@10") -> str:
    modes = list(results["modes"])
    groups = sorted({g for m in modes for g in results["modes"][m][key]})
    lines = [f"| {key.replace('by_', '')} | n | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for g in groups:
        n = results["modes"][modes[0]][key].get(g, {}).get("n", 0)
        cells = [_fmt(results["modes"][m][key].get(g, {}).get(metric)) for m in modes]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compact(results: dict) -> str:
    out = [summary_table(results), "", "nDCG@10 by language:", group_table(results, "by_language")]
    if "answers" in results:
        out += ["", "Answers (hybrid, the quotes a reader gets):", answers_markdown(results["answers"])]
    return "\n".join(out)


def write_report(results: dict, out_dir: Path, *, doc_id: str, questions: list[Question]) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for mode, run in results["runs"].items():
        p = out_dir / f"{mode}.trec"
        p.write_text("\n".join(trec_lines(run)) + "\n")
        written.append(p)
    p = out_dir / "qrels.txt"
    p.write_text("\n".join(qrels_lines(questions, doc_id)) + "\n")
    written.append(p)
    metrics = {k: v for k, v in results.items() if k != "runs"}
    p = out_dir / "metrics.json"
    p.write_text(json.dumps(metrics, ensure_ascii=False, indent=2))
    written.append(p)
    written.extend(_plots(results, out_dir))
    p = out_dir / "report.md"
    p.write_text(_markdown(results))
    written.append(p)
    return written


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(results: dict) -> str:
    parts = ["# Retrieval evaluation", "", f"{results['questions']} questions. Ranking metrics over the answerable ones; "
             "abstention precision/recall over all.", "", "## Overall", "", summary_table(results), "",
             "## nDCG@10 by language", "", group_table(results, "by_language"), "",
             "## Recall@5 by language", "", group_table(results, "by_language", "recall@5"), "",
             "## nDCG@10 by kind", "", group_table(results, "by_kind"), "",
             "## Abstention", "", "| mode | precision | recall | F1 | abstained | unanswerable |", "|---|---|---|---|---|---|"]
    for m, r in results["modes"].items():
        a = r["abstention"]
        parts.append(f"| {m} | {a['precision']:.3f} | {a['recall']:.3f} | {a['f1']:.3f} | {a['abstained']} | {a['unanswerable']} |")
    if "followups" in results:
        f = results["followups"]
        parts += ["", "## Follow-ups (hybrid)", "", "| query | n | hit@1 | recall@5 | nDCG@10 |", "|---|---|---|---|---|"]
        for name in ("contextual", "standalone"):
            a = f[name]
            parts.append(f"| {name} | {a['n']} | {_fmt(a['hit@1'])} | {_fmt(a['recall@5'])} | {_fmt(a['ndcg@10'])} |")
    if "answers" in results:
        parts += ["", "## Answers (hybrid): do the quotes hold the fact?", "", answers_markdown(results["answers"]), "",
                  "Wrong answers:", "", "| id | lang | kind | cited | first quote | question |", "|---|---|---|---|---|---|"]
        for r in results["answers"]["per_question"]:
            if not r["correct"]:
                first = _cell((r["quotes"][0] if r["quotes"] else r["message"])[:80])
                parts.append(f"| {r['id']} | {r['lang']} | {r['kind']} | {r['cited']} | {first} | {_cell(r['question'])} |")
    parts += ["", "## Paired randomization tests (nDCG@10, 10 000 trials)", "", "| a | b | mean diff (a−b) | p | n |",
              "|---|---|---|---|---|"]
    for t in results["significance"]:
        parts.append(f"| {t['a']} | {t['b']} | {t['mean_diff']:+.4f} | {t['p_value']:.4f} | {t['n']} |")
    parts += ["", "## Per question, worst first", ""]
    for m, r in results["modes"].items():
        parts += [f"### {m}", "", "| id | lang | kind | nDCG@10 | hit@1 | relevant | top 5 | abstained | question |",
                  "|---|---|---|---|---|---|---|---|---|"]
        rows = sorted(r["per_question"], key=lambda x: (x.get("ndcg@10", 2.0 if not x["answerable"] else 0), x["id"]))
        for x in rows:
            nd = _fmt(x.get("ndcg@10")) if x["answerable"] else ("ok" if x["abstained"] else "**answered**")
            q = x["question"].replace("|", "\\|")
            parts.append(f"| {x['id']} | {x['lang']} | {x['kind']} | {nd} | {_fmt(x.get('hit@1'))} | "
                         f"{x['relevant']} | {x['top']} | {'yes' if x['abstained'] else ''} | {q} |")
        parts.append("")
    parts += ["Plots: `recall_at_k.png` (Recall@k per mode), `ndcg_by_language.png` (nDCG@10 by language per mode).", ""]
    return "\n".join(parts)


def _plots(results: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(results["modes"])
    written = []
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for m in modes:
        rows = [r for r in results["modes"][m]["per_question"] if r["answerable"]]
        ys = [float(np.mean([r[f"curve_recall@{k}"] for r in rows])) for k in CURVE_K]
        ax.plot(CURVE_K, ys, marker="o", label=m)
    ax.set_xlabel("k (paragraphs retrieved)")
    ax.set_ylabel("Recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(CURVE_K)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Recall@k by retrieval mode")
    fig.tight_layout()
    p = out_dir / "recall_at_k.png"
    fig.savefig(p)
    plt.close(fig)
    written.append(p)

    langs = sorted({g for m in modes for g in results["modes"][m]["by_language"]})
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    width = 0.8 / max(len(modes), 1)
    x = np.arange(len(langs))
    for i, m in enumerate(modes):
        vals = [results["modes"][m]["by_language"].get(g, {}).get("ndcg@10") or 0.0 for g in langs]
        bars = ax.bar(x + (i - (len(modes) - 1) / 2) * width, vals, width, label=m)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, [f"{g}\n(n={results['modes'][modes[0]]['by_language'].get(g, {}).get('n', 0)})" for g in langs])
    ax.set_ylabel("nDCG@10")
    ax.set_ylim(0, 1.1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", ncol=len(modes), fontsize=8)
    ax.set_title("nDCG@10 by question language")
    fig.tight_layout()
    p = out_dir / "ndcg_by_language.png"
    fig.savefig(p)
    plt.close(fig)
    written.append(p)
    return written

