"""The Reports tab in a real browser: in Chromium, upload the English PDF through the app, see its parse summary, ask a
question only it answers and get a citation that names it; limit questions to one report; browse its paragraphs;
remove it. The real app (python app.py) with the real models, a temporary library (REPORT_QA_LIBRARY) and the
shared cache home (`qa_home`; REPORT_QA_TEST_HOME reuses one between runs).

On failure the page's screenshot and HTML are kept in the test's temporary folder.
"""

from __future__ import annotations

import re

import pytest

from tests.app.test_reports import QUESTION, SYMBOL
from tests.conftest import app_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LONG = 600_000  # ms: the first start (or a build of the index) can take minutes on a loaded machine


@pytest.fixture(scope="module")
def app(qa_home, tmp_path_factory):
    library = tmp_path_factory.mktemp("library")
    with app_server(qa_home, tmp_path_factory.mktemp("app-library") / "app.log", timeout=LONG / 1000,
                    extra_env={"REPORT_QA_LIBRARY": str(library)}) as srv:
        yield srv, library


def bot_messages(page) -> list[str]:
    return page.eval_on_selector_all('#rqa-chat [data-testid="bot"]', "els => els.map(e => e.innerText)")


def ask(page, text: str) -> str:
    """Ask in the chat; the text of the new assistant reply (once it is an answer, not "still loading")."""
    before = len(bot_messages(page))
    page.get_by_role("tab", name="Chat").click()
    page.fill("#rqa-input textarea", text)
    page.click("#rqa-send")
    page.wait_for_function(
        """n => { const m = [...document.querySelectorAll('#rqa-chat [data-testid="bot"]')];
                  return m.length > n && !m[m.length - 1].innerText.includes('still loading')
                         && m[m.length - 1].innerText.trim().length > 0; }""", arg=before, timeout=LONG)
    page.wait_for_timeout(300)
    return bot_messages(page)[-1]


def choose(page, picker: str, label_part: str) -> None:
    """Pick the option of a Gradio dropdown whose label contains `label_part`."""
    page.click(f"{picker} input")
    page.get_by_role("option", name=label_part).first.click()  # a substring of the label
    page.wait_for_function(
        "([sel, part]) => document.querySelector(sel + ' input').value.includes(part)", arg=[picker, label_part])


def option_labels(page, picker: str) -> list[str]:
    page.click(f"{picker} input")
    labels = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return labels


def upload(page, path, paragraphs: int = 20) -> tuple[str, str]:
    """Upload `path` on the Reports tab; wait for its parse summary and for it to join the index."""
    page.get_by_role("tab", name="Reports").click()
    page.wait_for_selector("#rqa-upload", state="visible")
    page.set_input_files("#rqa-upload input[type=file]", str(path))
    # The progress line ("added …: 20 paragraphs, 6 footnotes - 40.0%") names the count before the summary is
    # rendered: wait for the summary itself, whose last line is its library id.
    page.wait_for_function("(() => { const t = document.querySelector('#rqa-upload-summary').innerText; "
                           f"return t.includes('{paragraphs} paragraphs') && t.includes('Library id'); }})()",
                           timeout=LONG)
    summary = page.inner_text("#rqa-upload-summary")
    page.wait_for_function("document.querySelector('#rqa-upload-status').innerText.includes('is in the index')",
                           timeout=LONG)
    return summary, page.inner_text("#rqa-upload-status")


def test_upload_ask_limit_browse_and_remove_a_report(app, chromium, english_pdf, tmp_path):
    from gradio_client import Client

    srv, library = app
    page = chromium.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(srv.url, wait_until="load")

        # Upload: a progress bar, then the parse summary (counts, warnings), then the report joins the index.
        summary, status = upload(page, english_pdf)
        assert "6 footnotes" in summary and SYMBOL in summary and "freedonia.en.pdf" in summary
        assert "Warnings: none" in summary
        # Only new text is embedded ("… embedded (new text), … reused"), or the index of these two reports is
        # already on disk from an earlier run with the same cache home ("loaded from disk").
        assert "units" in status and ("reused from the cache" in status or "loaded from disk" in status)
        assert SYMBOL in page.inner_text("#rqa-reports")
        page.screenshot(path=str(tmp_path / "reports-tab.png"))
        entries = [d.name for d in library.iterdir() if not d.name.startswith(".")]
        assert len(entries) == 1
        doc_id = entries[0]

        # A question only the English report answers: the citation names it, and its paragraph is shown.
        reply = ask(page, QUESTION)
        assert re.search(rf"\[{re.escape(SYMBOL)} ¶\d+", reply), reply
        card = page.wait_for_selector(f"#rqa-evidence article[id^='rqa-p-{doc_id}-']", timeout=60000)
        assert "312 judges" in page.inner_text("#rqa-evidence") and card is not None
        page.screenshot(path=str(tmp_path / "answer-two-reports.png"))

        # Limit a question to one report: to the bundled one, the English report is never cited ...
        choose(page, "#rqa-doc", "A/75/36")
        reply = ask(page, QUESTION)
        assert SYMBOL not in reply and not page.query_selector(f"#rqa-evidence article[id^='rqa-p-{doc_id}-']")
        # ... and to the English one, "¶5" is its ¶5.
        choose(page, "#rqa-doc", SYMBOL)
        reply = ask(page, "¶5")
        assert f"[{SYMBOL} ¶5" in reply and "71 per cent" in reply
        # The API takes the same limit.
        api = Client(srv.url, verbose=False).predict(QUESTION, "hybrid", 3, [], doc_id, api_name="/chat")
        assert api["covered"] and all(c.startswith(f"[{SYMBOL} ¶") for c in api["citations"])
        assert {p["doc"] for p in api["paragraphs"]} == {doc_id}

        # The paragraph browser works per report.
        page.click("text=Paragraph browser")
        page.wait_for_selector("#rqa-browser-doc", state="visible")
        choose(page, "#rqa-browser-doc", SYMBOL)
        page.wait_for_selector(f"#rqa-browser article[id='rqa-p-{doc_id}-1']", timeout=60000)
        assert "¶ (1–20)" in page.inner_text("#rqa-chat-tab")
        page.click("#rqa-next")
        page.wait_for_selector(f"#rqa-browser article[id='rqa-p-{doc_id}-2']", timeout=60000)

        # Remove it: gone from the library, the pickers and the answers; one report again, so citations are [¶n].
        page.get_by_role("tab", name="Reports").click()
        choose(page, "#rqa-remove-pick", doc_id)
        page.click("#rqa-remove")
        page.wait_for_function("document.querySelector('#rqa-remove-status').innerText.includes('Removed')",
                               timeout=LONG)
        assert SYMBOL not in page.inner_text("#rqa-reports")
        assert [d.name for d in library.iterdir() if not d.name.startswith(".")] == []
        page.get_by_role("tab", name="Chat").click()
        assert not any(SYMBOL in x for x in option_labels(page, "#rqa-doc"))
        reply = ask(page, "fn 6")
        assert "[¶25, fn 6]" in reply and SYMBOL not in reply
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        (tmp_path / "failure.html").write_text(page.content())
        print(f"app log: {srv.log_path}; page: {tmp_path}")
        raise
    finally:
        page.close()
