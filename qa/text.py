"""Text helpers every stage shares: CJK detection, the language of a question or a report, sentence spans,
web addresses.

Sentence spans are computed here and nowhere else: the index stores them with its units, and the
answer stage slices quotes with the same spans, so a quoted sentence is always verbatim.
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["zh", "ar", "ru", "en", "fr", "es"]
LANGUAGES: tuple[Language, ...] = ("ar", "zh", "en", "fr", "ru", "es")

_CJK_RANGES = (
    (0x2E80, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
    (0x20000, 0x2FA1F),
)

URL_RE = re.compile(
    r"(?:(?:https?|ftp)://)?(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?::\d+)?(?:/[^\s，。；、（）()<>\"“”]*)?"
)


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def cjk_share(text: str) -> float:
    """Share of letters that are CJK characters (0 when there are no letters)."""
    letters = [ch for ch in text if ch.isalpha() or is_cjk(ch)]
    return sum(is_cjk(ch) for ch in letters) / len(letters) if letters else 0.0


_WORDS = {
    "en": "the what which who how when where why did does is are was of to in on and for with about report office un".split(),
    "fr": "le la les des du de et est que qui quel quelle quels quelles comment pourquoi où dans sur pour avec au aux rapport haut-commissariat ce cette "
          "un une il elle ils ont eu été fait lieu lien quand combien droits homme".split(),
    "es": "el los las del y que qué quién cómo cuándo dónde por para con en es son fue una informe oficina sobre cuántos cuántas "
          "de la un lo se su sus al hizo ha han hay cuál cuáles países derechos humanos tras más entre trabajo "
          "justicia resolución sociedad equipos respuesta".split(),
}
_ACCENTS = {"fr": set("àâçèéêëîïôùûüœ"), "es": set("áéíñóúü¿¡")}


def detect_language(text: str) -> Language:
    """zh, ar, ru, en, fr or es (the six UN languages) of a question or a report's text; en when nothing else fits."""
    letters = [ch for ch in text if ch.isalpha() or is_cjk(ch)]
    if not letters:
        return "en"
    n = len(letters)
    if sum(is_cjk(ch) for ch in letters) / n > 0.2:
        return "zh"
    if sum("\u0600" <= ch <= "\u06ff" for ch in letters) / n > 0.3:
        return "ar"
    if sum("\u0400" <= ch <= "\u04ff" for ch in letters) / n > 0.3:
        return "ru"
    low = text.lower()
    words = re.findall(r"[a-zàâçèéêëîïôùûüœáíñóú'-]+", low)
    score = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    for lang, accents in _ACCENTS.items():
        score[lang] += 0.5 * sum(ch in accents for ch in low)
    if "¿" in text or "¡" in text:
        score["es"] += 2
    best = max(score, key=score.get)
    return best if score[best] > 0 else "en"


# A sentence ends at 。！？ (CJK), or at . ! ? followed by a space and a capital/quote/digit (Latin).
_END = re.compile(r"[。！？!?]+[”’」』)）]*|(?<![A-Z][a-z])(?<!\b[A-Z])(?<!\bNo)(?<!\bAdd)(?<!\bCorr)(?<!\bpara)(?<!\bparas)(?<!\bNos)(?<!\bRev)(?<!\bpp)(?<!\bp)(?<!\bFig)(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)\.(?=\s+[A-Z“\"'(\d])")


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
