"""In Chromium, with A/TEST/1 loaded in zh, en and fr (tests/fixtures/versions.py): an English question is answered
with the English text and the same ¶/footnote citation as in Chinese, the Chinese text one click away; a French
reader gets French; a Spanish reader (no Spanish version) gets the original; `?p=3&lang=fr` opens ¶3 in French;
the paragraph browser's Report picker shows a chosen version. The real app with the real models, a library filled
before it starts, and the shared cache home (`qa_home`).

On failure the page's screenshot and HTML are kept in the test's temporary folder.
"""

from __future__ import annotations

import time

import pytest

from tests.app.test_reports_browser import LONG, ask, choose
from tests.conftest import app_server
from tests.fixtures.versions import build_versions

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def app(qa_home, tmp_path_factory):
    from qa.ingest.library import Library

    files = build_versions(tmp_path_factory.getbasetemp() / "version-fixtures")
    library = tmp_path_factory.mktemp("versions-library")
    lib = Library(library)
    for name in ("zh_docx", "en_pdf", "fr_docx"):  # the first added is the original (`added` counts seconds)
        lib.add(files[name])
        time.sleep(1.1)
    with app_server(qa_home, tmp_path_factory.mktemp("app-versions") / "app.log", timeout=LONG / 1000,
                    extra_env={"REPORT_QA_LIBRARY": str(library)}) as srv:
        yield srv


def test_each_reader_reads_their_version_in_the_app(app, chromium, tmp_path):
    from gradio_client import Client

    page = chromium.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(app.url, wait_until="load")
        reply = ask(page, "How many judges and prosecutors did the Office train in Ruritania?")
        assert "The Office trained 240 judges and 118 prosecutors" in reply and "[A/TEST/1 ¶4" in reply
        card = page.wait_for_selector("#rqa-evidence article[id='rqa-p-A-TEST-1-en-4']", timeout=60000)
        assert card is not None and "English" in page.inner_text("#rqa-evidence article header")
        original = page.locator("#rqa-evidence details.rqa-original").first
        assert not original.locator("p").is_visible()  # behind the toggle
        original.locator("summary").click()
        assert "Show the Chinese text" in original.inner_text() and original.locator("p").is_visible()
        assert "240名法官和118名检察官" in original.inner_text()

        reply = ask(page, "Combien de juges et de procureurs le Bureau a-t-il formés en Ruritanie ?")
        assert "Le Bureau a formé 240 juges et 118 procureurs" in reply and "[A/TEST/1 ¶4" in reply
        assert "Afficher le texte original (chinois)" in page.inner_text("#rqa-evidence")

        reply = ask(page, "¿Cuántos jueces y fiscales formó la Oficina?")
        assert "240名法官和118名检察官" in reply and "[A/TEST/1 ¶4" in reply  # no Spanish version: the original
        assert "https://undocs.org/es/A/TEST/1" in page.inner_html("#rqa-evidence")

        api = Client(app.url, verbose=False).predict("How many judges did the Office train?", api_name="/chat")
        q = api["quotes"][0]  # the API carries both texts and which version each came from
        assert (q["paragraph"], q["language"], q["version"], q["original"]["language"]) == (4, "en", "reader", "zh")

        page.goto(app.url + "?p=3&doc=A-TEST-1-zh&lang=fr", wait_until="load")
        page.wait_for_function("(document.querySelector('#rqa-evidence')?.innerText || '').includes('Le 14 mars 2023')",
                               timeout=LONG)

        page.get_by_role("tab", name="Chat").click()
        page.click("text=Paragraph browser")  # the browser's Report picker lists each version: pick the French one
        page.wait_for_selector("#rqa-browser-doc", state="visible")
        choose(page, "#rqa-browser-doc", "(fr)")
        page.wait_for_function("(document.querySelector('#rqa-browser')?.innerText || '').includes('Le présent rapport')",
                               timeout=60000)
    except Exception:
        page.screenshot(path=str(tmp_path / "versions-failure.png"), full_page=True)
        (tmp_path / "versions-failure.html").write_text(page.content(), encoding="utf-8")
        raise
    finally:
        page.close()
