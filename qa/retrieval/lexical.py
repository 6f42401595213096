"""Lexical retrieval that handles Chinese: jieba words + CJK character bigrams + Latin/number tokens, scored by bm25s.

Latin tokens matter even against a Chinese report: document symbols (A/HRC/43/3), resolution
numbers (43/1), COVID-19, years and counts are written the same in every language.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

import jieba
import numpy as np

from qa.text import is_cjk
from qa.types import Corpus

_STOP = set("的 了 和 与 及 在 是 为 对 以 并 等 其 之 或 由 于 将 把 被 也 就 都 而 中 上 下 个 这 那 哪 些 什么 如何 怎样 哪些 是否 多少 吗 呢 吧 啊 做 有 办事处 人权高专办".split())
_LATIN_STOP = set(
    "the a an of to in on and or for with by at from is are was were be been what which who whom how when where why did do does "
    "has have had that this these those it its as about into than then there their they them he she his her our we you your "
    "le la les des du de d l et ou un une en au aux pour par sur dans qui que quoi quel quelle quels quelles est sont a été "
    "el los las del y o un una por para con en que qué cuál cuáles cómo cuántos cuántas es son fue se lo al".split()
)
_TOKEN = re.compile(r"[A-Za-z]+(?:[/.-][A-Za-z0-9]+)*|\d+(?:[/.-]\d+)*(?:\([0-9]{4}\))?|[\u3400-\u9fff\uf900-\ufaff]+")

jieba.setLogLevel(logging.WARNING)  # not its "Building prefix dict" lines on the first Chinese text


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: jieba search-mode words and character bigrams for CJK; lowercased Latin and numbers."""
    out: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if is_cjk(tok[0]):
            for w in jieba.cut_for_search(tok):
                if w not in _STOP and len(w) > 1:
                    out.append(w)
            out.extend(f"§{tok[i:i + 2]}" for i in range(len(tok) - 1) if tok[i:i + 2] not in _STOP)
        else:
            low = tok.lower()
            if low not in _LATIN_STOP and (len(low) > 1 or low.isdigit()):
                out.append(low)
    return out


@dataclass
class LexicalIndex:
    """BM25 over paragraphs (heading + text + footnotes) and, separately, over footnotes."""

    keys: list[tuple[str, int]]
    footnote_keys: list[tuple[str, int, int]]
    bm25: object
    bm25_fn: object | None
    doc_freq: Counter = field(default_factory=Counter)  # paragraphs each token occurs in (for feedback terms)

    @classmethod
    def build(cls, corpus: Corpus) -> LexicalIndex:
        import bm25s  # ~0.4 s to import: only where an index is built, not at every start-up

        keys, docs, fkeys, fdocs = [], [], [], []
        for doc in corpus.documents:
            fn_text = {f.n: f.text for f in doc.footnotes}
            for p in doc.paragraphs:
                keys.append((doc.id, p.n))
                extra = " ".join(fn_text.get(n, "") for n in p.footnotes)
                docs.append(tokenize(" ".join(p.section[1:]) + " " + p.text + " " + extra) or ["∅"])
            for f in doc.footnotes:
                if f.paragraph is not None:
                    fkeys.append((doc.id, f.paragraph, f.n))
                    fdocs.append(tokenize(f.text) or ["∅"])
        doc_freq: Counter = Counter()
        for toks in docs:
            doc_freq.update(set(toks))
        bm25 = bm25s.BM25()
        bm25.index(docs, show_progress=False)
        bm25_fn = None
        if fdocs:
            bm25_fn = bm25s.BM25()
            bm25_fn.index(fdocs, show_progress=False)
        return cls(keys, fkeys, bm25, bm25_fn, doc_freq)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        return _bm25_scores(self.bm25, query_tokens, len(self.keys))

    def footnote_scores(self, query_tokens: list[str]) -> np.ndarray:
        if self.bm25_fn is None:
            return np.zeros(len(self.footnote_keys), dtype=np.float32)
        return _bm25_scores(self.bm25_fn, query_tokens, len(self.footnote_keys))


def _bm25_scores(bm25, query_tokens: list[str], n: int) -> np.ndarray:
    """`bm25.get_scores(query_tokens)` from bm25s' own precomputed matrix: the query's token counts times the
    matrix rows of its tokens, one sparse product (scipy) in one pass over their postings. On 10⁵ paragraphs
    (311 questions and bridge queries): 0.86 ms, against 3.1 ms adding the postings token by token and 1.2 ms for
    bm25s' `get_scores` (tests/retrieval/test_retriever.py checks they agree)."""
    ids = [bm25.vocab_dict[t] for t in query_tokens if t in bm25.vocab_dict]
    if not ids:
        return np.zeros(n, dtype=np.float32)
    matrix = bm25.__dict__.get("_report_qa_csr")
    if matrix is None:
        import scipy.sparse  # ~0.2 s to import: at the first query, not at every start-up

        m = bm25.scores
        matrix = scipy.sparse.csr_matrix((m["data"], m["indices"], m["indptr"]), shape=(len(m["indptr"]) - 1, n))
        bm25.__dict__["_report_qa_csr"] = matrix  # kept with the index: built once, in O(1) (no copy)
    tokens, counts = np.unique(ids, return_counts=True)  # repeated tokens count again, as in bm25s
    out = np.asarray(matrix[tokens].T @ counts.astype(np.float32), dtype=np.float32).ravel()
    extra = getattr(bm25, "nonoccurrence_array", None)  # BM25L/BM25+ only; the default (Lucene) has none
    if extra is not None:
        out += extra[np.asarray(ids)].sum()
    return out
