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
</script>
"""


def offline_theme():
    """The default theme with system fonts: the stock one fetches web fonts, and this app runs offline."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "Noto Sans CJK SC", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def about_markdown(engine) -> str:
    from qa.app.render import escape_md

    info = engine.describe()
    lines = ["### About"]
    for m in info["models"]:
        lines.append(f"- **Model ({m['signal']})**: {escape_md(m['model'])} · dim {m['dim']} · weights `{m['fingerprint'][:24]}`")
        lines.append(f"  - index: {m['units']} units ({escape_md(m['unit_type'] or '')}), {m['index_type']}, "
                     f"built {m['created'] or '?'}")
    lines.append("- **Lexical**: BM25 (bm25s) over jieba words + CJK bigrams")
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
    from qa.answer.extractive import Answer, cited_paragraph
    from qa.answer.i18n import labels
    from qa.app.render import answer_markdown, escape_md, evidence_html, paragraph_html
    from qa.errors import USER_ERRORS
    from qa.text import detect_language

    doc = engine.corpus.documents[0]
    first_n, last_n = doc.paragraphs[0].n, doc.paragraphs[-1].n

    def run_ask(message, history, mode, top_k) -> tuple[Answer | None, list[str], str | None]:
        """One turn of the browser tab's conversation: the answer, the new history, or an error message."""
        try:
            session = ChatSession(engine, mode or "hybrid", top_k or 3, list(history or []))
            return session.ask(message), session.history, None
        except USER_ERRORS as exc:
            return None, list(history or []), str(exc)
        except Exception:  # noqa: BLE001 - the user sees a message, the log gets the traceback
            log.exception("answering failed")
            return None, list(history or []), "Something went wrong while answering; please try again or rephrase the question."

    def respond(message, chat, history, mode, top_k):
        message = message if isinstance(message, str) else ""
        shown = message if len(message) <= 2000 else message[:2000] + " …"
        ans, history, error = run_ask(message, history, mode, top_k)
        chat = list(chat or [])
        chat.append({"role": "user", "content": escape_md(shown) or "…"})
        if error:
            chat.append({"role": "assistant", "content": f"**{escape_md(error)}**"})
            return "", chat, history, gr.update(), ""
        chat.append({"role": "assistant", "content": answer_markdown(ans)})
        lab = labels(ans.language)
        searched = f"{escape_md(lab['searched'])}: `{escape_md(ans.query)}`" if ans.kind == "search" else ""
        return "", chat, history, evidence_html(ans), searched

    def chat_api(message: str, mode: str = "hybrid", top_k: int = 3, history: list[str] | None = None) -> dict:
        """Answer a question about the report: verbatim quotes with ¶/footnote citations, and the cited paragraphs."""
        ans, _, error = run_ask(message, history or [], mode, top_k)
        if error:
            return {"error": error}
        data = ans.to_json()
        data["citations"] = [q["citation"] for q in data["quotes"]]
        return data

    def to_number(text) -> int:
        digits = "".join(ch for ch in str(text or "") if ch.isdigit())[:6]
        return max(first_n, min(last_n, int(digits))) if digits else first_n

    def show_paragraph(n) -> tuple[str, str]:
        n = to_number(n)
        p = doc.paragraph(n)
        return str(n), paragraph_html(cited_paragraph(doc, p), detect_language(doc.title))

    with gr.Blocks(title="report-qa · UN report assistant", analytics_enabled=False) as demo:
        gr.Markdown(f"## report-qa · {escape_md(doc.title)}\nAsk in any UN language. Every answer quotes the report "
                    "and cites its paragraph (¶) and footnote numbers; click a citation to open it on the right.")
        history = gr.State([])
        with gr.Row():
            with gr.Column(scale=5):
                chatbot = gr.Chatbot(label="Chat", height=520, elem_id="rqa-chat", sanitize_html=True,
                                     buttons=["copy"], feedback_options=None)
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
                    with gr.Row():
                        prev_btn = gr.Button("◀ Previous", size="sm", elem_id="rqa-prev")
                        number = gr.Textbox(value=str(first_n), label=f"¶ ({first_n}–{last_n})", max_lines=1,
                                            elem_id="rqa-number")
                        open_btn = gr.Button("Open", size="sm", elem_id="rqa-open")
                        next_btn = gr.Button("Next ▶", size="sm", elem_id="rqa-next")
                    browser = gr.HTML(show_paragraph(first_n)[1], elem_id="rqa-browser", js_on_load=None)
                with gr.Accordion("About", open=False):
                    gr.Markdown(about_markdown(engine))

        outputs = [msg, chatbot, history, evidence, searched]
        inputs = [msg, chatbot, history, mode, top_k]
        msg.submit(respond, inputs, outputs, api_visibility="private")
        send.click(respond, inputs, outputs, api_visibility="private")
        clear.click(lambda: ([], [], evidence_html(None), ""), None, [chatbot, history, evidence, searched],
                    api_visibility="private")
        # Opening never writes the number back: a reply computed from a stale value would undo the user's typing.
        number.submit(lambda n: show_paragraph(n)[1], [number], [browser], api_visibility="private")
        open_btn.click(lambda n: show_paragraph(n)[1], [number], [browser], api_visibility="private")
        prev_btn.click(lambda n: show_paragraph(to_number(n) - 1), [number], [number, browser], api_visibility="private")
        next_btn.click(lambda n: show_paragraph(to_number(n) + 1), [number], [number, browser], api_visibility="private")
        gr.api(chat_api, api_name="chat")
    return demo


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from qa.app.cli import serve_options

    return serve_options(argparse.ArgumentParser(prog="app.py", description="report-qa chat app (Gradio)")).parse_args(argv)


def serve(args: argparse.Namespace) -> int:
    """Load the engine, then serve the app (the body of `python app.py` and `report-qa serve`)."""
    from qa.errors import USER_ERRORS
    from qa.retrieval.index import configure_logging

    configure_logging()
    t0 = time.perf_counter()
    try:
        from qa.engine import load_engine
        from qa.ingest.txt import load_corpus

        corpus = load_corpus(args.paths)
        print(f"report-qa: loading {len(corpus.documents)} document(s) and the models …", flush=True)
        engine = load_engine(corpus, model=args.model)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in engine.index_reports:
        print(f"report-qa: index {r['model']}: {'loaded' if r.get('loaded') else 'built'} "
              f"({r.get('units')} units, {r.get('seconds', 0):.1f} s)", flush=True)
    demo = build_app(engine)
    demo.queue(default_concurrency_limit=4, max_size=256)
    print(f"report-qa: ready in {time.perf_counter() - t0:.1f} s on http://{args.host}:{args.port}", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, show_error=False, quiet=True, css=CSS, head=HEAD,
                theme=offline_theme(), footer_links=["api"], ssr_mode=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve(parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
