"""What people and programs use: the CLI, the browser app and its API, and how the app is served.

- `cli.py`: the verbs of `python -m qa` / `report-qa`; `options.py`: the options and environment variables the
  CLI and `python app.py` share.
- `api.py`: the app's `/chat` endpoint and its MCP tools (`ask`, `search`, `get_paragraph`, `get_footnote`).
- `ui/`: the Gradio page (`webapp.py`), its tabs (`library_tab.py` on `reports.py`, `eval_tab.py`), the
  renderers of answers, links and evidence (`render.py`, `links.py`, `deeplink.py`, `markup.py`), the LLM
  stream (`llm_stream.py`) and background loading (`loading.py`).
- `serve/`: start-up and clean stop (`launch.py`), sign-in (`auth.py`), request limits (`limits.py`) and the
  allocator settings (`memory.py`).

Nothing in `qa.ingest`, `qa.retrieval` or `qa.answer` imports from here.
"""
