"""Answers as text (CLI), Markdown (chat) and HTML (evidence panel). Everything from a user or a document is escaped."""

from __future__ import annotations

import html

from qa.answer.citeguard import CITE_RE, CitationSyntaxError, parse_citation
from qa.answer.extractive import Answer, CitedParagraph
from qa.answer.i18n import labels, paragraph_label
from qa.answer.links import language_name
from qa.answer.llm import model_paragraphs
from qa.answer.versions import show_original_label
from qa.app.ui.links import card_tools_html, links_markdown, links_text
from qa.app.ui.markup import anchor, escape_md, safe_url
from qa.types import Footnote

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


# --- plain text (CLI) ---------------------------------------------------------------------------------

def answer_text(ans: Answer) -> str:
    lab = labels(ans.language)
    out = []
    if ans.notice:
        out.append(ans.notice)
    if ans.query and ans.query != ans.question:
        out.append(f"({lab['searched']}: {ans.query})")
    out.extend(llm_text_lines(ans))  # the optional generated answer, above the verbatim quotes
    out.append(ans.text())
    shown = ans.paragraphs or ans.related
    if ans.related:
        out.append(f"\n{lab['possibly_related']}:")
    elif shown:
        out.append(f"\n{lab['cited']}:")
    for p in shown:
        out.append(f"\n¶{p.n}  {' › '.join(p.section)}")
        out.append(_marked_text(p))
        if getattr(p, "original", None):  # shown in the reader's language version: the original under it
            out.append(f"  [{p.original['language']}] {p.original['text']}")
        if getattr(p, "note", None):
            out.append(f"  ({p.note})")
        for f in p.footnotes:
            out.append(f"  [{lab['fn']} {f.n}] {f.text}" + (f"  {' '.join(f.urls)}" if f.urls else ""))
        out.extend(links_text(p, ans.language))  # citation to paste + the six official versions
    return "\n".join(out)


def _decorate(p: CitedParagraph, *, open_mark: str, close_mark: str, marker, escape=lambda t: t) -> str:
    """Paragraph text with highlight marks and footnote markers inserted at their offsets.

    At one offset a highlight closes before a marker, and a marker comes before a highlight opens.
    """
    events: list[tuple[int, int, str]] = []
    for s, e in p.highlights:
        events.append((s, 2, open_mark))
        events.append((e, 0, close_mark))
    for fn, off in p.markers:
        events.append((off, 1, marker(fn)))
    events.sort(key=lambda t: (t[0], t[1]))
    out, pos = [], 0
    for off, _, tag in events:
        out.append(escape(p.text[pos:off]))
        out.append(tag)
        pos = off
    out.append(escape(p.text[pos:]))
    return "".join(out)


def _marked_text(p: CitedParagraph) -> str:
    """Paragraph text with «» around highlighted sentences and superscript footnote markers (…性。⁴6 月)."""
    return _decorate(p, open_mark="«", close_mark="»", marker=lambda fn: str(fn).translate(_SUPERSCRIPT))


# --- Markdown (chat) ----------------------------------------------------------------------------------

def answer_markdown(ans: Answer) -> str:
    lab = labels(ans.language)
    parts = []
    if ans.notice:
        parts.append(f"_{escape_md(ans.notice)}_")
    if ans.query and ans.query != ans.question:
        parts.append(f"_{escape_md(lab['searched'])}: {escape_md(ans.query)}_")
    parts.extend(llm_markdown_parts(ans))  # the optional generated answer, above the quotes
    if ans.quotes:
        for q in ans.quotes:
            link = f"[{escape_md(q.citation)}](#{anchor(q.doc, q.paragraph)})"
            parts.append(f"> {escape_md(q.text)} {link}")
        parts.extend(links_markdown(ans))  # "Open ¶25 in: English · Français · …" per cited paragraph
    else:
        parts.append(f"**{escape_md(ans.message)}**")
        if ans.related:
            links = ", ".join(f"[¶{p.n}](#{anchor(p.doc, p.n)})" for p in ans.related)
            parts.append(f"{escape_md(lab['possibly_related'])}: {links}")
    return "\n\n".join(parts)


# --- the optional generated answer (qa/answer/llm.py), above the verbatim quotes ----------------------

def _generated(ans: Answer) -> tuple[dict | None, str | None]:
    """`ans.llm` when there is a generated answer to show; else None and the one notice line shown instead (None
    when nothing is: no LLM, or skipped because nothing was retrieved)."""
    llm = ans.llm
    if not llm or llm.get("status") == "skipped":
        return None, None
    if llm.get("status") != "ok":
        return None, llm.get("notice") or None
    return llm, None


def llm_text_lines(ans: Answer) -> list[str]:
    """Plain-text lines for the CLI, above the verbatim quotes: the checked answer and its label, or the one notice line."""
    llm, notice = _generated(ans)
    if llm is None:
        return [notice] if notice else []
    lab = labels(ans.language)
    out = [f"{lab['generated']}:", llm.get("text", "")]
    if llm.get("notice"):
        out.append(llm["notice"])
    out.append(f"\n{lab['quotes']}:")
    return out


