"""The app's Evaluation tab: the same retrieval evaluation as `python -m qa eval`, in the browser.

It runs `qa.evaluation.evaluate.evaluate` on the bundled questions (eval/questions.jsonl) or an uploaded
questions file, with a progress bar, and shows the overall, per-language and per-kind tables, the plots and the
questions it got most wrong. `write_report` writes metrics.json, the TREC runs, qrels.txt and report.md, which
the tab offers for download.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import gradio as gr
import pandas as pd

from qa.app.ui.markup import escape_md
from qa.errors import USER_ERRORS, UserError
from qa.evaluation.evalset import DEFAULT_QUESTIONS, load_questions
from qa.evaluation.evaluate import evaluate, write_report
from qa.types import MODES

log = logging.getLogger("report_qa")
METRIC_COLUMNS = ("hit@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
WORST_SHOWN = 10
KEEP_RUNS = 5  # result folders kept on disk (the newest); Gradio copies what it serves into its own cache


@dataclass
class EvalOutput:
    questions: int
    source: str
    seconds: float
    overall: tuple[list[str], list[list]]
    by_language: tuple[list[str], list[list]]
    by_kind: tuple[list[str], list[list]]
    worst: tuple[list[str], list[list]]
    worst_mode: str
    plots: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    followups: dict | None = None
    answers: tuple[list[str], list[list]] | None = None  # answer accuracy (hybrid): overall, by language, by kind
    declines: dict | None = None


def _r(v) -> float | None:
    return None if v is None else round(float(v), 3)


def overall_table(results: dict) -> tuple[list[str], list[list]]:
    head = ["mode", *METRIC_COLUMNS, "abstain P", "abstain R", "abstain F1", "n"]
    rows = []
    for m, r in results["modes"].items():
        o, a = r["overall"], r["abstention"]
        rows.append([m, *(_r(o[x]) for x in METRIC_COLUMNS), _r(a["precision"]), _r(a["recall"]), _r(a["f1"]), o["n"]])
    return head, rows


def answers_table(results: dict) -> tuple[list[str], list[list]] | None:
    """Do the quoted sentences hold the fact? One row overall, then per language and per kind (hybrid)."""
    a = results.get("answers")
    if not a:
        return None
    head = ["group", "n", "answer accuracy", "first quote"]
    rows = [["overall", a["overall"]["n"], _r(a["overall"]["accuracy"]), _r(a["overall"]["first_quote"])]]
    for key, label in (("by_language", "language"), ("by_kind", "kind")):
        for g, b in a[key].items():
            rows.append([f"{label}: {g}", b["n"], _r(b["accuracy"]), _r(b["first_quote"])])
    return head, rows


def group_rows(results: dict, key: str) -> tuple[list[str], list[list]]:
    """One row per language (or kind): n, then nDCG@10, Recall@5 and hit@1 for each mode."""
    modes = list(results["modes"])
    groups = sorted({g for m in modes for g in results["modes"][m][key]})
    head = [key.replace("by_", ""), "n"]
    for metric in ("ndcg@10", "recall@5", "hit@1"):
        head += [f"{m} {metric}" for m in modes]
    rows = []
    for g in groups:
        row = [g, results["modes"][modes[0]][key].get(g, {}).get("n", 0)]
        for metric in ("ndcg@10", "recall@5", "hit@1"):
            row += [_r(results["modes"][m][key].get(g, {}).get(metric)) for m in modes]
        rows.append(row)
    return head, rows


def worst_questions(results: dict, limit: int = WORST_SHOWN) -> tuple[str, tuple[list[str], list[list]]]:
    """The questions the main mode (hybrid when run) got most wrong: lowest nDCG@10, and answered unanswerables."""
    mode = "hybrid" if "hybrid" in results["modes"] else list(results["modes"])[-1]
    rows = results["modes"][mode]["per_question"]

    def badness(r: dict) -> float:
        if r["answerable"]:
            return r["ndcg@10"] - (0.5 if r["abstained"] else 0.0)  # wrongly declined counts double
        return 1.0 if r["abstained"] else 0.0  # an unanswerable question that was answered is a miss

    wrong = [r for r in rows if badness(r) < 1.0]
    wrong.sort(key=lambda r: (badness(r), r["id"]))
    head = ["id", "lang", "kind", "nDCG@10", "hit@1", "relevant ¶", "top 5 ¶", "abstained", "question"]
    out = []
    for r in wrong[:limit]:
        nd = _r(r.get("ndcg@10")) if r["answerable"] else "answered (not covered)"
        out.append([r["id"], r["lang"], r["kind"], nd, _r(r.get("hit@1")), ", ".join(map(str, r["relevant"])) or "–",
                    ", ".join(map(str, r["top"])), "yes" if r["abstained"] else "", r["question"]])
    return mode, (head, out)


def _results_dir() -> Path:
    root = Path(tempfile.gettempdir()) / "report-qa-eval"
    root.mkdir(parents=True, exist_ok=True)
    old = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for p in old[: max(0, len(old) - KEEP_RUNS + 1)]:
        shutil.rmtree(p, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=root))


def run_evaluation(engine, questions_file: str | None, modes: list[str],
                   progress: Callable[[int, int, str], None] | None = None) -> EvalOutput:
    """What the tab runs: load the questions, `evaluate`, `write_report`, and the tables it shows.

    Raises UserError for a bad questions file or no modes (the tab shows the message).
    """
    modes = [m for m in MODES if m in (modes or [])]
    if not modes:
        raise UserError("choose at least one retrieval mode")
    path = Path(questions_file) if questions_file else DEFAULT_QUESTIONS
    try:
        questions = load_questions(path)
    except UserError as exc:  # the upload's temporary path means nothing to the user: name the file instead
        raise UserError(str(exc).replace(str(path), path.name)) from None
    source = "uploaded file " + path.name if questions_file else f"bundled set ({DEFAULT_QUESTIONS.parent.name}/{DEFAULT_QUESTIONS.name})"
    t0 = time.perf_counter()
    results = evaluate(engine.retriever, questions, modes, progress=progress)
    out_dir = _results_dir()
    written = write_report(results, out_dir, doc_id=engine.corpus.documents[0].id, questions=questions)
    worst_mode, worst = worst_questions(results)
    order = {"metrics.json": 0, "report.md": 1, "qrels.txt": 3}
    files = sorted((p for p in written if p.suffix != ".png"), key=lambda p: (order.get(p.name, 2), p.name))
    return EvalOutput(
        questions=len(questions), source=source, seconds=time.perf_counter() - t0,
        overall=overall_table(results), by_language=group_rows(results, "by_language"),
        by_kind=group_rows(results, "by_kind"), worst=worst, worst_mode=worst_mode,
        plots=[p for p in written if p.suffix == ".png"], files=files, followups=results.get("followups"),
        answers=answers_table(results), declines=(results.get("answers") or {}).get("declines"),
    )


def _frame(table: tuple[list[str], list[list]]) -> pd.DataFrame:
    head, rows = table
    return pd.DataFrame(rows, columns=head)


def run_tab(current: Callable[[], object], upload, modes, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
    """"Run evaluation": the status line, then the tables, the plots and the downloads (shown once filled)."""
    def report(done: int, total: int, label: str) -> None:
        progress((done, total), desc="scoring and writing the report" if done + 1 >= total else f"searching: {label}",
                 unit="searches")

    blank = [gr.update()] * 7
    try:
        progress(0, desc="loading questions")
        out = run_evaluation(current(), upload, modes, report)
    except USER_ERRORS as exc:
        return [f"**{escape_md(str(exc))}**", *blank]
    except Exception:  # noqa: BLE001 - the user sees one line, the log gets the traceback
        log.exception("evaluation failed")
        return ["**The evaluation failed; check the questions file and try again.**", *blank]
    status = (f"Evaluated **{out.questions}** questions from the {escape_md(out.source)} in {out.seconds:.1f} s. "
              "Ranking metrics are over the answerable questions; abstention precision / recall over all.")
    if out.followups:
        c, s = out.followups["contextual"], out.followups["standalone"]
        status += (f"\n\nFollow-ups (hybrid): contextual nDCG@10 {c['ndcg@10']:.3f} vs standalone rewrites "
                   f"{s['ndcg@10']:.3f} (n={c['n']}).")
    if out.declines:
        d = out.declines
        status += (f"\n\nAnswers (hybrid): “not covered” F1 {d['f1']:.3f}; {d['declined_unanswerable']} of "
                   f"{d['unanswerable']} unanswerable questions declined, {d['declined_answerable']} of "
                   f"{d['answerable']} answerable ones.")
    answers = gr.update(value=_frame(out.answers), visible=True) if out.answers else gr.update(visible=False)
    return [status, answers, gr.update(value=_frame(out.overall), visible=True),
            gr.update(value=_frame(out.by_language), visible=True), gr.update(value=_frame(out.by_kind), visible=True),
            gr.update(value=[(str(p), p.stem.replace("_", " ")) for p in out.plots], visible=True),
            gr.update(value=_frame(out.worst), visible=True,
                      label=f"Questions it got most wrong ({out.worst_mode}, worst first)"),
            gr.update(value=[str(p) for p in out.files], visible=True)]


def build_eval_tab(current: Callable[[], object]) -> None:
    """The "Evaluation" tab (call inside `with gr.Tabs()`); `current()` gives the engine in use when a run starts."""
    with gr.Tab("Evaluation", id="evaluation", elem_id="rqa-eval-tab"):
        gr.Markdown("### Evaluation\nThe same evaluation as `python -m qa eval`: answer accuracy (the quotes hold the "
                    "gold answer spans), then hit@1, Recall@k, MRR@10, "
                    "nDCG@10 and “not covered” precision / recall for each retrieval mode, on the bundled questions "
                    f"(`{DEFAULT_QUESTIONS.parent.name}/{DEFAULT_QUESTIONS.name}`) or on a questions file you upload "
                    "(JSON lines: `{\"id\", \"lang\", \"question\", \"relevant\": [¶…], \"kind\", \"history\"}`).")
        with gr.Row():
            upload = gr.File(label="Questions file (.jsonl); leave empty for the bundled set", file_count="single",
                             file_types=[".jsonl", ".json", ".txt"], type="filepath", elem_id="rqa-eval-upload")
            with gr.Column():
                modes = gr.CheckboxGroup(list(MODES), value=list(MODES), label="Retrieval modes",
                                         elem_id="rqa-eval-modes")
                run_btn = gr.Button("Run evaluation", variant="primary", elem_id="rqa-eval-run")
        status = gr.Markdown("Upload a questions file or leave it empty for the bundled set, then **Run evaluation**.",
                             elem_id="rqa-eval-status")
        # The results stay hidden until a run fills them (an empty table would show only column numbers).
        answers = gr.Dataframe(label="Answers: do the quoted sentences hold the fact? (hybrid)", interactive=False,
                               elem_id="rqa-eval-answers", wrap=True, visible=False)
        overall = gr.Dataframe(label="Overall", interactive=False, elem_id="rqa-eval-overall", wrap=True,
                               visible=False)
        by_language = gr.Dataframe(label="By language", interactive=False, elem_id="rqa-eval-language", wrap=True,
                                   visible=False)
        by_kind = gr.Dataframe(label="By kind", interactive=False, elem_id="rqa-eval-kind", wrap=True, visible=False)
        plots = gr.Gallery(label="Plots", columns=2, height="auto", elem_id="rqa-eval-plots", preview=False,
                           allow_preview=True, visible=False)
        worst = gr.Dataframe(label="Questions it got most wrong", interactive=False, elem_id="rqa-eval-worst",
                             wrap=True, visible=False)
        files = gr.File(label="Downloads: metrics.json, report.md, TREC runs, qrels", file_count="multiple",
                        interactive=False, elem_id="rqa-eval-files", visible=False)
        run_btn.click(partial(run_tab, current), [upload, modes],
                      [status, answers, overall, by_language, by_kind, plots, worst, files],
                      api_visibility="private", concurrency_limit=1, concurrency_id="evaluation")
