"""Search across language versions against one version alone, on the A/TEST/1 fixture (tests/fixtures/versions.py).

The corpus is the bundled report plus A/TEST/1 in zh, en and fr. For each question (12 per language: en, fr, zh,
and es, which has no version loaded) it searches (a) the Chinese version alone, (b) the reader's version alone
where one is loaded, and (c) every loaded version, with hits on the same ¶ fused (`fuse_versions`, what
`ChatSession.ask` does), and scores the ¶ number of the hits: hit@1 and MRR@5. Then it asks each question through
`ChatSession` (every version) and counts answers whose first quote is the gold ¶ in the reader's language.

    python -m bench.versions_search [--mode hybrid] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from qa.answer.chat import ChatSession
from qa.answer.versions import fuse_versions
from qa.engine import load_engine
from qa.ingest import load_corpus
from qa.ingest.files import load_document
from qa.retrieval.index import IndexHome
from qa.types import Corpus
from tests.fixtures.versions import LANGUAGES, QUESTIONS, build_versions

DEPTH = 5


def _scores(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {"hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "mrr@5": round(sum(1 / r for r in ranks if r) / n, 3), "n": n}


def _rank(hits, gold: int) -> int | None:
    ns = []
    for h in hits:
        if h.paragraph not in ns:
            ns.append(h.paragraph)
    return ns.index(gold) + 1 if gold in ns[:DEPTH] else None


def measure(mode: str = "hybrid", out_dir: Path | None = None) -> dict:
    files = build_versions(out_dir or Path(tempfile.gettempdir()) / "report-qa-version-fixtures")
    docs = []
    for lang in LANGUAGES:
        d = load_document(files[f"{lang}_docx"])
        d.id = f"A-TEST-1-{lang}"
        docs.append(d)
    corpus = Corpus(load_corpus().documents + docs)
    engine = load_engine(corpus, home=IndexHome.resolve(), quiet=True)
    ids = {d.language: d.id for d in docs}
    every = list(ids.values())
    out: dict = {"mode": mode, "depth": DEPTH, "languages": {}}
    for lang in ("en", "fr", "zh", "es"):
        ranks: dict[str, list] = {"zh_version": [], "reader_version": [], "every_version": []}
        answered = 0
        for gold, texts in QUESTIONS:
            q = texts[lang]
            search = engine.retriever.search
            ranks["zh_version"].append(_rank(search(q, mode=mode, top_k=10, docs=[ids["zh"]]).hits, gold))
            if lang in ids:
                ranks["reader_version"].append(_rank(search(q, mode=mode, top_k=10, docs=[ids[lang]]).hits, gold))
            fused = fuse_versions(search(q, mode=mode, top_k=30, docs=every), corpus)
            ranks["every_version"].append(_rank(fused.hits, gold))
            ans = ChatSession(engine, mode, docs=every).ask(q)
            first = ans.quotes[0] if ans.quotes and ans.covered else None
            want = ids.get(lang, ids["zh"])
            answered += bool(first and first.paragraph == gold and first.doc == want)
        out["languages"][lang] = {k: _scores(v) for k, v in ranks.items() if v} | {
            "answer_first_quote_gold_in_reader_version": round(answered / len(QUESTIONS), 3)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="hybrid", choices=["dense", "lexical", "hybrid"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = measure(args.mode)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return 0
    print(f"A/TEST/1, {len(QUESTIONS)} questions per language, mode {res['mode']}, ¶ rank within the top {DEPTH}")
    print(f"{'reader':6} {'searched':16} {'hit@1':>6} {'MRR@5':>6}")
    for lang, r in res["languages"].items():
        for k in ("zh_version", "reader_version", "every_version"):
            if k in r:
                print(f"{lang:6} {k:16} {r[k]['hit@1']:6.3f} {r[k]['mrr@5']:6.3f}")
        print(f"{lang:6} {'answer (every)':16} first quote = gold ¶ in the reader's version: "
              f"{r['answer_first_quote_gold_in_reader_version']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