def llm_markdown_parts(ans: Answer) -> list[str]:
    """Markdown blocks for the chat, above the verbatim quotes; each citation links to its paragraph card."""
    llm, notice = _generated(ans)
    if llm is None:
        return [f"_{escape_md(notice)}_"] if notice else []
    lab = labels(ans.language)
    docs = {p.n: p.doc for p in model_paragraphs(ans)}

    def linked(sentence: str) -> str:
        out, pos = [], 0
        for m in CITE_RE.finditer(sentence):
            out.append(escape_md(sentence[pos:m.start()]))
            try:
                n = parse_citation(m.group())[0].paragraph
            except CitationSyntaxError:
                n = None
            out.append(f"[{escape_md(m.group())}](#{anchor(docs[n], n)})" if n in docs else escape_md(m.group()))
            pos = m.end()
        out.append(escape_md(sentence[pos:]))
        return "".join(out)

    kept = [s["text"] for s in llm.get("sentences", []) if s.get("kept")]
    parts = [f"**{escape_md(lab['generated'])}**"]
    if kept:
        parts.append(("" if ans.language == "zh" else " ").join(map(linked, kept)))
    if llm.get("notice"):
        parts.append(f"_{escape_md(llm['notice'])}_")
    parts.append(f"**{escape_md(lab['quotes'])}**")
    return parts


# --- HTML (evidence panel) ----------------------------------------------------------------------------

def paragraph_html(p: CitedParagraph, lang: str, *, related: bool = False) -> str:
    lab = labels(lang)
    body = _decorate(p, open_mark="<mark>", close_mark="</mark>", escape=html.escape, marker=lambda fn: (
        f'<sup class="rqa-fnref"><a href="#{anchor(p.doc, p.n)}-fn{fn}">{fn}</a></sup>'))
    notes = []
    for f in p.footnotes:
        links = []
        for u in f.urls:
            su = safe_url(u)
            if su:
                links.append(f'<a href="{html.escape(su, quote=True)}" target="_blank" rel="noopener noreferrer">'
                             f"{html.escape(su)}</a>")
        cls = "rqa-fn rqa-evidence" if f.n in p.evidence_footnotes else "rqa-fn"
        notes.append(f'<li id="{anchor(p.doc, p.n)}-fn{f.n}" class="{cls}" value="{f.n}">{html.escape(f.text)}'
                     + (f"<br>{' '.join(links)}" if links else "") + "</li>")
    section = " › ".join(html.escape(s) for s in p.section)
    fn_block = (f'<div class="rqa-fn-title">{html.escape(lab["footnotes"])}</div><ol class="rqa-fns">{"".join(notes)}</ol>'
                if notes else "")
    cls = "rqa-para rqa-related" if related else "rqa-para"
    return (f'<article class="{cls}" id="{anchor(p.doc, p.n)}" data-paragraph="{p.n}">'
            f'<header><span class="rqa-num">¶{p.n}</span> <span class="rqa-label">{html.escape(paragraph_label(lang, p.n))}</span>'
            f'{_version_badge(p)}'
            f'<div class="rqa-section">{section}</div></header>'
            f'<p class="rqa-text">{body}</p>{fn_block}{_version_html(p, lang)}{card_tools_html(p, lang)}</article>')


def _version_badge(p: CitedParagraph) -> str:
    """"English version" beside the ¶ number when the card shows one of several loaded language versions."""
    if not getattr(p, "language", None) or getattr(p, "original", None) is None and not getattr(p, "note", None):
        return ""
    return f' <span class="rqa-version" data-lang="{html.escape(p.language, quote=True)}">{html.escape(language_name(p.language))}</span>'


def _version_html(p: CitedParagraph, lang: str) -> str:
    """For a ¶ shown in the reader's language version: the original's text behind a toggle ("Show the 中文 text"),
    and the note when a version's ¶ does not line up. Empty for a report with one version loaded."""
    out = []
    note = getattr(p, "note", None)
    if note:
        out.append(f'<div class="rqa-version-note">{html.escape(note)}</div>')
    orig = getattr(p, "original", None)
    if orig:
        o = CitedParagraph(orig["doc"], p.n, list(orig["section"]), orig["text"], [tuple(h) for h in orig["highlights"]],
                           [tuple(m) for m in orig["markers"]],
                           [Footnote(f["n"], f["text"], p.n, list(f["urls"])) for f in orig["footnotes"]])
        body = _decorate(o, open_mark="<mark>", close_mark="</mark>", escape=html.escape,
                         marker=lambda fn: f'<sup class="rqa-fnref">{fn}</sup>')
        notes = "".join(f'<li value="{f.n}">{html.escape(f.text)}</li>' for f in o.footnotes)
        code = html.escape(orig["language"], quote=True)
        out.append(f'<details class="rqa-original" data-lang="{code}"><summary>'
                   f'{html.escape(show_original_label(lang, orig["language"]))}</summary>'
                   f'<p class="rqa-text" lang="{code}">{body}</p>'
                   + (f'<ol class="rqa-fns" lang="{code}">{notes}</ol>' if notes else "") + "</details>")
    return "".join(out)


def evidence_html(ans: Answer | None, *, lang: str = "en") -> str:
    if ans is None:
        return '<div class="rqa-empty">Ask a question: the cited paragraphs appear here.</div>'
    lab = labels(ans.language)
    if ans.paragraphs:
        head = f'<h3 class="rqa-h">{html.escape(lab["cited"])}</h3>'
        return head + "".join(paragraph_html(p, ans.language) for p in ans.paragraphs)
    if ans.related:
        head = (f'<div class="rqa-notcovered">{html.escape(ans.message)}</div>'
                f'<h3 class="rqa-h">{html.escape(lab["possibly_related"])}</h3>')
        return head + "".join(paragraph_html(p, ans.language, related=True) for p in ans.related)
    return f'<div class="rqa-notcovered">{html.escape(ans.message)}</div>'
