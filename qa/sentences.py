"""Sentence spans that cover a paragraph exactly, so a quoted sentence is always verbatim."""

from __future__ import annotations

import re

# A sentence ends at 。！？ (CJK), or at . ! ? followed by a space and a capital/quote/digit (Latin).
_END = re.compile(r"[。！？!?]+[”’」』)）]*|(?<![A-Z][a-z])(?<!\b[A-Z])(?<!\bNo)(?<!\bAdd)(?<!\bCorr)(?<!\bpara)(?<!\bRev)\.(?=\s+[A-Z“\"'(\d])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence; stripped of surrounding spaces, never empty."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
