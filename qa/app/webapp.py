"""The Gradio chat app behind `python app.py [--host H] [--port P]` and `report-qa serve`.

A thin layer over `qa`: the chat calls `qa.answer.chat.ask`, the evidence panel renders `qa.app.render`.
Runs with no network: the model is restored from a PyPI package, analytics are off.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger("report_qa")

EXAMPLES = [
    "人权高专办在世界各地设有多少个人权外地存在？",
    "乍得废除了哪项法律中的死刑？",
    "What training did staff receive after cyberattacks increased?",
    "How did OHCHR help people with albinism?",
    "Qu'a fait le Haut-Commissariat pour les personnes âgées ?",
    "¿Qué hizo la Oficina sobre la pena de muerte?",
    "fn 6",
]

CSS = """
#rqa-evidence { max-height: 78vh; overflow-y: auto; }
.rqa-para { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 14px; margin: 0 0 12px 0; }
.rqa-para.rqa-flash { outline: 3px solid #f59e0b; transition: outline 0.3s; }
.rqa-para header { margin-bottom: 6px; }
.rqa-num { font-weight: 700; font-size: 1.1em; }
.rqa-label { color: var(--body-text-color-subdued); }
.rqa-section { font-size: 0.85em; color: var(--body-text-color-subdued); }
.rqa-text { line-height: 1.7; }
.rqa-text mark { background: #fde68a; color: inherit; padding: 0 1px; }
.rqa-fnref a { text-decoration: none; }
.rqa-fn-title { font-weight: 600; font-size: 0.9em; margin-top: 6px; }
.rqa-fns { font-size: 0.85em; margin: 4px 0 0 1.2em; }
.rqa-fn a { word-break: break-all; }
.rqa-evidence { background: #fef3c7; }
.rqa-notcovered { font-weight: 600; margin: 6px 0 10px 0; }
.rqa-related { opacity: 0.9; }
.rqa-tools { margin-top: 8px; font-size: 0.85em; display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; }
.rqa-official a { text-decoration: none; white-space: nowrap; }
.rqa-open { color: var(--body-text-color-subdued); }
.rqa-copy { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 1px 8px; cursor: pointer;
            background: var(--button-secondary-background-fill); color: var(--button-secondary-text-color);
            font-size: 1em; font-weight: normal; }
.rqa-copy.rqa-copied { border-color: #16a34a; }
.rqa-cite-text { color: var(--body-text-color-subdued); }
"""

# Citation chips in the chat are links to "#rqa-p-<doc>-<n>": scroll the evidence panel instead of navigating.
HEAD = """
<script>
document.addEventListener('click', function (ev) {
  const a = ev.target.closest && ev.target.closest('a[href*="#rqa-p-"]');
  if (!a) return;
  const id = a.getAttribute('href').split('#')[1];
  const el = document.getElementById(id);
  if (!el) return;
  ev.preventDefault(); ev.stopPropagation();
  el.scrollIntoView({behavior: 'smooth', block: 'start'});
  el.classList.add('rqa-flash');
  setTimeout(function () { el.classList.remove('rqa-flash'); }, 1600);
}, true);
// "Copy citation" on a paragraph card copies its data-citation ("A/75/36, para. 25 (fn. 6)"), qa/app/links.py.
document.addEventListener('click', function (ev) {
  const b = ev.target.closest && ev.target.closest('button.rqa-copy[data-citation]');
  if (!b) return;
  ev.preventDefault();
  const text = b.getAttribute('data-citation');
  const done = function () {
    if (!b.dataset.label) b.dataset.label = b.textContent;
    b.textContent = b.getAttribute('data-copied') || 'Copied';
    b.classList.add('rqa-copied');
    setTimeout(function () { b.textContent = b.dataset.label; b.classList.remove('rqa-copied'); }, 1500);
  };
  const fallback = function () {
    const t = document.createElement('textarea');
    t.value = text; t.setAttribute('readonly', ''); t.style.position = 'fixed'; t.style.opacity = '0';
    document.body.appendChild(t); t.select();
    try { document.execCommand('copy'); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(t); done();
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
  else fallback();
}, true);
// #p25 typed into the address bar after the page loaded: open it too (the page load itself handles ?p= and #p).
window.addEventListener('hashchange', function () {
  if (!/^#p(ara)?=?[0-9]+$/i.test(window.location.hash)) return;
  const b = document.querySelector('#rqa-link-open');
  if (b) b.click();
});
</script>
"""


def offline_theme():
    """The default theme with system fonts: the stock one fetches web fonts, and this app runs offline."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Noto Sans CJK SC", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def about_markdown(engine) -> str:
    from qa.app.render import escape_md
    from qa.engine import search_summary

    info = engine.describe()
    lines = ["### About"]
    for m in info["models"]:
        lines.append(f"- **Model ({m['signal']})**: {escape_md(m['model'])} · dim {m['dim']} · weights `{m['fingerprint'][:24]}`")
        lines.append(f"  - index: {m['units']} units ({escape_md(m['unit_type'] or '')}), {m['index_type']}, "
                     f"built {m['created'] or '?'}")
    lines.append("- **Lexical**: BM25 (bm25s) over jieba words + CJK bigrams")
    if info.get("search"):
        lines.append(f"- **Search**: {search_summary(info['search'])}")
    for d in info["documents"]:
        period = d["meta"].get("period", {})
        span = f" · {period.get('start')} – {period.get('end')}" if period else ""
        lines.append(f"- **Document**: `{d['id']}` · {escape_md(d['title'])}{span} · {d['paragraphs']} paragraphs, "
                     f"{d['footnotes']} footnotes")
    for r in info["indexes"]:
        where = r.get("path") or "memory only"
        how = "loaded" if r.get("loaded") else "built"
        lines.append(f"- Index {escape_md(r['model'])}: {how} in {r.get('seconds', 0):.1f} s ({escape_md(str(where))})")
    lines.append("")
    lines.append("Paragraph numbers (¶) are the same in every UN language version of the report, so a citation such "
                 "as ¶25 can be opened in the Arabic, Chinese, English, French, Russian or Spanish text. Answers quote "
                 "the report in its own language (Chinese).")
    return "\n".join(lines)


def build_app(engine):
    import gradio as gr

    from qa.answer.chat import ChatSession
    from qa.answer.extractive import Answer
    from qa.answer.i18n import labels
    from qa.answer.llm import attach_llm
    from qa.app import library_tab  # reports: picker, upload, removal, the live engine swap
    from qa.app.eval_tab import build_eval_tab
    from qa.app.limits import trim_chat, trim_history
    from qa.app.links import linked_paragraph_html
    from qa.app.llm_stream import app_config, remember_answer, with_llm
    from qa.app.loading import EngineHandle, status_timer, waiting_first
    from qa.app.mcp_tools import hide_from_mcp
    from qa.app.mcp_tools import register as register_mcp_tools
    from qa.app.render import answer_markdown, escape_md, evidence_html
    from qa.errors import USER_ERRORS

    # The models may still be loading (qa/app/loading.py): `engine.corpus` is there at once, `engine.retriever` waits.
    engine = handle = EngineHandle.of(engine)
    engine = library_tab.LiveEngine(handle)  # rebuilt and swapped when a report is added or removed (library_tab.py)
    doc = engine.corpus.documents[0]
    first_n, last_n = doc.paragraphs[0].n, doc.paragraphs[-1].n

    def run_ask(message, history, mode, top_k, doc=None) -> tuple[Answer | None, list[str], str | None]:
        """One turn of the browser tab's conversation: the answer, the new history, or an error message."""
        try:
            session = ChatSession(engine.current(), mode or "hybrid", top_k or 3, trim_history(history),
                                  library_tab.docs_of(doc))
            return session.ask(message), session.history, None
        except USER_ERRORS as exc:
            return None, list(history or []), str(exc)
        except Exception:  # noqa: BLE001 - the user sees a message, the log gets the traceback
            log.exception("answering failed")
            return None, list(history or []), "Something went wrong while answering; please try again or rephrase the question."

    run_ask = remember_answer(run_ask)  # lets the optional LLM answer find this turn's Answer (qa/app/llm_stream.py)
    llm = app_config()  # the optional LLM endpoint (REPORT_QA_LLM_URL …), None when off

    def respond(message, chat, history, mode, top_k, doc=None):
        message = message if isinstance(message, str) else ""
        shown = message if len(message) <= 2000 else message[:2000] + " …"
        ans, history, error = run_ask(message, history, mode, top_k, doc)
        chat = trim_chat(chat)
        chat.append({"role": "user", "content": escape_md(shown) or "…"})
        if error:
            chat.append({"role": "assistant", "content": f"**{escape_md(error)}**"})
            return "", chat, history, gr.update(), ""
        chat.append({"role": "assistant", "content": answer_markdown(ans)})
        lab = labels(ans.language)
        searched = f"{escape_md(lab['searched'])}: `{escape_md(ans.query)}`" if ans.kind == "search" else ""
        return "", chat, history, evidence_html(ans), searched

    def chat_api(message: str, mode: str = "hybrid", top_k: int = 3, history: list[str] | None = None,
                 doc: str | None = None) -> dict:
        """Answer a question about the report: verbatim quotes with ¶/footnote citations, and the cited paragraphs.
        `doc` (a report id) limits the answer to that report; with several reports loaded, citations name it.
        With an LLM endpoint configured, `llm` holds the generated answer after the citation check (as `qa ask`)."""
        ans, _, error = run_ask(message, history or [], mode, top_k, doc)
        if error:
            return {"error": error}
        data = attach_llm(ans, llm).to_json()
        data["citations"] = [q["citation"] for q in data["quotes"]]
        return data

    def to_number(text, report=None) -> int:
        return library_tab.browser_paragraph(engine.corpus, report, text)[0]

    def show_paragraph(n, report=None) -> tuple[str, str]:  # per report: the browser's "Report" picker
        n, card, _ = library_tab.browser_paragraph(engine.corpus, report, n)
        return str(n), card

    def show_report(report):
        n, card, d = library_tab.browser_paragraph(engine.corpus, report, None)
        return gr.update(value=str(n), label=library_tab.browser_range_label(d)), card

    def open_link(page: str):
        """The evidence panel for ?p=25 / #p25 (reader's language from lang= or the browser's); else unchanged."""
        shown = linked_paragraph_html(engine.corpus, page)
        return gr.update() if shown is None else shown

    with gr.Blocks(title="report-qa · UN report assistant", analytics_enabled=False) as demo:
        gr.Markdown(f"## report-qa · {escape_md(doc.title)}\nAsk in any UN language. Every answer quotes the report "
                    "and cites its paragraph (¶) and footnote numbers; click a citation to open it on the right.")
        status = gr.Markdown(handle.status_markdown, elem_id="rqa-status")
        history = gr.State([])
        with gr.Tabs(elem_id="rqa-tabs"):
            with gr.Tab("Chat", id="chat", elem_id="rqa-chat-tab"):
                with gr.Row():
                    with gr.Column(scale=5):
                        chatbot = gr.Chatbot(label="Chat", height=520, elem_id="rqa-chat", sanitize_html=True,
                                             buttons=["copy"], feedback_options=None)
                        doc_pick = library_tab.report_picker(engine, label="Search in", elem_id="rqa-doc")
                        with gr.Row():
                            msg = gr.Textbox(placeholder="Ask about the report, e.g. 乍得废除了哪项法律中的死刑？ or “fn 6”",
                                             show_label=False, scale=8, elem_id="rqa-input", max_lines=6)
                            send = gr.Button("Send", variant="primary", scale=1, elem_id="rqa-send")
                        searched = gr.Markdown(elem_id="rqa-searched")
                        gr.Examples(examples=[[e] for e in EXAMPLES], inputs=[msg], label="Examples")
                        with gr.Accordion("Settings", open=False):
                            mode = gr.Radio(["hybrid", "dense", "lexical"], value="hybrid", label="Retrieval mode")
                            top_k = gr.Slider(1, 5, value=3, step=1, label="Paragraphs shown (top-k)")
                        clear = gr.Button("New conversation", size="sm")
                    with gr.Column(scale=5):
                        evidence = gr.HTML(evidence_html(None), elem_id="rqa-evidence", js_on_load=None)
                        with gr.Accordion("Paragraph browser", open=False):
                            browser_doc = library_tab.report_picker(engine, label="Report", all_reports=False,
                                                                    elem_id="rqa-browser-doc")
                            with gr.Row():
                                prev_btn = gr.Button("◀ Previous", size="sm", elem_id="rqa-prev")
                                number = gr.Textbox(value=str(first_n), label=f"¶ ({first_n}–{last_n})", max_lines=1,
                                                    elem_id="rqa-number")
                                open_btn = gr.Button("Open", size="sm", elem_id="rqa-open")
                                next_btn = gr.Button("Next ▶", size="sm", elem_id="rqa-next")
                            browser = gr.HTML(show_paragraph(first_n)[1], elem_id="rqa-browser", js_on_load=None)
                        with gr.Accordion("About", open=False):
                            about = gr.Markdown(lambda: about_markdown(engine) if handle.ready else "The model is loading…")
            build_eval_tab(engine)  # the same evaluation as `python -m qa eval` (qa/app/eval_tab.py)
            # "Reports": upload (PDF, Word, text) and removal; keeps both report pickers current (library_tab.py)
            library_tab.build_library_tab(demo, engine, chat_picker=doc_pick, browser_picker=browser_doc)
        # ?p=25 or #p25 in the page's address opens ¶25 in the evidence panel (qa/app/links.py).
        link_box = gr.Textbox(visible="hidden", elem_id="rqa-link")
        link_open = gr.Button("Open the linked paragraph", visible="hidden", elem_id="rqa-link-open")

        outputs = [msg, chatbot, history, evidence, searched]
        inputs = [msg, chatbot, history, mode, top_k, doc_pick]
        respond_when_ready = waiting_first(respond, handle, n_outputs=len(outputs))  # "still loading…", then the answer
        # Optional LLM answer, streamed into the chat reply; off unless REPORT_QA_LLM_URL is set (qa/answer/llm.py).
        if llm is not None:
            respond_when_ready = with_llm(respond_when_ready, n_outputs=len(outputs), config=llm)
        msg.submit(respond_when_ready, inputs, outputs, api_visibility="private")
        send.click(respond_when_ready, inputs, outputs, api_visibility="private")
        status_timer(handle, status, [about], lambda: [about_markdown(engine) if handle.ready else "The model is loading…"])
        clear.click(lambda: ([], [], evidence_html(None), ""), None, [chatbot, history, evidence, searched],
                    api_visibility="private")
        # Opening never writes the number back: a reply computed from a stale value would undo the user's typing.
        number.submit(lambda n, r: show_paragraph(n, r)[1], [number, browser_doc], [browser], api_visibility="private")
        open_btn.click(lambda n, r: show_paragraph(n, r)[1], [number, browser_doc], [browser], api_visibility="private")
        prev_btn.click(lambda n, r: show_paragraph(to_number(n, r) - 1, r), [number, browser_doc], [number, browser],
                       api_visibility="private")
        next_btn.click(lambda n, r: show_paragraph(to_number(n, r) + 1, r), [number, browser_doc], [number, browser],
                       api_visibility="private")
        browser_doc.input(show_report, [browser_doc], [number, browser], api_visibility="private")
        link_js = ("(x) => [JSON.stringify({link: window.location.search + window.location.hash, "
                   "languages: navigator.languages || [navigator.language]})]")
        demo.load(open_link, [link_box], [evidence], js=link_js, api_visibility="private")
        link_open.click(open_link, [link_box], [evidence], js=link_js, api_visibility="private")
        gr.api(hide_from_mcp(chat_api), api_name="chat")  # MCP clients get `ask` instead (qa/app/mcp_tools.py)
        register_mcp_tools(engine)  # ask, search, get_paragraph, get_footnote: API endpoints and, with --mcp, MCP tools
    return demo


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from qa.app.cli import serve_options

    return serve_options(argparse.ArgumentParser(prog="app.py", description="report-qa chat app (Gradio)")).parse_args(argv)


def serve(args: argparse.Namespace) -> int:
    """Load the engine, then serve the app (the body of `python app.py` and `report-qa serve`)."""
    from qa.app.memory import start_trimmer, tune_malloc

    tune_malloc()  # before any worker thread starts: memory stays flat under load (qa/app/memory.py)
    start_trimmer()
    from qa.errors import USER_ERRORS
    from qa.retrieval.index import configure_logging

    configure_logging()
    t0 = time.perf_counter()
    try:
        from qa.app import serving
        from qa.app.loading import EngineHandle
        from qa.ingest.library import load_corpus_with_library

        plan = serving.prepare(args)  # sign-in / exposure check first: a refused start loads nothing
        corpus = load_corpus_with_library(args.paths)  # the bundled report (or PATHs) + the library (REPORT_QA_LIBRARY)
        from embeddings.stores import open_store

        open_store(getattr(args, "store", None))  # a bad --store fails here, before anything loads
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import gradio  # noqa: F401 - imported before the loader thread starts, so the two never import it at once

    def load():
        from qa.engine import load_engine

        return load_engine(corpus, model=args.model, store_uri=getattr(args, "store", None),
                           candidates=getattr(args, "candidates", None))

    def loaded(h: EngineHandle) -> None:
        if h.failed:
            print(f"report-qa: error: the model could not be loaded: {h.status_markdown()}", file=sys.stderr, flush=True)
            return
        for r in h.index_reports:
            print(f"report-qa: index {r['model']}: {'loaded' if r.get('loaded') else 'built'} "
                  f"({r.get('units')} units, {r.get('seconds', 0):.1f} s)", flush=True)
        print(f"report-qa: ready in {time.perf_counter() - t0:.1f} s on http://{args.host}:{args.port}", flush=True)

    # The UI is served at once; the models load in the background (qa/app/loading.py).
    print(f"report-qa: loading {len(corpus.documents)} document(s) and the models in the background …", flush=True)
    handle = EngineHandle(corpus, load)
    handle.on_ready(loaded)
    handle.start()
    demo = build_app(handle)
    serving.configure_queue(demo, args)
    print(f"report-qa: serving on http://{args.host}:{args.port} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return serving.launch(demo, args, plan, server_name=args.host, server_port=args.port, show_error=False,
                          quiet=True, css=CSS, head=HEAD, theme=offline_theme(), footer_links=["api"], ssr_mode=False,
                          mcp_server=bool(getattr(args, "mcp", False)))  # --mcp: tools at /gradio_api/mcp/


def main(argv: list[str] | None = None) -> int:
    return serve(parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
