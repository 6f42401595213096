"""The real app with --mcp: MCP tools through the official client, official-language links, ?p=25 / #p25,
"copy citation", and the Evaluation tab, in Chromium. Nothing is fetched from undocs.org: the browser's requests
to it are answered by a stub inside the test."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import app_server, ask_in_page, run_async

pytestmark = pytest.mark.slow
EN_URL = "https://undocs.org/en/A/75/36"


@pytest.fixture(scope="module")
def server(qa_home, tmp_path_factory):
    work = tmp_path_factory.mktemp("app-links")
    # Only the bundled report: an empty library, whatever other tests added to the shared home.
    # app_server waits until the models (loaded in the background) are ready.
    with app_server(qa_home, work / "app.log", cmd=[sys.executable, "app.py", "--mcp"],
                    extra_env={"REPORT_QA_LIBRARY": str(work / "library")}) as srv:
        yield srv


# --- MCP, through the official client --------------------------------------------------------------------

async def _mcp_session(url: str, work):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(url + "/gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def test_mcp_tools_are_listed_with_what_they_return(server):
    tools = run_async(_mcp_session(server.url, lambda s: s.list_tools())).tools
    by_name = {t.name: t for t in tools}
    # Exactly the four: not /chat (the same as `ask`), nor the page's status line or About panel.
    assert set(by_name) == {"ask", "search", "get_paragraph", "get_footnote"}
    for name in ("ask", "search", "get_paragraph", "get_footnote"):
        assert "Returns: JSON object" in by_name[name].description, name
    assert by_name["get_paragraph"].inputSchema["properties"]["n"]["type"] == "integer"
    assert "question" in by_name["ask"].inputSchema["required"]


def test_mcp_tools_answer(server):
    async def work(s):
        out = {}
        for name, args in [("ask", {"question": "What training did staff receive after cyberattacks increased?"}),
                           ("search", {"query": "乍得 死刑", "top_k": 3}),
                           ("get_paragraph", {"n": 25, "language": "fr"}),
                           ("get_footnote", {"n": 6}),
                           ("get_paragraph", {"n": 999})]:
            res = await s.call_tool(name, args)
            assert not res.isError, res
            out[name if name not in out else name + "_missing"] = json.loads(res.content[0].text)
        return out

    out = run_async(_mcp_session(server.url, work))
    ask = out["ask"]
    assert ask["covered"] and ask["paragraphs"][0]["n"] == 119 and "¶119" in ask["citations"][0]
    assert ask["quotes"][0]["official"]["links"][0]["url"] == EN_URL
    assert out["search"]["hits"][0]["paragraph"] == 90 and out["search"]["hits"][0]["best_sentences"]
    para = out["get_paragraph"]
    assert para["n"] == 25 and para["symbol"] == "A/75/36" and para["citation"] == "A/75/36, par. 25"
    assert para["links"][0] == {"lang": "fr", "code": "fr", "name": "Français", "url": "https://undocs.org/fr/A/75/36",
                                "title": "Ouvrir le ¶25 en Français"}
    assert [f["n"] for f in para["footnotes"]] == [6, 7]
    fn = out["get_footnote"]
    assert fn["paragraph"] == 25 and fn["citation"] == "A/75/36, para. 25 (fn. 6)" and fn["urls"]
    assert "there is no ¶999" in out["get_paragraph_missing"]["error"]


def test_api_chat_returns_the_links(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    r = client.predict("fn 6", api_name="/chat")
    para = json.loads(client.predict(25, "es", api_name="/get_paragraph"))  # the MCP tools are API endpoints too
    assert para["citation"] == "A/75/36, párr. 25" and para["links"][0]["url"] == "https://undocs.org/es/A/75/36"
    assert r["quotes"][0]["official"]["citation"] == "A/75/36, para. 25 (fn. 6)"
    assert r["paragraphs"][0]["official"]["links"][0]["url"] == EN_URL


# --- the browser ----------------------------------------------------------------------------------------

@pytest.fixture
def context(chromium, server):
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    undocs: list[str] = []

    def stub(route):  # never leaves the machine: the official site is answered here
        undocs.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>stub</title>official text")

    ctx.route("https://undocs.org/**", stub)
    ctx.undocs = undocs
    yield ctx
    ctx.close()


def test_browser_open_in_english_from_a_card_and_from_the_chat(server, context):
    page = context.new_page()
    page.goto(server.url, wait_until="load")
    ask_in_page(page, "fn 6")
    card = page.wait_for_selector("#rqa-evidence article[data-paragraph='25']", timeout=60000)
    langs = [a.get_attribute("hreflang") for a in card.query_selector_all("a.rqa-lang")]
    assert langs == ["en", "fr", "es", "ru", "ar", "zh"]  # the reader's language (English) first
    link = card.query_selector("a.rqa-lang[title='Open ¶25 in English']")
    assert link.get_attribute("href") == EN_URL and link.inner_text() == "English"
    with page.expect_popup() as popup:
        link.click()
    assert popup.value.url == EN_URL
    popup.value.close()
    # The chat's citation line offers the same links.
    chat_link = page.wait_for_selector(f"#rqa-chat a[href='{EN_URL}']")
    assert chat_link.inner_text() == "English"
    with page.expect_popup() as popup:
        chat_link.click()
    assert popup.value.url == EN_URL
    assert page.url.rstrip("/") == server.url  # the app itself stays where it was
    assert context.undocs and all(u == EN_URL for u in context.undocs)

    ask_in_page(page, "乍得废除了哪项法律中的死刑？")
    card = page.wait_for_selector("#rqa-evidence article[data-paragraph='90']", timeout=60000)
    first = card.query_selector("a.rqa-lang")
    assert first.get_attribute("hreflang") == "zh" and first.get_attribute("href") == "https://undocs.org/ch/A/75/36"
    assert card.query_selector("button.rqa-copy").get_attribute("data-citation") == "A/75/36，第90段"
    page.close()


def test_browser_copy_citation(server, context):
    page = context.new_page()
    page.goto(server.url, wait_until="load")
    ask_in_page(page, "fn 6")
    button = page.wait_for_selector("#rqa-evidence article[data-paragraph='25'] button.rqa-copy", timeout=60000)
    assert button.inner_text() == "Copy citation"
    assert button.get_attribute("data-citation") == "A/75/36, para. 25 (fn. 6)"
    button.click()
    page.wait_for_function("document.querySelector('#rqa-evidence button.rqa-copy').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == "A/75/36, para. 25 (fn. 6)"
    page.close()


@pytest.mark.parametrize("suffix, n, citation", [
    ("/?p=25", 25, "A/75/36, para. 25"),
    ("/#p25", 25, "A/75/36, para. 25"),
    ("/?p=30&lang=es", 30, "A/75/36, párr. 30"),
])
def test_browser_link_opens_the_paragraph(server, context, suffix, n, citation):
    page = context.new_page()
    page.goto(server.url + suffix, wait_until="load")
    card = page.wait_for_selector(f"#rqa-evidence article[data-paragraph='{n}']", timeout=60000)
    assert f"¶{n}" in card.inner_text()
    assert card.query_selector("button.rqa-copy").get_attribute("data-citation") == citation
    if suffix == "/#p25":  # a new #p… after the page loaded opens that one too
        page.evaluate("window.location.hash = '#p40'")
        page.wait_for_selector("#rqa-evidence article[data-paragraph='40']", timeout=30000)
    page.close()


def test_browser_evaluation_tab_on_an_uploaded_file(server, context, tmp_path):
    from tests.answer.test_links import SMALL_SET

    qfile = tmp_path / "my-questions.jsonl"
    qfile.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in SMALL_SET) + "\n", encoding="utf-8")
    page = context.new_page()
    page.goto(server.url, wait_until="load")
    page.get_by_role("tab", name="Evaluation").click()
    page.wait_for_selector("#rqa-eval-run", state="visible")
    page.set_input_files("#rqa-eval-upload input[type=file]", str(qfile))
    page.wait_for_selector("#rqa-eval-upload :text('my-questions.jsonl')", timeout=30000)
    page.click("#rqa-eval-run")
    page.wait_for_function("document.querySelector('#rqa-eval-status').innerText.includes('Evaluated')",
                           timeout=120000)
    status = page.inner_text("#rqa-eval-status")
    assert "4" in status and "my-questions.jsonl" in status
    answers = page.inner_text("#rqa-eval-answers")
    assert "answer accuracy" in answers and "overall" in answers and "language: fr" in answers
    overall = page.inner_text("#rqa-eval-overall")
    assert all(m in overall for m in ("dense", "lexical", "hybrid")) and "ndcg@10" in overall
    by_lang = page.inner_text("#rqa-eval-language")
    assert all(lang in by_lang for lang in ("zh", "en", "fr"))
    assert "paraphrase" in page.inner_text("#rqa-eval-kind")
    assert "Questions it got most wrong (hybrid" in page.inner_text("#rqa-eval-tab")
    page.wait_for_selector("#rqa-eval-plots img")
    assert len(page.query_selector_all("#rqa-eval-plots img")) >= 2
    hrefs = [a.get_attribute("href") for a in page.query_selector_all("#rqa-eval-files a[href]")]
    shown = "".join(page.inner_text("#rqa-eval-files").split())  # the name and its extension sit in two spans
    for name in ("metrics.json", "report.md", "hybrid.trec", "dense.trec", "lexical.trec", "qrels.txt"):
        assert name in shown and any(h.endswith("/" + name) for h in hrefs), (name, shown, hrefs)
    href = next(h for h in hrefs if h.endswith("/metrics.json"))
    metrics = page.request.get(href if href.startswith("http") else server.url + href).json()
    assert metrics["questions"] == 4 and set(metrics["modes"]) == {"dense", "lexical", "hybrid"}
    page.close()
