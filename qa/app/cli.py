"""`python -m qa VERB …` / `report-qa VERB …`: a CLI of verbs that mirrors the public API.

Every verb takes `--json`; `ask`, `chat` and `search` print the JSON of `qa.answer.payload`, the same as the
app's `/chat` API and the MCP tools. User mistakes print one line on stderr and exit with code 2. The options
shared with `python app.py` and the environment variables are in `qa.app.options`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from embeddings.stores import open_store
from qa.answer.chat import ChatSession
from qa.answer.guard import clean_question
from qa.answer.llm import attach_llm
from qa.answer.payload import answer_json, hit_sentences, search_json
from qa.app.options import ENVIRONMENT, llm_config, llm_options, positive, serve_options, store_option
from qa.app.serve.auth import hash_password_main
from qa.app.ui.render import answer_text
from qa.engine import build_served_index, load_engine, load_served_engine, search_summary
from qa.errors import USER_ERRORS, UserError
from qa.evaluation.evalset import load_questions
from qa.evaluation.evaluate import compact, evaluate, write_report
from qa.evaluation.tune import tune
from qa.ingest import load_corpus  # .txt, .pdf and .docx alike
from qa.ingest.library import Library, load_corpus_with_library, version_warnings, versions
from qa.ingest.versions import align, symbol_key
from qa.retrieval.fusion import CONFIG_PATH
from qa.retrieval.index import configure_logging
from qa.retrieval.served_engine import served_store
from qa.types import MODES


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None) + "\n")


def cmd_corpus(args: argparse.Namespace) -> int:
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


def _engine(args: argparse.Namespace, quiet: bool = False, *, rebuild: bool = False, library: bool = True):
    configure_logging()
    open_store(getattr(args, "store", None))  # a bad --store fails here, before the models load
    paths = getattr(args, "paths", None) or None
    if getattr(args, "store", None) and not rebuild and not paths:  # a served collection: no corpus is loaded
        served = served_store(args.store)
        if served is not None:
            return load_served_engine(served, model=getattr(args, "model", None),
                                      candidates=getattr(args, "candidates", None))
    # With no PATH the corpus is the bundled report plus the reports added with `qa add`.
    corpus = load_corpus_with_library() if library and not paths else load_corpus(paths)
    return load_engine(corpus, model=getattr(args, "model", None), quiet=quiet, rebuild=rebuild,
                       store_uri=getattr(args, "store", None), candidates=getattr(args, "candidates", None))


def _build_served(args: argparse.Namespace, quiet: bool) -> dict:
    """The served collection of the corpus (the bundled report and the library, or PATHs) in --store's Milvus."""
    configure_logging()
    paths = getattr(args, "paths", None) or None
    corpus = load_corpus(paths) if paths else load_corpus_with_library()
    return build_served_index(corpus, args.store, model=getattr(args, "model", None), quiet=quiet)


