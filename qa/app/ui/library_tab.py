"""The "Reports" tab and the report pickers: upload (PDF, Word, text) with a progress bar, the parse summary
shown before the report joins the index, the list of loaded reports, and removal.

The work itself (parsing, the index rebuild, the engine swap) is `qa.app.ui.reports`; this module only builds
the components and wires them.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import gradio as gr

from qa.app.serve.limits import MAX_UPLOAD_BYTES, human_bytes
from qa.app.serve.uploads import TEMP_UPLOADS
from qa.app.ui.markup import code_md, escape_md
from qa.app.ui.reports import REPORT_SUFFIXES, LiveEngine, ReportManager, index_markdown, summary_markdown
from qa.errors import USER_ERRORS

log = logging.getLogger("report_qa")
keep = gr.update  # an output left as it is


def report_picker(live: LiveEngine, *, label: str, elem_id: str, all_reports: bool = True, **kwargs) -> gr.Dropdown:
    """A dropdown of the loaded reports ("All reports" first when `all_reports`)."""
    mgr = ReportManager(live)
    choices = mgr.choices() if all_reports else mgr.report_choices()
    return gr.Dropdown(choices=choices, value=choices[0][1], label=label, elem_id=elem_id, interactive=True,
                       allow_custom_value=False, **kwargs)


def _keep(value, choices: list[tuple[str, str]]):
    values = [v for _, v in choices]
    return value if value in values else values[0]


def picker_updates(mgr: ReportManager, chat_value, browser_value) -> tuple:
    """Both pickers (keeping their choice where it still exists), the reports table and the removal list."""
    c, b = mgr.choices(), mgr.report_choices()
    return (gr.Dropdown(choices=c, value=_keep(chat_value, c)),
            gr.Dropdown(choices=b, value=_keep(browser_value, b)),
            mgr.reports_markdown(), gr.Dropdown(choices=mgr.removable(), value=None))


def add_report(mgr: ReportManager, path, sym, ttl, lang, chat_value, browser_value,
               progress=gr.Progress()):  # noqa: B008 - Gradio injects it
    """Upload: parse (the summary appears), then join the index; every failure leaves the library as it was."""
    nothing = (keep(), keep(), keep(), keep())
    try:
        result = mgr.parse(path, name=Path(path).name if path else None, symbol=sym, title=ttl, language=lang,
                           progress=lambda f, m: progress(0.4 * f, desc=m))
    except USER_ERRORS as exc:
        yield (f"**Not added: {escape_md(str(exc))}** The library is unchanged.", "", *nothing)
        return
    except Exception:  # noqa: BLE001 - the user sees one line, the log the traceback
        log.exception("adding an uploaded report failed")
        yield ("**Not added: the file could not be read.** The library is unchanged.", "", *nothing)
        return
    finally:  # added (the library has its own copy) or refused: the upload leaves Gradio's temp folder
        TEMP_UPLOADS.release(path)
    summary = summary_markdown(result)
    label = result.entry.symbol or result.entry.id
    yield (summary, "⏳ **Joining the index…** (only text new to the embedding cache is embedded)", *nothing)
    try:
        index = mgr.join_index(result, lambda done, total: progress(
            0.4 + 0.6 * done / max(total, 1), desc=f"embedding the new text ({done}/{total})"))
    except USER_ERRORS as exc:
        yield (summary, f"**Not indexed: {escape_md(str(exc))}** The report was taken out of the library again.",
               *nothing)
        return
    except Exception:  # noqa: BLE001
        log.exception("indexing an uploaded report failed")
        yield (summary, "**Indexing failed; the report was taken out of the library again.** Please try again.",
               *nothing)
        return
    status = index_markdown(index, label) if result.added or index else \
        f"✅ **{escape_md(label)}** was already in the library and in the index; nothing changed."
    yield (summary, status, *picker_updates(mgr, chat_value, browser_value))


def remove_report(mgr: ReportManager, doc_id, chat_value, browser_value,
                  progress=gr.Progress()):  # noqa: B008 - Gradio injects it
    """Take a report out of the library and the index."""
    try:
        entry = mgr.remove(doc_id, lambda done, total: progress(done / max(total, 1), desc="rebuilding the index"))
    except USER_ERRORS as exc:
        return (f"**{escape_md(str(exc))}**", *picker_updates(mgr, chat_value, browser_value))
    except Exception:  # noqa: BLE001
        log.exception("removing a report failed")
        return ("**Removing the report failed; please try again.**", *picker_updates(mgr, chat_value, browser_value))
    label = entry.symbol or entry.source
    return (f"Removed **{escape_md(label)}** ({code_md(entry.id)}) from the library and the index.",
            *picker_updates(mgr, chat_value, browser_value))


def build_library_tab(demo: gr.Blocks, live: LiveEngine, *, chat_picker: gr.Dropdown,
                      browser_picker: gr.Dropdown) -> None:
    """The "Reports" tab (call inside `with gr.Tabs()`); keeps the chat and browser pickers up to date."""
    mgr = ReportManager(live)
    with gr.Tab("Reports", id="reports", elem_id="rqa-reports-tab"):
        gr.Markdown(f"### Add a report\nA PDF, Word (.docx) or text (.txt) file of at most "
                    f"{human_bytes(MAX_UPLOAD_BYTES)}. It is parsed (a summary with counts and warnings appears below), "
                    "then it joins the index: only its new text is embedded. Symbol, title and language are read "
                    "from the file; fill them in first to override.")
        with gr.Row():
            symbol = gr.Textbox(label="Symbol (optional)", placeholder="A/79/123", max_lines=1, elem_id="rqa-up-symbol",
                                info="A UN document symbol: letters, digits, / . - and parentheses")
            title = gr.Textbox(label="Title (optional)", max_lines=1, elem_id="rqa-up-title")
            language = gr.Textbox(label="Language (optional)", placeholder="en", max_lines=1, elem_id="rqa-up-language")
        upload = gr.File(label="Report file", file_types=list(REPORT_SUFFIXES), file_count="single", type="filepath",
                         elem_id="rqa-upload")
        parsed = gr.Markdown(elem_id="rqa-upload-summary")
        joined = gr.Markdown(elem_id="rqa-upload-status")
        gr.Markdown("### Reports loaded")
        reports = gr.Markdown(mgr.reports_markdown(), elem_id="rqa-reports")
        with gr.Row():
            to_remove = gr.Dropdown(choices=mgr.removable(), value=None, label="Remove a report from the library",
                                    elem_id="rqa-remove-pick", interactive=True, scale=4)
            remove_btn = gr.Button("Remove", variant="stop", elem_id="rqa-remove", scale=1)
        removed = gr.Markdown(elem_id="rqa-remove-status")

    pickers = [chat_picker, browser_picker, reports, to_remove]
    upload.upload(partial(add_report, mgr), [upload, symbol, title, language, chat_picker, browser_picker],
                  [parsed, joined, *pickers], api_visibility="private", concurrency_id="rqa-library",
                  concurrency_limit=1)
    remove_btn.click(partial(remove_report, mgr), [to_remove, chat_picker, browser_picker], [removed, *pickers],
                     api_visibility="private", concurrency_id="rqa-library", concurrency_limit=1)
    # A page opened after another tab changed the reports starts from the reports loaded now.
    demo.load(partial(picker_updates, mgr), [chat_picker, browser_picker], pickers, api_visibility="private",
              queue=False, show_progress="hidden")
