"""Links into the app: `?p=25`, `#p25`, `?p=25&lang=fr` open that paragraph's card in the evidence panel, in the
reader's language (`lang=`, else the browser's first UN language, else English): its labels and, when that
language version of the report is loaded, its text, with the original behind a toggle."""

from __future__ import annotations

import html
import json
import re

from babel import Locale

from qa.answer.extractive import cited_paragraph
from qa.answer.i18n import labels
from qa.answer.links import reader_language
from qa.answer.versions import paragraph_in_version
from qa.app.ui.render import paragraph_html

_DEEP = re.compile(r"(?:^|[?&#])(?:p|para|paragraph)=?(\d{1,6})\b", re.I)
_PARAM = re.compile(r"(?:^|[?&#])(lang|doc)=([A-Za-z0-9_.-]{1,80})")


def parse_deep_link(text: str | None) -> dict:
    """`?p=25`, `#p25`, `?p=25&lang=fr`, `#p=25` → {"n": 25, "lang": "fr" | None, "doc": None}; {} when no ¶ is named.

    `text` is the page's `location.search + location.hash`.
    """
    text = str(text or "")[:500]
    m = _DEEP.search(text)
    if not m:
        return {}
    params = {k.lower(): v for k, v in _PARAM.findall(text)}
    return {"n": int(m.group(1)), "lang": params.get("lang"), "doc": params.get("doc")}


def accept_language_reader(header: str | None) -> str | None:
    """The best of the six UN languages for an Accept-Language header (Babel's negotiation), or None."""
    prefs = []
    for part in str(header or "").split(",")[:20]:
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        if tag and tag != "*" and weight > 0:
            prefs.append((weight, len(prefs), tag.strip()))
    ordered = [t for _, _, t in sorted(prefs, key=lambda x: (-x[0], x[1]))]
    try:
        loc = Locale.negotiate(ordered, ["en", "fr", "es", "ru", "ar", "zh"], sep="-")
    except (ValueError, TypeError):
        return None
    return loc.language if loc else None


def linked_paragraph_html(corpus, page: str | None, accept_language: str | None = None) -> str | None:
    """The evidence panel for a page opened with ?p=25 (or #p25): ¶25's card, in the reader's language.

    `page` is what the page script sends, {"link": location.search + location.hash, "languages":
    navigator.languages} as JSON (or just the link). The reader's language is `lang=` in the link, else the
    browser's first UN language, else English. None when the link names no paragraph; a short notice when the
    report has no such paragraph.
    """
    link = str(page or "")[:2000]
    try:
        sent = json.loads(link) if link.startswith("{") else {"link": link}
    except ValueError:
        sent = {}
    if not isinstance(sent, dict):
        sent = {}
    languages = sent.get("languages")
    if isinstance(languages, list) and not accept_language:
        accept_language = ",".join(str(x) for x in languages[:20])
    want = parse_deep_link(sent.get("link") if isinstance(sent.get("link"), str) else "")
    if not want:
        return None
    lang = reader_language(want.get("lang") or accept_language_reader(accept_language))
    doc = (corpus.document(want["doc"]) if want.get("doc") else None) or corpus.documents[0]
    p = doc.paragraph(want["n"])
    if p is None:
        msg = labels(lang)["lookup_missing_paragraph"].format(first=doc.paragraphs[0].n, last=doc.paragraphs[-1].n,
                                                              n=want["n"])
        return f'<div class="rqa-notcovered">{html.escape(msg)}</div>'
    return (f'<h3 class="rqa-h rqa-linked">¶{p.n}</h3>'
            + paragraph_html(paragraph_in_version(cited_paragraph(doc, p), corpus, lang), lang))
