"""The app's MCP server lists exactly its four tools, through the official MCP client, and they answer in the JSON
shape of the CLI and `/chat` (qa/answer/payload.py). The page is built on the bundled report with a fake encoder
(no model), served by Gradio in-process; the real app with the real models is in tests/app/test_links_browser.py."""

from __future__ import annotations

import json

import pytest

from qa.app.api import TOOLS
from tests.appserver import free_port
from tests.conftest import FakeEncoder, run_async


@pytest.fixture(scope="module")
def demo(tmp_path_factory, corpus):
    from qa.app.ui.webapp import build_app
    from qa.engine import Engine
    from qa.retrieval.index import IndexHome, open_index
    from qa.retrieval.lexical import LexicalIndex
    from qa.retrieval.retriever import Retriever

    work = tmp_path_factory.mktemp("mcp")
    mp = pytest.MonkeyPatch()
    mp.setenv("REPORT_QA_LIBRARY", str(work / "library"))  # only the bundled report
    mp.delenv("REPORT_QA_LLM_URL", raising=False)
    store, report = open_index(corpus, FakeEncoder("fake-e5"), home=IndexHome.resolve(work / "home"), quiet=True)
    engine = Engine(corpus, Retriever(corpus, {"e5": (FakeEncoder("fake-e5"), store)}, LexicalIndex.build(corpus)),
                    [report])
    app = build_app(engine)
    app.queue()
    app.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
               mcp_server=True, ssr_mode=False)
    try:
        yield app
    finally:
        app.close()
        mp.undo()


def _mcp(url: str, work):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def run():
        async with streamable_http_client(url + "/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return run_async(run())


def test_mcp_lists_exactly_the_four_tools(demo):
    """Not the UI's status line, its About panel (a lambda), `/chat` or any other event of the page."""
    tools = _mcp(demo.local_url.rstrip("/"), lambda s: s.list_tools()).tools
    assert sorted(t.name for t in tools) == sorted(TOOLS) == ["ask", "get_footnote", "get_paragraph", "search"]


def test_mcp_ask_and_search_return_the_cli_json(demo):
    async def work(s):
        ask = await s.call_tool("ask", {"question": "fn 6"})
        search = await s.call_tool("search", {"query": "乍得 死刑", "top_k": 2})
        return json.loads(ask.content[0].text), json.loads(search.content[0].text)

    ask, search = _mcp(demo.local_url.rstrip("/"), work)
    assert ask["kind"] == "lookup" and ask["citations"][0].startswith("[¶25, fn 6")
    assert ask["quotes"][0]["official"]["citation"] == "A/75/36, para. 25 (fn. 6)"
    hit = search["hits"][0]
    assert len(search["hits"]) == 2 and {"query", "mode", "language", "abstained", "confidence"} <= set(search)
    assert {"rank", "doc", "paragraph", "score", "section", "best_sentences", "footnotes", "signals", "citation",
            "links"} <= set(hit)
    assert hit["citation"].startswith("A/75/36") and hit["links"][0]["url"].startswith("https://undocs.org/")
