"""Which language a question is in: decides fusion weights (script) and UI labels (language)."""

from __future__ import annotations

import re

from qa.corpus import is_cjk

_WORDS = {
    "en": "the what which who how when where why did does is are was of to in on and for with about report office".split(),
    "fr": "le la les des du de et est que qui quel quelle quels quelles comment pourquoi où dans sur pour avec au aux rapport haut-commissariat ce cette".split(),
    "es": "el los las del y que qué quién cómo cuándo dónde por para con en es son fue una informe oficina sobre cuántos cuántas".split(),
}
_ACCENTS = {"fr": set("àâçèéêëîïôùûüœ"), "es": set("áéíñóúü¿¡")}


def detect_language(text: str) -> str:
    """zh, ar, ru, en, fr or es (the six UN languages); en when nothing else fits."""
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