def cmd_index(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if getattr(args, "served", False):
        if not args.store:
            raise UserError("--served needs --store PATH.db or milvus://HOST:PORT")
        report = _build_served(args, quiet=args.json)
        if args.json:
            _print_json(report)
        else:
            print(f"served collection {report['path']}: {report['units']} units, {report['paragraphs']} paragraphs"
                  f"{' (e5 + USE)' if report['use'] else ' (e5)'} in {report['seconds']:.1f} s")
        return 0
    engine = _engine(args, quiet=args.json, rebuild=args.rebuild)
    corpus, reports = engine.corpus, engine.index_reports
    total = time.perf_counter() - t0
    summary = {
        "documents": len(corpus.documents),
        "paragraphs": sum(len(d.paragraphs) for d in corpus.documents),
        "footnotes": sum(len(d.footnotes) for d in corpus.documents),
        "indexes": reports, "search": engine.retriever.depth(), "seconds": round(total, 2),
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
    print(f"search: {search_summary(summary['search'])}")
    print(f"total {total:.1f} s")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    query, notice = clean_question(args.question)
    engine = _engine(args, quiet=args.json)
    res = engine.retriever.search(query, mode=args.mode, top_k=args.top_k)
    if args.json:
        _print_json(search_json(res, engine.corpus, notice))
        return 0
    if notice:
        print(notice)
    print(f"{res.mode} search ({res.language}), {res.timings_ms.get('total', 0):.0f} ms"
          + ("  — low confidence: the report may not cover this" if res.abstained else ""))
    for h in res.hits:
        sentences, section = hit_sentences(engine.corpus, h)
        best = " ".join(sentences) or engine.corpus.document(h.doc).paragraph(h.paragraph).text[:80]
        sig = ", ".join(f"{k}={v:.3f}" for k, v in h.signals.items())
        fns = f"  fn {', '.join(map(str, h.footnotes))}" if h.footnotes else ""
        print(f"{h.rank:>2}. {h.doc} ¶{h.paragraph}  score {h.score:.3f}  ({sig}){fns}")
        print(f"    {' › '.join(section)}")
        print(f"    {best[:160]}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    questions = load_questions(args.questions)
    if args.limit:
        questions = questions[: args.limit]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise UserError(f"unknown mode(s) {', '.join(bad) or '(none)'}; choose from {', '.join(MODES)}")
    engine = _engine(args, quiet=args.json, library=False)  # the question set is about the bundled report
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
    if args.write and not args.out:  # before any model loads
        raise UserError(f"--write needs --out FILE: the weights in use, {CONFIG_PATH}, are package data; to replace "
                        "them in a source checkout, give --out qa/retrieval/fusion.json")
    out = Path(args.out) if args.out else None
    questions = load_questions(args.questions)
    engine = _engine(args, quiet=True, library=False)
    if not hasattr(engine.retriever, "signals"):  # a served collection: tuning reads the local engine's signals
        raise UserError("qa tune needs the local engine's signals: run it without a --store holding a served collection")
    raw = [vars(q) for q in questions]
    cfg, summary = tune(engine.retriever, raw, folds=args.folds, log=(lambda *_: None) if args.json else print)
    if out is not None:
        cfg.save(out, report={"questions": str(args.questions or "eval/questions.jsonl"), **summary})
    if args.json:
        _print_json(summary | ({"written": str(out)} if out is not None else {}))
    elif out is not None:
        print(f"wrote {out}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    clean_question(args.question)  # a bad question fails fast, before any model loads
    llm = llm_config(args)  # the optional LLM answer (qa/answer/llm.py); None: off, nothing touches the network
    engine = _engine(args, quiet=args.json)
    ans = attach_llm(ChatSession(engine, args.mode, args.top_k).ask(args.question), llm)
    if args.json:
        _print_json(answer_json(ans))
    else:
        print(answer_text(ans))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    llm = llm_config(args)
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
            ans = attach_llm(session.ask(line), llm)
        except USER_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        if args.json:
            _print_json(answer_json(ans))
        else:
            print(answer_text(ans) + "\n")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    if len(args.files) > 1 and (args.symbol or args.title or args.language):
        raise UserError("--symbol, --title and --language describe one report; add files one at a time with them")
    library = Library(max_bytes=int(args.max_mb * 2**20))
    quiet = args.json

    def progress(fraction: float, message: str) -> None:
        if not quiet:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    results = [library.add(f, symbol=args.symbol, title=args.title, language=args.language, progress=progress)
               for f in args.files]
    out: dict = {"library": str(library.root), "added": [r.summary() for r in results]}
    if not args.json:   # the parse summary and its warnings come before the report joins the index
        for r in results:
            s = r.summary()
            verb_ = "added" if r.added else "unchanged"
            print(f"{verb_} {s['id']}  [{s['language']}] {s['symbol'] or '(no symbol)'}  {s['title'][:70]}")
            print(f"  {s['paragraphs']} paragraphs, {s['footnotes']} footnotes from {s['source']} ({s['format']}) "
                  f"in {s['seconds']:.1f} s")
            for w in s["warnings"] + s["notes"]:
                print(f"  note: {w}", flush=True)
    index_reports: list[dict] = []
    served = bool(getattr(args, "store", None)) and open_store(args.store).backend == "milvus"
    if served and not args.no_index and any(r.added for r in results):  # the served collection, rebuilt
        index_reports = [_build_served(args, quiet=quiet)]
        out["index"] = index_reports
    elif not args.no_index and any(r.added for r in results):
        engine = _engine(args, quiet=quiet)   # only the new reports' texts are embedded (content-hash cache)
        index_reports = engine.index_reports
        out["index"] = index_reports
        out["version_warnings"] = version_warnings(engine.corpus)
    if args.json:
        _print_json(out)
        return 0
    for rep in index_reports:
        print(f"  index {rep['model']}: {rep['units']} units, {rep.get('embedded', 0)} embedded, "
              f"{rep.get('reused', 0)} reused from cache, {rep['seconds']:.1f} s")
    for w in out.get("version_warnings", []):
        print(f"  warning: {w}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    library = Library()
    items = library.entries()
    groups = _version_groups(items)
    if args.json:
        _print_json({"library": str(library.root), "documents": [e.to_json() for e in items],
                     "versions": [{"symbol": sym, "documents": ids} for sym, ids in groups.items() if len(ids) > 1]})
        return 0
    if not items:
        print(f"the library is empty ({library.root}); add reports with: python -m qa add FILE.pdf")
        return 0
    print(f"{len(items)} report(s) in {library.root}")
    by_id = {e.id: e for e in items}
    for sym, ids in groups.items():
        rows = [by_id[i] for i in ids if i in by_id]
        if len(ids) > 1:  # the language versions of one report, together
            langs = ", ".join(by_id[i].language if i in by_id else f"{i.split()[-1]} bundled" for i in ids)
            print(f"  {sym}: {len(ids)} language versions ({langs}); the alignment check: qa versions {sym}")
        for e in rows:
            print(f"  {'  ' if len(ids) > 1 else ''}{e.id:<24} {e.symbol or '-':<14} {e.language:<3} {e.paragraphs:>4} ¶ "
                  f"{e.footnotes:>3} fn  {e.format:<4} {e.added[:10]}  {e.title[:60]}")
    return 0


def _version_groups(items: list) -> dict[str, list[str]]:
    """Library entries by symbol (an entry without one alone), in order; a bundled report with the same symbol is
    named "bundled <language>" among its versions."""
    groups: dict[str, list[str]] = {}
    for e in items:
        groups.setdefault(symbol_key(e.symbol) if e.symbol else f"\0{e.id}", []).append(e.id)
    bundled = [d for d in load_corpus().documents if d.meta.get("symbol")]
    out: dict[str, list[str]] = {}
    for key, ids in groups.items():
        sym = key[1:] if key.startswith("\0") else next(e.symbol for e in items if e.id == ids[0])
        twins = [f"bundled {d.language}" for d in bundled if not key.startswith("\0")
                 and symbol_key(d.meta["symbol"]) == key]
        out[sym] = twins + ids
    return out


def cmd_versions(args: argparse.Namespace) -> int:
    corpus = load_corpus_with_library()
    docs = versions(args.symbol, corpus)
    if not docs:
        known = sorted({d.meta["symbol"] for d in corpus.documents if d.meta.get("symbol")})
        raise UserError(f"no loaded report has the symbol {args.symbol!r} (known: {', '.join(known) or 'none'})")
    result = align(docs)
    if args.json:
        _print_json(result.to_json())
        return 0
    if len(docs) == 1:
        print(f"{args.symbol}: one version loaded ({docs[0].language}, {docs[0].id}); add another with "
              f"qa add FILE --symbol {docs[0].meta['symbol']} --language LANG")
        return 0
    print("\n".join(result.lines()))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    entry = Library().remove(args.id)
    if args.json:
        _print_json({"removed": entry.to_json()})
    else:
        print(f"removed {entry.id} ({entry.symbol or entry.source}, {entry.language})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.app.serve.launch import serve  # here: Gradio takes ~3 s to import, and only `serve` needs it

    return serve(args)


def cmd_hash_password(args: argparse.Namespace) -> int:
    return hash_password_main(args.user, args.scheme)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="report-qa", description=__doc__.splitlines()[0], epilog=ENVIRONMENT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
        p.set_defaults(func=fn)
        return p

    p = verb("corpus", cmd_corpus, "parse report texts into paragraphs, footnotes and sections")
    p.add_argument("paths", nargs="*", metavar="PATH", help="report files, .txt/.pdf/.docx (default: the bundled report)")

    p = verb("add", cmd_add, "add PDF, Word or text reports to the library and index them (only new text is embedded)")
    p.add_argument("files", nargs="+", metavar="FILE", help=".pdf, .docx or .txt report")
    p.add_argument("--symbol", help="UN document symbol, e.g. A/75/36 (default: found in the page headers)")
    p.add_argument("--title", help="report title (default: from the first page / document properties)")
    p.add_argument("--language", help="language code, e.g. en, zh (default: detected)")
    p.add_argument("--no-index", action="store_true", help="only store the report; index on the next run")
    p.add_argument("--max-mb", type=float, default=50.0, metavar="MB", help="size limit per file (default 50)")
    p.add_argument("--model", metavar="M", help="sentence-transformers model name or local path (default: e5-small)")
    p.add_argument("--store", metavar="URI", default=os.environ.get("REPORT_QA_STORE"),
                   help="a Milvus store (PATH.db or milvus://HOST:PORT): (re)build its served collection of the "
                   "bundled report and the library, which `search`, `ask`, `chat` and `serve` with the same --store "
                   "then use (default: $REPORT_QA_STORE, else FAISS files in the cache)")

    p = verb("list", cmd_list, "list the reports in the library")

    p = verb("versions", cmd_versions, "align the language versions of one report by ¶ and footnote number and check "
                                       "them (numbers, dates, footnote markers and web addresses)")
    p.add_argument("symbol", metavar="SYMBOL", help="the report's UN symbol, e.g. A/75/36")

    p = verb("remove", cmd_remove, "remove a report from the library")
    p.add_argument("id", metavar="ID", help="report id as shown by qa list")

    def corpus_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", dest="paths", action="append", metavar="PATH",
                       help="report text file (repeatable; default: the bundled report)")
        p.add_argument("--model", metavar="M", help="sentence-transformers model name or local path (default: e5-small)")
        store_option(p)

    p = verb("index", cmd_index, "build (or verify) the vector indexes, with progress")
    p.add_argument("paths", nargs="*", metavar="PATH", help="report text files (default: the bundled report)")
    p.add_argument("--model", metavar="M", help="sentence-transformers model name or local path (default: e5-small)")
    p.add_argument("--rebuild", action="store_true", help="rebuild even when a valid index exists")
    p.add_argument("--served", action="store_true", help="with a Milvus --store: build its served collection (every "
                   "unit kind, e5 and USE, BM25 in Milvus), which the other verbs with that --store then search "
                   "without loading the corpus")
    store_option(p)

    p = verb("search", cmd_search, "ranked paragraphs for a question, with per-signal scores")
    p.add_argument("question")
    p.add_argument("--mode", default="hybrid", choices=MODES)
    p.add_argument("--top-k", type=positive, default=5, metavar="K")
    corpus_opts(p)

    p = verb("ask", cmd_ask, "answer a question with verbatim quotes and exact ¶ / footnote citations")
    p.add_argument("question")
    p.add_argument("--mode", default="hybrid", choices=MODES)
    p.add_argument("--top-k", type=positive, default=3, metavar="K", help="paragraphs to show")
    corpus_opts(p)
    llm_options(p)

    p = verb("chat", cmd_chat, "interactive terminal chat that keeps the conversation (follow-ups work)")
    p.add_argument("--mode", default="hybrid", choices=MODES)
    p.add_argument("--top-k", type=positive, default=3, metavar="K")
    corpus_opts(p)
    llm_options(p)

    p = verb("serve", cmd_serve, "start the Gradio chat app (same as python app.py)")
    p.epilog, p.formatter_class = ENVIRONMENT, argparse.RawDescriptionHelpFormatter
    serve_options(p)

    p = verb("hash-password", cmd_hash_password, "print USER:HASH (bcrypt) for --auth-file; reads the password "
             "from the terminal, or one line of stdin")
    p.add_argument("user", nargs="?", help="the account name to put before the hash")
    p.add_argument("--scheme", choices=("bcrypt", "argon2"), default="bcrypt")

    p = verb("eval", cmd_eval, "evaluate retrieval modes on a question set; writes report, metrics, TREC runs, plots")
    p.add_argument("--questions", metavar="FILE", help="JSON-lines questions (default: eval/questions.jsonl)")
    p.add_argument("--modes", default="dense,lexical,hybrid", metavar="M1,M2")
    p.add_argument("--out", default="eval/results", metavar="DIR")
    p.add_argument("--limit", type=positive, metavar="N", help="only the first N questions")
    corpus_opts(p)

    p = verb("tune", cmd_tune, "choose fusion weights and abstention thresholds by k-fold cross-validation")
    p.add_argument("--questions", metavar="FILE")
    p.add_argument("--folds", type=positive, default=5, metavar="K", help="cross-validation folds (default 5)")
    p.add_argument("--write", action="store_true", help="save the tuned weights (to --out FILE)")
    p.add_argument("--out", metavar="FILE", help="where to save the tuned weights (fusion.json's format; implies "
                   "--write); the bundled ones are qa/retrieval/fusion.json")
    corpus_opts(p)
    return parser


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
