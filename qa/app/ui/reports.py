"""The app's reports, in plain Python (tested without a browser): what is loaded, adding and removing a report,
and the live engine swap.

- `LiveEngine` holds the engine in use *now*: the loading `EngineHandle` until the first add/remove, then the
  rebuilt `Engine`. Adding or removing a report builds a new `Engine` over the bundled report(s) plus the library
  (`qa.engine.rebuild_engine`: the loaded encoders, and only text new to the content-hash embedding cache is
  embedded), then swaps it in with one assignment. A question takes `live.current()` once, so it never sees the
  corpus of one engine and the retriever of another.
- `ReportManager`: add a file with progress, a parse summary, remove a report, the pickers' choices.
- `browser_paragraph`: the paragraph browser's card for what the user typed, per report.

The Gradio side (the "Reports" tab and the pickers) is `qa.app.ui.library_tab`. With more than one report
loaded, citations name the report (`[A/79/123 ¶4]`); see `qa.answer.extractive.report_label`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from qa.answer.extractive import cited_paragraph
from qa.answer.links import valid_symbol
from qa.app.serve.limits import MAX_UPLOAD_BYTES, check_library_size, check_uploads, human_bytes
from qa.app.ui.markup import code_md, escape_md
from qa.app.ui.render import paragraph_html
from qa.engine import rebuild_engine
from qa.errors import UserError
from qa.ingest.files import KINDS, safe_name
from qa.ingest.library import Library, with_library
from qa.text import detect_language
from qa.types import Corpus, Document

log = logging.getLogger("report_qa")

ALL = "__all__"  # the picker's value for "All reports"
ALL_LABEL = "All reports"
REPORT_SUFFIXES = tuple(KINDS)  # .pdf, .docx, .txt

Progress = Callable[[float, str], None]  # fraction 0..1, message


def check_symbol(symbol: str | None) -> str | None:
    """The Symbol field: empty (read it from the file), or a UN document symbol (letters, digits, '/', '.', '-',
    parentheses: A/79/123, A/HRC/55/L.1/Rev.1); anything else is refused with a UserError."""
    symbol = (symbol or "").strip()
    if not symbol:
        return None
    if valid_symbol(symbol) is None:
        shown = symbol if len(symbol) <= 40 else symbol[:39] + "…"
        raise UserError(f"the symbol {shown!r} is not a UN document symbol: use capital letters, digits, '/', '.', '-' "
                        "and parentheses, e.g. A/79/123 or A/HRC/55/L.1/Rev.1; or leave the field empty to read it "
                        "from the file")
    return symbol


def doc_label(doc: Document) -> str:
    """How a report is named in the pickers: 'A/79/123 · Activities of the … (en)'."""
    title = " ".join((doc.title or "").split())
    title = title if len(title) <= 70 else title[:69] + "…"
    symbol = doc.meta.get("symbol")
    head = f"{symbol} · {title}" if symbol else (title or doc.id)
    return f"{head} ({doc.language})" if doc.language else head


def docs_of(choice) -> list[str] | None:
    """The picker's value → `ChatSession.docs`: None for all reports, else the one id."""
    if not isinstance(choice, str) or not choice or choice == ALL:
        return None
    return [choice]


class LiveEngine:
    """The engine in use now: the loading handle until the first add/remove, then the rebuilt Engine.

    It is a holder, not a stand-in: code that needs the engine asks `current()` once and uses what it returns."""

    def __init__(self, handle, *, library=None, rebuild: Callable | None = None):
        self.handle = handle
        self.library = library or Library()
        self._engine = None
        self._lock = threading.Lock()  # one rebuild at a time
        self._rebuild = rebuild
        entries = {e.id: e.sha256 for e in self.library.entries()}
        # The reports that are not the library's: the bundled one(s), or the paths the app was started with.
        self.base = [d for d in handle.corpus.documents
                     if not (d.id in entries and d.meta.get("sha256") == entries[d.id])]

    def current(self):
        """One consistent engine for one question (the handle while the first engine is loading)."""
        return self._engine if self._engine is not None else self.handle

    @property
    def corpus(self) -> Corpus:
        return self.current().corpus

    def wanted_corpus(self) -> Corpus:
        return with_library(self.base, self.library)

    def refresh(self, progress: Callable[[int, int], None] | None = None) -> tuple[object, bool]:
        """Rebuild over the bundled report(s) + the library when they differ from what is loaded; swap it in.
        Returns (the engine now in use, whether it was rebuilt)."""
        with self._lock:
            engine = self._engine if self._engine is not None else self.handle.get()
            corpus = self.wanted_corpus()
            if _same_documents(corpus, engine.corpus):
                return engine, False
            new = (self._rebuild or rebuild_engine)(engine, corpus, progress=progress)
            self._engine = new  # the swap: questions that start from now on use the new engine
            return new, True


def _same_documents(a: Corpus, b: Corpus) -> bool:
    return [(d.id, d.meta.get("sha256")) for d in a.documents] == [(d.id, d.meta.get("sha256")) for d in b.documents]


