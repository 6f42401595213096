"""The official-language links and the "copy citation" button, as text (CLI), Markdown (chat) and HTML (cards).

The data (URLs, citation strings, language names) comes from `qa.answer.links`; this module only renders it.
Every URL goes through `render.safe_url` and every string is escaped.
"""

from __future__ import annotations

import html
import re

from qa.answer.extractive import Answer, CitedParagraph
from qa.answer.links import citation_string, cited_footnotes, official_links, text_direction, ui_text


def paragraph_footnotes(p: CitedParagraph) -> list[int]:
    """The footnotes the answer cites in this paragraph (marked inside a highlighted sentence, or evidence)."""
    return cited_footnotes(p.highlights, p.markers, p.evidence_footnotes)


def paragraph_citation(p: CitedParagraph, lang: str) -> str:
    return citation_string(p.symbol, p.n, paragraph_footnotes(p), lang)


def _safe_links(symbol: str | None, lang: str, n: int) -> list[dict]:
    from qa.app.ui.render import safe_url

    return [dict(link, url=u) for link in official_links(symbol, lang, n) if (u := safe_url(link["url"]))]


# --- plain text (CLI) ---------------------------------------------------------------------------------

def links_text(p: CitedParagraph, lang: str) -> list[str]:
    """Two lines under a cited paragraph: the citation to paste, and the six official versions (reader's first)."""
    links = _safe_links(p.symbol, lang, p.n)
    if not links:
        return []
    return [f"  {paragraph_citation(p, lang)}",
            f"  {ui_text(lang, 'open', n=p.n)} " + " · ".join(f"{x['name']} {x['url']}" for x in links)]


# --- Markdown (chat) ----------------------------------------------------------------------------------

def _md_title(text: str) -> str:
    from qa.app.ui.render import escape_md

    return escape_md(text.replace('"', ""))


def links_markdown(ans: Answer) -> list[str]:
    """One line per cited paragraph: 'Open ¶25 in: [English](https://undocs.org/en/A/75/36) · [Français](…) …'."""
    from qa.app.ui.render import escape_md

    lines = []
    quoted = {(q.doc, q.paragraph) for q in ans.quotes}
    for p in (p for p in ans.paragraphs if (p.doc, p.n) in quoted):
        links = _safe_links(p.symbol, ans.language, p.n)
        if not links:
            continue
        items = " · ".join(f"[{escape_md(x['name'])}]({x['url']} \"{_md_title(x['title'])}\")" for x in links)
        lines.append(f"{escape_md(ui_text(ans.language, 'open', n=p.n))} {items}")
    return lines


# --- HTML (cited-paragraph cards) ---------------------------------------------------------------------

def card_tools_html(p: CitedParagraph, lang: str) -> str:
    """The card's footer: "Open ¶25 in: English · Français · …" and a "Copy citation" button.

    The button carries the citation in `data-citation`; the page script (webapp.HEAD) copies it to the clipboard.
    """
    links = _safe_links(p.symbol, lang, p.n)
    parts = []
    if links:
        items = " · ".join(
            f'<a class="rqa-lang" href="{html.escape(x["url"], quote=True)}" hreflang="{x["lang"]}" lang="{x["lang"]}" '
            f'dir="{text_direction(x["lang"])}" title="{html.escape(x["title"], quote=True)}" '
            f'aria-label="{html.escape(x["title"], quote=True)}" target="_blank" rel="noopener noreferrer">'
            f'{html.escape(x["name"])}</a>' for x in links)
        parts.append(f'<nav class="rqa-official" aria-label="{html.escape(ui_text(lang, "official"), quote=True)}">'
                     f'<span class="rqa-open">{html.escape(ui_text(lang, "open", n=p.n))}</span> {items}</nav>')
    cite = paragraph_citation(p, lang)
    parts.append(f'<button type="button" class="rqa-copy" data-citation="{html.escape(cite, quote=True)}" '
                 f'data-copied="{html.escape(ui_text(lang, "copied"), quote=True)}" '
                 f'title="{html.escape(cite, quote=True)}">{html.escape(ui_text(lang, "copy"))}</button>'
                 f' <span class="rqa-cite-text">{html.escape(cite)}</span>')
    return f'<footer class="rqa-tools">{"".join(parts)}</footer>'


# --- links into the app: ?p=25 or #p25 ----------------------------------------------------------------

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
    from babel import Locale

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
    import json

    from qa.answer.extractive import cited_paragraph
    from qa.answer.i18n import labels
    from qa.answer.links import reader_language
    from qa.app.ui.render import paragraph_html

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
            + paragraph_html(cited_paragraph(doc, p), lang))
