"""`python -m qa VERB …` / `report-qa VERB …`: a CLI of verbs that mirrors the public API.

Every verb takes `--json`. User mistakes print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from qa.errors import UserError


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None) + "\n")


def cmd_corpus(args: argparse.Namespace) -> int:
    from qa.corpus import load_corpus

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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