class ReportManager:
    """Add / remove reports for the app, and what the UI shows about them."""

    def __init__(self, live: LiveEngine):
        self.live = live

    @property
    def library(self):
        return self.live.library

    # -- what the UI lists
    def choices(self) -> list[tuple[str, str]]:
        return [(ALL_LABEL, ALL)] + [(doc_label(d), d.id) for d in self.live.corpus.documents]

    def report_choices(self) -> list[tuple[str, str]]:
        return [(doc_label(d), d.id) for d in self.live.corpus.documents]

    def removable(self) -> list[tuple[str, str]]:
        return [(f"{e.symbol or e.source} ({e.language}) · {e.id}", e.id) for e in self.library.entries()]

    def reports_markdown(self) -> str:
        lib_ids = {e.id for e in self.library.entries()}
        lines = ["| Report | Title | Language | ¶ | Footnotes | Source |", "|---|---|---|---:|---:|---|"]
        for d in self.live.corpus.documents:
            symbol = d.meta.get("symbol") or d.id
            source = f"library ({code_md(d.id)})" if d.id in lib_ids else "bundled"
            title = " ".join((d.title or "").split())
            title = title if len(title) <= 90 else title[:89] + "…"
            lines.append(f"| {escape_md(symbol)} | {escape_md(title)} | {escape_md(d.language)} | "
                         f"{len(d.paragraphs)} | {len(d.footnotes)} | {source} |")
        return "\n".join(lines)

    # -- changing the library
    def check_upload(self, path: str | Path, name: str | None = None) -> tuple[Path, str]:
        """The uploaded file and its own name, or a UserError (type, size, count) before any parsing."""
        if not path:
            raise UserError("choose a PDF, Word (.docx) or text (.txt) file first")
        path = Path(path)
        name = safe_name(name or path.name)
        if not path.is_file():
            raise UserError(f"{name}: the upload did not arrive whole; please upload it again")
        check_uploads([(name, path.stat().st_size)], max_bytes=MAX_UPLOAD_BYTES, suffixes=REPORT_SUFFIXES)
        check_library_size(len(self.library.entries()))
        return path, name

    def parse(self, path: str | Path, *, name: str | None = None, symbol: str | None = None,
              title: str | None = None, language: str | None = None, progress: Progress | None = None):
        """Check, parse and store the file in the library (not yet in the index). Returns the AddResult."""
        symbol = check_symbol(symbol)
        path, name = self.check_upload(path, name)
        lib = Library(self.library.root, max_bytes=MAX_UPLOAD_BYTES)
        return lib.add(path, name=name, symbol=symbol, title=(title or "").strip() or None,
                       language=(language or "").strip() or None, progress=progress)

    def join_index(self, result, progress: Callable[[int, int], None] | None = None) -> list[dict]:
        """Rebuild the engine with the new report; on failure take it out of the library again."""
        try:
            engine, rebuilt = self.live.refresh(progress)
        except BaseException:
            if result.added:
                try:
                    self.library.remove(result.entry.id)
                except Exception:  # noqa: BLE001 - the first error is the one to report
                    log.exception("could not take %s out of the library again", result.entry.id)
            raise
        return list(engine.index_reports) if rebuilt else []

    def remove(self, doc_id: str, progress: Callable[[int, int], None] | None = None):
        if not doc_id:
            raise UserError("choose a report to remove")
        entry = self.library.remove(doc_id)
        self.live.refresh(progress)
        return entry


def summary_markdown(result) -> str:
    """The parse summary shown before the report joins the index."""
    s, doc = result.summary(), result.document
    nums = f" (¶{doc.paragraphs[0].n}–¶{doc.paragraphs[-1].n})" if doc.paragraphs else ""
    sections = len({tuple(p.section) for p in doc.paragraphs if p.section})
    lines = [f"#### Parsed {escape_md(s['source'])}",
             f"- **Report**: {escape_md(s['symbol'] or '(no symbol)')} · {escape_md(s['title'] or '(no title)')} · "
             f"language {code_md(s['language'])} · {s['format'].upper()}, {human_bytes(result.entry.bytes or 0)}",
             f"- **{s['paragraphs']} paragraphs**{nums}, **{s['footnotes']} footnotes**, {sections} sections",
             f"- Library id {code_md(s['id'])}"]
    warnings = s["warnings"] + s["notes"]
    if warnings:
        lines.append(f"- **Warnings ({len(warnings)})**:")
        lines += [f"  - {escape_md(w)}" for w in warnings[:20]]
        if len(warnings) > 20:
            lines.append(f"  - … and {len(warnings) - 20} more")
    else:
        lines.append("- Warnings: none")
    if not result.added:
        lines.append(f"\n{escape_md(result.notes[0] if result.notes else 'already in the library')}")
    return "\n".join(lines)


def index_markdown(reports: list[dict], label: str) -> str:
    """What the tab says once a report is in the index: how to ask about it, and what each index did."""
    lines = [f"✅ **{escape_md(label)} is in the index.** Ask about it in the Chat tab (choose it under "
             "“Search in” to limit questions to it); with several reports loaded, citations name the report, "
             f"e.g. {code_md(f'[{label} ¶1]')}."]
    for r in reports:
        if r.get("loaded"):
            lines.append(f"- index {escape_md(str(r.get('model')))}: {r.get('units')} units, loaded from disk")
        else:
            lines.append(f"- index {escape_md(str(r.get('model')))}: {r.get('units')} units, "
                         f"{r.get('embedded', 0)} embedded (new text), {r.get('reused', 0)} reused from the cache, "
                         f"{r.get('seconds', 0):.1f} s")
    return "\n".join(lines)


def browser_paragraph(corpus: Corpus, doc_id: str | None, text) -> tuple[int, str, Document]:
    """The paragraph browser: (¶ number, its card, the report) for what the user typed, clamped to the report."""
    doc = corpus.document(doc_id or "") or corpus.documents[0]
    first, last = doc.paragraphs[0].n, doc.paragraphs[-1].n
    digits = "".join(ch for ch in str(text or "") if ch.isdigit())[:6]
    n = max(first, min(last, int(digits))) if digits else first
    p = doc.paragraph(n) or min(doc.paragraphs, key=lambda q: abs(q.n - n))
    return p.n, paragraph_html(cited_paragraph(doc, p), detect_language(doc.title)), doc


def browser_range_label(doc: Document) -> str:
    return f"¶ ({doc.paragraphs[0].n}–{doc.paragraphs[-1].n})"
