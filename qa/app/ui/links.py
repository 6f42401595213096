"""The official-language links and the "copy citation" button, as text (CLI), Markdown (chat) and HTML (cards).

The data (URLs, citation strings, language names) comes from `qa.answer.links`; this module only renders it.
Every URL goes through `markup.safe_url` and every string is escaped. Links *into* the app (?p=25) are in
`qa.app.ui.deeplink`.
"""

from __future__ import annotations

import html

from qa.answer.extractive import Answer, CitedParagraph
from qa.answer.links import citation_string, cited_footnotes, official_links, text_direction, ui_text
from qa.app.ui.markup import escape_md, safe_url


def paragraph_footnotes(p: CitedParagraph) -> list[int]:
    """The footnotes the answer cites in this paragraph (marked inside a highlighted sentence, or evidence)."""
    return cited_footnotes(p.highlights, p.markers, p.evidence_footnotes)


def paragraph_citation(p: CitedParagraph, lang: str) -> str:
    return citation_string(p.symbol, p.n, paragraph_footnotes(p), lang)


def _safe_links(symbol: str | None, lang: str, n: int) -> list[dict]:
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
    return escape_md(text.replace('"', ""))


def links_markdown(ans: Answer) -> list[str]:
    """One line per cited paragraph: 'Open ¶25 in: [English](https://undocs.org/en/A/75/36) · [Français](…) …'."""
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

    The button carries the citation in `data-citation`; the page script (`qa.app.ui.webapp.HEAD`) copies it to the clipboard.
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
