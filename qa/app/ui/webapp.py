"""The Gradio page of `python app.py` / `report-qa serve`: the Chat tab (chat, evidence panel, paragraph browser,
About), the Evaluation and Reports tabs, links into the app (?p=25), the `/chat` API and the MCP tools.

`build_app(engine)` builds it and only wires components to handlers; the handlers are the plain functions below
(their state, the `LiveEngine`, is bound with `functools.partial`). `qa.app.serve.launch` loads the engine and
serves the page. Nothing here reaches the network: analytics are off and the theme uses system fonts.
"""

from __future__ import annotations

from functools import partial

import gradio as gr

from qa.answer.extractive import Answer
from qa.answer.i18n import labels
from qa.app import api
from qa.app.serve.limits import trim_chat
from qa.app.serve.uploads import TEMP_SWEEP
from qa.app.ui.deeplink import linked_paragraph_html
from qa.app.ui.eval_tab import build_eval_tab
from qa.app.ui.library_tab import build_library_tab, report_picker
from qa.app.ui.llm_stream import app_config, remember_answer, with_llm
from qa.app.ui.loading import EngineHandle, status_timer, waiting_first
from qa.app.ui.markup import code_md, escape_md
from qa.app.ui.render import answer_markdown, evidence_html
from qa.app.ui.reports import LiveEngine, browser_paragraph, browser_range_label
from qa.engine import search_summary

LOADING_ABOUT = "The model is loading…"
MAX_SHOWN_QUESTION = 2000  # characters of a question echoed into the chat

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
// "Copy citation" on a paragraph card copies its data-citation ("A/75/36, para. 25 (fn. 6)"), qa/app/ui/links.py.
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


