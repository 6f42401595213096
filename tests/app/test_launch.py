"""The Gradio app, launched for real: the API answers with citations, and a real browser shows the evidence.

The browser test saves its screenshot in a temporary folder; `make screenshot` (REPORT_QA_SCREENSHOT=docs/screenshot.png)
also copies it to the tracked docs/, which an ordinary test run never touches.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import app_server, ask_in_page

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
# On the app's PYTHONPATH: refuses and logs every connection and name lookup outside this machine (its docstring).
LOOPBACK_ONLY = ROOT / "tests" / "fixtures" / "loopback_only"


@pytest.fixture(scope="module")
def server(qa_home, retriever, tmp_path_factory):
    # `retriever` builds the index first, so the app starts from a saved index.
    folder = tmp_path_factory.mktemp("app")
    outbound = folder / "outbound.log"
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(LOOPBACK_ONLY), os.environ.get("PYTHONPATH")) if p),
           "REPORT_QA_OUTBOUND_LOG": str(outbound)}
    with app_server(qa_home, folder / "app.log", extra_env=env) as srv:
        srv.outbound_log = outbound
        yield srv


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode("utf-8", errors="replace")


def _loaded_urls(html: str) -> list[str]:
    """What a browser fetches for this HTML or CSS on its own: script, stylesheet, icon, image and frame sources,
    preconnects, CSS url(...) and @import (not the links a reader may click)."""
    tags = re.findall(r"<(?:script|link|img|iframe|source|video|audio|embed)\b[^>]*>", html, flags=re.I)
    urls = [m for t in tags for m in re.findall(r"\b(?:src|href|srcset)\s*=\s*[\"']?([^\"'\s>]+)", t, flags=re.I)]
    urls += re.findall(r"url\(\s*[\"']?([^\"')\s]+)", html) + re.findall(r"@import\s+[\"']([^\"']+)", html)
    return urls


def test_app_log_shows_a_saved_index_and_no_network(server):
    log = server.log_path.read_text()
    assert "loaded" in log and "ready in" in log
    # The page and what it loads come from the app itself: no script, stylesheet, font or image from another host.
    config = json.loads(_get(server.url + "/config"))
    urls = _loaded_urls(_get(server.url + "/")) + _loaded_urls(_get(server.url + "/theme.css"))
    urls += _loaded_urls(config.get("head") or "") + _loaded_urls(config.get("css") or "") + config["stylesheets"]
    base = server.url + "/"
    outside = [u for u in urls if urlsplit(urljoin(base, u)).scheme not in ("data", "blob")
               and urlsplit(urljoin(base, u)).hostname not in ("127.0.0.1", "localhost")]
    assert urls and outside == [], outside
    # And the app process tried no connection or name lookup outside this machine, from start-up to now.
    tried = server.outbound_log.read_text() if server.outbound_log.exists() else ""
    assert tried == "", tried


def test_api_chat_answers_with_citations(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    r = client.predict("乍得废除了哪项法律中的死刑？", api_name="/chat")
    assert r["covered"] and r["citations"][0] == "[¶90]" and "[¶90]" in r["text"]
    assert r["paragraphs"][0]["n"] == 90 and "乍得" in r["quotes"][0]["text"]
    en = client.predict("What training did staff receive after cyberattacks increased?", api_name="/chat")
    assert en["paragraphs"][0]["n"] == 119 and en["language"] == "en"
    fn = client.predict("fn 6", api_name="/chat")
    assert fn["citations"] == ["[¶25, fn 6]"]
    follow = client.predict("那墨西哥呢？", "hybrid", 3, ["人权高专办在监狱问题上做了什么？"], api_name="/chat")
    assert follow["paragraphs"][0]["n"] == 98 and "监狱" in follow["query"]
    bad = client.predict("   ", api_name="/chat")
    assert "empty" in bad["error"]


def test_report_qa_serve_starts_the_same_app(qa_home, retriever, tmp_path):
    import sys

    from gradio_client import Client

    with app_server(qa_home, tmp_path / "serve.log", cmd=[sys.executable, "-m", "qa", "serve"]) as srv:
        out = Client(srv.url, verbose=False).predict("¶25", api_name="/chat")
        assert out["kind"] == "lookup" and out["paragraphs"][0]["n"] == 25


@pytest.mark.browser
def test_browser_chat_shows_cited_paragraph(server, chromium, tmp_path):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url, wait_until="load")
    ask_in_page(page, "乍得废除了哪项法律中的死刑？")
    card = page.wait_for_selector("#rqa-evidence article[data-paragraph='90']", timeout=60000)
    assert "¶90" in card.inner_text() and "废除了反恐立法规定的死刑" in card.inner_text()
    assert "死刑" in card.query_selector("mark").inner_text()
    chat = page.inner_text("#rqa-chat")
    assert "[¶90]" in chat
    page.screenshot(path=str(tmp_path / "answer-zh.png"))
    if os.environ.get("REPORT_QA_SCREENSHOT"):  # only on request: `make screenshot`
        target = ROOT / os.environ["REPORT_QA_SCREENSHOT"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "answer-zh.png", target)

    ask_in_page(page, "What training did staff receive after cyberattacks increased?")
    page.wait_for_selector("#rqa-evidence article[data-paragraph='119']", timeout=60000)
    assert "[¶119]" in page.inner_text("#rqa-chat")
    # A citation marker in the answer takes the user to that paragraph in the panel.
    page.click("#rqa-chat a[href*='rqa-p-ohchr-2020-h1-zh-119'] >> nth=-1")
    page.wait_for_selector("#rqa-evidence article[data-paragraph='119'].rqa-flash", timeout=5000)
    assert page.url.rstrip("/") == server.url
    page.close()


@pytest.mark.browser
def test_browser_footnotes_links_and_paragraph_browser(server, chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url, wait_until="load")
    ask_in_page(page, "fn 6")
    card = page.wait_for_selector("#rqa-evidence article[data-paragraph='25']", timeout=60000)
    link = card.query_selector("li.rqa-fn a[href^='https://unsdg.un.org']")
    assert link is not None and link.get_attribute("rel") == "noopener noreferrer"
    assert card.query_selector("sup.rqa-fnref")
    page.click("text=Paragraph browser")
    # The accordion renders its content as it opens: wait until the number box is really there.
    page.wait_for_selector("#rqa-number textarea, #rqa-number input", state="visible")
    page.wait_for_selector("#rqa-browser article[data-paragraph='1']", state="visible")
    box = page.locator("#rqa-number textarea, #rqa-number input")
    # Typed key by key, as a user types: each key is an input event Gradio binds, so the value the click sends is
    # the one on screen (CI once saw the card stay on ¶1 after a programmatic fill followed at once by the click).
    box.click()
    box.press("Control+a")
    box.press_sequentially("25", delay=50)
    assert box.input_value() == "25"
    page.click("#rqa-open")
    page.wait_for_selector("#rqa-browser article[data-paragraph='25']", timeout=60000)
    assert box.input_value() == "25"  # opening never writes the number back
    page.click("#rqa-next")
    page.wait_for_selector("#rqa-browser article[data-paragraph='26']", timeout=60000)
    assert box.input_value() == "26"
    page.close()


@pytest.mark.parametrize("payload", [
    "<img src=x onerror=\"window.__xss=1\">",
    "<script>window.__xss=2</script>",
    "[click](javascript:window.__xss=3) **bold** ![i](http://127.0.0.1:9/x.png)",
])
@pytest.mark.browser
def test_browser_escapes_injected_markup(server, chromium, payload):
    page = chromium.new_page()
    page.goto(server.url, wait_until="load")
    ask_in_page(page, payload)
    page.wait_for_function("document.querySelectorAll('#rqa-chat .message, #rqa-chat [data-testid=\"bot\"]').length >= 2"
                           " || document.querySelector('#rqa-chat').innerText.length > 40", timeout=60000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    # The markup is shown as text, never turned into elements.
    assert "window.__xss" in page.inner_text("#rqa-chat")
    assert not page.query_selector("#rqa-chat img[onerror], #rqa-chat img[src='x']")
    assert page.evaluate("[...document.querySelectorAll('#rqa-chat script')].filter(s => s.textContent.includes('__xss')).length") == 0
    assert not page.query_selector("#rqa-chat a[href^='javascript']")
    page.close()
