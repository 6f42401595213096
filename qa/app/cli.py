"""`python -m qa VERB …` / `report-qa VERB …`: a CLI of verbs that mirrors the public API.

Every verb takes `--json`. User mistakes print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from qa.errors import USER_ERRORS, UserError
from qa.types import MODES


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None) + "\n")


def cmd_corpus(args: argparse.Namespace) -> int:
    from qa.ingest.txt import load_corpus

    corpus = load_corpus(args.paths or None)
    if args.json:
        _print_json(corpus.to_json())
        return 0
    for doc in corpus.documents:
        print(f"{doc.id}  [{doc.language}]  {doc.title}")
        print(f"  {len(doc.paragraphs)} paragraphs (¶{doc.paragraphs[0].n}–¶{doc.paragraphs[-1].n}), "
              f"{len(doc.footnotes)} footnotes, "
              f"{sum(len(f.urls) for f in doc.footnotes)} footnote links")
        seen: list[tuple[str, ...]] = []
        for p in doc.paragraphs:
            for depth in range(1, len(p.section) + 1):
                key = tuple(p.section[:depth])
                if key not in seen:
                    seen.append(key)
                    first = p.n
                    count = sum(1 for q in doc.paragraphs if tuple(q.section[:depth]) == key)
                    print(f"  {'  ' * depth}{key[-1]}  (¶{first}, {count} ¶)")
        for w in doc.warnings:
            print(f"  warning: {w}")
    return 0


def _engine(args: argparse.Namespace, quiet: bool = False, *, rebuild: bool = False):
    from qa.engine import load_engine
    from qa.ingest.txt import load_corpus
    from qa.retrieval.index import configure_logging

    configure_logging()
    corpus = load_corpus(getattr(args, "paths", None) or None)
    return load_engine(corpus, model=getattr(args, "model", None), quiet=quiet, rebuild=rebuild)


def _best_sentences(corpus, hit) -> tuple[list[str], list[str]]:
    """A hit's best-matching sentences (verbatim) and its paragraph's section path."""
    p = corpus.document(hit.doc).paragraph(hit.paragraph)
    return [p.sentence(i) for i in hit.sentences if i < len(p.spans)], p.section


def cmd_index(args: argparse.Namespace) -> int:
    import time

    t0 = time.perf_counter()
    engine = _engine(args, quiet=args.json, rebuild=args.rebuild)
    corpus, reports = engine.corpus, engine.index_reports
    total = time.perf_counter() - t0
    summary = {
        "documents": len(corpus.documents),
        "paragraphs": sum(len(d.paragraphs) for d in corpus.documents),
        "footnotes": sum(len(d.footnotes) for d in corpus.documents),
        "indexes": reports, "seconds": round(total, 2),
    }
    if args.json:
        _print_json(summary)
        return 0
    print(f"{summary['documents']} document(s), {summary['paragraphs']} paragraphs, {summary['footnotes']} footnotes")
    for r in reports:
        how = "loaded" if r.get("loaded") else f"built ({r.get('embedded', 0)} embedded, {r.get('reused', 0)} reused from cache)"
        print(f"  {r['model']}: {r['units']} units {how} in {r['seconds']:.1f} s -> {r['path'] or '(memory only)'}")
        if r.get("rebuilt_because") and "no index" not in r["rebuilt_because"]:
            print(f"    rebuilt because: {r['rebuilt_because']}")
    print(f"total {total:.1f} s")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from qa.answer.guard import clean_question

    query, notice = clean_question(args.question)
    engine = _engine(args, quiet=args.json)
    res = engine.retriever.search(query, mode=args.mode, top_k=args.top_k)
    if args.json:
        data = res.to_json()
        if notice:
            data["notice"] = notice
        for h, hit in zip(data["hits"], res.hits, strict=True):
            h["best_sentences"], h["section"] = _best_sentences(engine.corpus, hit)
        _print_json(data)
        return 0
    if notice:
        print(notice)
    print(f"{res.mode} search ({res.language}), {res.timings_ms.get('total', 0):.0f} ms"
          + ("  — low confidence: the report may not cover this" if res.abstained else ""))
    for h in res.hits:
        sentences, section = _best_sentences(engine.corpus, h)
        best = " ".join(sentences) or engine.corpus.document(h.doc).paragraph(h.paragraph).text[:80]
        sig = ", ".join(f"{k}={v:.3f}" for k, v in h.signals.items())
        fns = f"  fn {', '.join(map(str, h.footnotes))}" if h.footnotes else ""
        print(f"{h.rank:>2}. {h.doc} ¶{h.paragraph}  score {h.score:.3f}  ({sig}){fns}")
        print(f"    {' › '.join(section)}")
        print(f"    {best[:160]}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qa.evaluation.evalset import load_questions
    from qa.evaluation.evaluate import compact, evaluate, write_report

    questions = load_questions(args.questions)
    if args.limit:
        questions = questions[: args.limit]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise UserError(f"unknown mode(s) {', '.join(bad) or '(none)'}; choose from {', '.join(MODES)}")
    engine = _engine(args, quiet=args.json)
    results = evaluate(engine.retriever, questions, modes)
    doc_id = engine.corpus.documents[0].id
    written = write_report(results, Path(args.out), doc_id=doc_id, questions=questions)
    if args.json:
        _print_json({k: v for k, v in results.items() if k != "runs"} | {"written": [str(p) for p in written]})
        return 0
    print(compact(results))
    if "followups" in results:
        f = results["followups"]
        print(f"\nfollow-ups: contextual nDCG@10 {f['contextual']['ndcg@10']:.3f} vs standalone {f['standalone']['ndcg@10']:.3f}")
    for m, r in results["modes"].items():
        a = r["abstention"]
        print(f"abstention ({m}): precision {a['precision']:.2f}, recall {a['recall']:.2f}")
    print(f"\nwrote {len(written)} files to {args.out}: " + ", ".join(p.name for p in written))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from qa.evaluation.evalset import load_questions
    from qa.retrieval.retriever import CONFIG_PATH
    from qa.retrieval.tune import tune

    questions = load_questions(args.questions)
    engine = _engine(args, quiet=True)
    raw = [vars(q) for q in questions]
    cfg, summary = tune(engine.retriever, raw, log=(lambda *_: None) if args.json else print)
    if args.write:
        cfg.save(CONFIG_PATH, extra={"questions": str(args.questions or "eval/questions.jsonl"), **summary})
    if args.json:
        _print_json(summary)
    elif args.write:
        print(f"wrote {CONFIG_PATH}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.answer.chat import ChatSession
    from qa.answer.guard import clean_question
    from qa.app.render import answer_text

    clean_question(args.question)  # a bad question fails fast, before any model loads
    engine = _engine(args, quiet=args.json)
    ans = ChatSession(engine, args.mode, args.top_k).ask(args.question)
    if args.json:
        _print_json(ans.to_json())
    else:
        print(answer_text(ans))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from qa.answer.chat import ChatSession
    from qa.app.render import answer_text

    engine = _engine(args, quiet=args.json)
    session = ChatSession(engine, args.mode, args.top_k)
    interactive = sys.stdin.isatty()
    if interactive:
        print("report-qa chat: ask about the report; Ctrl-D or 'exit' to leave.")
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        if line.strip().lower() in ("exit", "quit", ":q"):
            break
        try:
            ans = session.ask(line)
        except USER_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        if args.json:
            _print_json(ans.to_json())
        else:
            print(answer_text(ans) + "\n")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.app.webapp import serve

    return serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="report-qa", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        p.set_defaults(func=fn)
        return p

    p = verb("corpus", cmd_corpus, "parse report texts into paragraphs, footnotes and sections")
    p.add_argument("paths", nargs="*", metavar="PATH", help="report text files (default: the bundled report)")

    def corpus_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", dest="paths", action="append", metavar="PATH",
                       help="report text file (repeatable; default: the bundled report)")
        p.add_argument("--model", metavar="M", help="sentence-transformers model name or local path (default: e5-small)")

    p = verb("index", cmd_index, "build (or verify) the vector indexes, with progress")
    p.add_argument("paths", nargs="*", metavar="PATH", help="report text files (default: the bundled report)")
    p.add_argument("--model", metavar="M", help="sentence-transformers model name or local path (default: e5-small)")
    p.add_argument("--rebuild", action="store_true", help="rebuild even when a valid index exists")

    p = verb("search", cmd_search, "ranked paragraphs for a question, with per-signal scores")
    p.add_argument("question")
    p.add_argument("--mode", default="hybrid", choices=MODES)
    p.add_argument("--top-k", type=_positive, default=5, metavar="K")
    corpus_opts(p)

    p = verb("ask", cmd_ask, "answer a question with verbatim quotes and exact ¶ / footnote citations")
    p.add_argument("question")
    p.add_argument("--mode", default="hybrid", choices=MODES)
    p.add_argument("--top-k", type=_positive, default=3, metavar="K", help="paragraphs to show")
    corpus_opts(p)

    p = verb("chat", cmd_chat, "interactive terminal chat that keeps the conversation (follow-ups work)")
    p.add_argument("--mode", default="hybrid", choices=MODES)
    p.add_argument("--top-k", type=_positive, default=3, metavar="K")
    corpus_opts(p)

    p = verb("serve", cmd_serve, "start the Gradio chat app (same as python app.py)")
    serve_options(p)

    p = verb("eval", cmd_eval, "evaluate retrieval modes on a question set; writes report, metrics, TREC runs, plots")
    p.add_argument("--questions", metavar="FILE", help="JSON-lines questions (default: eval/questions.jsonl)")
    p.add_argument("--modes", default="dense,lexical,hybrid", metavar="M1,M2")
    p.add_argument("--out", default="eval/results", metavar="DIR")
    p.add_argument("--limit", type=_positive, metavar="N", help="only the first N questions")
    corpus_opts(p)

    p = verb("tune", cmd_tune, "grid-search fusion weights and the abstention margin on a question set")
    p.add_argument("--questions", metavar="FILE")
    p.add_argument("--write", action="store_true", help="save the tuned weights to qa/fusion.json")
    corpus_opts(p)
    return parser


def serve_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of `report-qa serve` and `python app.py` (one parser for both)."""
    import os

    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--model", default=None, help="sentence-transformers model name or path (default: e5-small)")
    p.add_argument("--corpus", dest="paths", action="append", metavar="PATH",
                   help="report text file (repeatable; default: the bundled report)")
    return p


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1 or v > 1000:
        raise argparse.ArgumentTypeError("give a number from 1 to 1000")
    return v


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