def offline_theme() -> gr.themes.Base:
    """The default theme with system fonts: the stock one fetches web fonts, and this app runs offline."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Noto Sans CJK SC", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def about_markdown(engine) -> str:
    """The About panel: models, indexes, how the collection is searched, and the documents loaded."""
    info = engine.describe()
    lines = ["### About"]
    for m in info["models"]:
        lines.append(f"- **Model ({m['signal']})**: {escape_md(m['model'])} · dim {m['dim']} · weights {code_md(m['fingerprint'][:24])}")
        lines.append(f"  - index: {m['units']} units ({escape_md(m['unit_type'] or '')}), {m['index_type']}, "
                     f"built {m['created'] or '?'}")
    lines.append("- **Lexical**: BM25 (bm25s) over jieba words + CJK bigrams")
    if info.get("search"):
        lines.append(f"- **Search**: {search_summary(info['search'])}")
    for d in info["documents"]:
        period = d["meta"].get("period", {})
        span = f" · {period.get('start')} – {period.get('end')}" if period else ""
        lines.append(f"- **Document**: {code_md(d['id'])} · {escape_md(d['title'])}{span} · {d['paragraphs']} paragraphs, "
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


# --- handlers (bound to their state in build_app) --------------------------------------------------------

def _shown(message: str) -> str:
    return message if len(message) <= MAX_SHOWN_QUESTION else message[:MAX_SHOWN_QUESTION] + " …"


def respond(ask, message, chat, history, mode, top_k, doc=None):
    """The chat: the question and its answer appended to the chat, the evidence panel, the "searched" line.

    `ask` is `api.run_ask` bound to the live engine (and wrapped by `remember_answer` for the LLM stream)."""
    message = message if isinstance(message, str) else ""
    ans, history, error = ask(message, history, mode, top_k, doc)
    chat = trim_chat(chat)
    chat.append({"role": "user", "content": escape_md(_shown(message)) or "…"})
    if error:
        chat.append({"role": "assistant", "content": f"**{escape_md(error)}**"})
        return "", chat, history, gr.update(), ""
    chat.append({"role": "assistant", "content": answer_markdown(ans)})
    return "", chat, history, evidence_html(ans), searched_line(ans)


def searched_line(ans: Answer) -> str:
    """Under the chat, for a search: what was searched for (the follow-up's rewritten query)."""
    if ans.kind != "search":
        return ""
    return f"{escape_md(labels(ans.language)['searched'])}: {code_md(ans.query)}"


def new_conversation() -> tuple:
    """Empty chat, history, evidence panel and "searched" line."""
    return [], [], evidence_html(None), ""


def show_paragraph(live: LiveEngine, n, report=None) -> tuple[str, str]:
    """The paragraph browser on ¶n of `report` (the browser's "Report" picker): the number shown and its card."""
    n, card, _ = browser_paragraph(live.corpus, report, n)
    return str(n), card


def paragraph_card(live: LiveEngine, n, report=None) -> str:
    """Only the card: opening never writes the number back (a stale reply would undo the user's typing)."""
    return show_paragraph(live, n, report)[1]


def step_paragraph(live: LiveEngine, step: int, n, report=None) -> tuple[str, str]:
    """◀ Previous / Next ▶: the paragraph `step` away from the one typed."""
    return show_paragraph(live, browser_paragraph(live.corpus, report, n)[0] + step, report)


def show_report(live: LiveEngine, report):
    """Another report in the browser: its first paragraph, and the number box labelled with its range."""
    n, card, d = browser_paragraph(live.corpus, report, None)
    return gr.update(value=str(n), label=browser_range_label(d)), card


def open_link(live: LiveEngine, page: str):
    """The evidence panel for ?p=25 / #p25 (reader's language from lang= or the browser's); else unchanged."""
    shown = linked_paragraph_html(live.corpus, page)
    return gr.update() if shown is None else shown


def about_panel(live: LiveEngine, handle: EngineHandle) -> str:
    return about_markdown(live.current()) if handle.ready else LOADING_ABOUT


# --- the page -------------------------------------------------------------------------------------------------

def build_app(engine) -> gr.Blocks:
    """The page for `engine`: a loaded `Engine`, or an `EngineHandle` still loading (`qa/app/ui/loading.py`)."""
    # The models may still be loading: `handle.corpus` is there at once, the retriever waits.
    handle = EngineHandle.of(engine)
    live = LiveEngine(handle)  # rebuilt and swapped when a report is added or removed (reports.py)
    doc = live.corpus.documents[0]
    first_n, last_n = doc.paragraphs[0].n, doc.paragraphs[-1].n
    ask = remember_answer(partial(api.run_ask, live))  # lets the LLM answer find this turn's Answer (llm_stream.py)
    llm = app_config()  # the optional LLM endpoint (REPORT_QA_LLM_URL …), None when off
    private = {"api_visibility": "private"}  # UI events: neither API endpoints nor MCP tools

    # Uploads nobody used leave Gradio's temp folder after a while, all of them when the server stops (uploads.py).
    with gr.Blocks(title="report-qa · UN report assistant", analytics_enabled=False, delete_cache=TEMP_SWEEP) as demo:
        gr.Markdown(f"## report-qa · {escape_md(doc.title)}\nAsk in any UN language. Every answer quotes the report "
                    "and cites its paragraph (¶) and footnote numbers; click a citation to open it on the right.")
        status = gr.Markdown(handle.status_markdown(), elem_id="rqa-status")
        history = gr.State([])
        with gr.Tabs(elem_id="rqa-tabs"):
            with gr.Tab("Chat", id="chat", elem_id="rqa-chat-tab"):
                with gr.Row():
                    with gr.Column(scale=5):
                        chatbot = gr.Chatbot(label="Chat", height=520, elem_id="rqa-chat", sanitize_html=True,
                                             buttons=["copy"], feedback_options=None)
                        doc_pick = report_picker(live, label="Search in", elem_id="rqa-doc")
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
                            browser_doc = report_picker(live, label="Report", all_reports=False,
                                                        elem_id="rqa-browser-doc")
                            with gr.Row():
                                prev_btn = gr.Button("◀ Previous", size="sm", elem_id="rqa-prev")
                                number = gr.Textbox(value=str(first_n), label=f"¶ ({first_n}–{last_n})", max_lines=1,
                                                    elem_id="rqa-number")
                                open_btn = gr.Button("Open", size="sm", elem_id="rqa-open")
                                next_btn = gr.Button("Next ▶", size="sm", elem_id="rqa-next")
                            browser = gr.HTML(paragraph_card(live, first_n), elem_id="rqa-browser", js_on_load=None)
                        with gr.Accordion("About", open=False):
                            about = gr.Markdown(about_panel(live, handle))
            build_eval_tab(live.current)  # the same evaluation as `python -m qa eval` (eval_tab.py)
            # "Reports": upload (PDF, Word, text) and removal; keeps both report pickers current (library_tab.py)
            build_library_tab(demo, live, chat_picker=doc_pick, browser_picker=browser_doc)
        # ?p=25 or #p25 in the page's address opens ¶25 in the evidence panel (deeplink.py).
        link_box = gr.Textbox(visible="hidden", elem_id="rqa-link")
        link_open = gr.Button("Open the linked paragraph", visible="hidden", elem_id="rqa-link-open")

        # The status line and the About panel are computed again for every page that opens.
        demo.load(handle.status_markdown, None, [status], queue=False, show_progress="hidden", **private)
        demo.load(partial(about_panel, live, handle), None, [about], queue=False, show_progress="hidden", **private)
        status_timer(handle, status, [about], lambda: [about_panel(live, handle)])  # until the models are loaded

        outputs = [msg, chatbot, history, evidence, searched]
        inputs = [msg, chatbot, history, mode, top_k, doc_pick]
        # "still loading…" first while the models load, then the answer (loading.py)
        respond_when_ready = waiting_first(partial(respond, ask), handle, n_outputs=len(outputs))
        # Optional LLM answer, streamed into the chat reply; off unless REPORT_QA_LLM_URL is set (llm_stream.py).
        if llm is not None:
            respond_when_ready = with_llm(respond_when_ready, n_outputs=len(outputs), config=llm)
        msg.submit(respond_when_ready, inputs, outputs, **private)
        send.click(respond_when_ready, inputs, outputs, **private)
        clear.click(new_conversation, None, [chatbot, history, evidence, searched], **private)

        browse = [number, browser_doc]
        number.submit(partial(paragraph_card, live), browse, [browser], **private)
        open_btn.click(partial(paragraph_card, live), browse, [browser], **private)
        prev_btn.click(partial(step_paragraph, live, -1), browse, [number, browser], **private)
        next_btn.click(partial(step_paragraph, live, 1), browse, [number, browser], **private)
        browser_doc.input(partial(show_report, live), [browser_doc], [number, browser], **private)

        link_js = ("(x) => [JSON.stringify({link: window.location.search + window.location.hash, "
                   "languages: navigator.languages || [navigator.language]})]")
        demo.load(partial(open_link, live), [link_box], [evidence], js=link_js, **private)
        link_open.click(partial(open_link, live), [link_box], [evidence], js=link_js, **private)
        api.register(live, llm)  # /chat, and ask, search, get_paragraph, get_footnote: API endpoints and MCP tools
    return demo
