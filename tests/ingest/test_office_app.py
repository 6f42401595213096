"""In Chromium, upload a report as LibreOffice exported it (tests/fixtures/office/variant.un_layout.pdf: masthead,
summary box, table of contents, alternating symbol header, GE./job-number footer), see its parse summary, and
ask a question only it answers: the citation names it. The real app with the real models, a temporary library."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.app.test_reports import QUESTION, SYMBOL
from tests.app.test_reports_browser import LONG, ask, upload
from tests.conftest import app_server
from tests.fixtures.office_pdfs import variant_pdf

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def app(qa_home, tmp_path_factory):
    library = tmp_path_factory.mktemp("library")
    with app_server(qa_home, tmp_path_factory.mktemp("app-office") / "app.log", timeout=LONG / 1000,
                    extra_env={"REPORT_QA_LIBRARY": str(library)}) as srv:
        yield srv, library


def test_upload_a_libreoffice_pdf_and_ask_what_only_it_answers(app, chromium, tmp_path):
    srv, library = app
    pdf = shutil.copy(variant_pdf("un_layout"), tmp_path / "A_79_123.libreoffice.pdf")
    page = chromium.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(srv.url, wait_until="load")
        summary, _ = upload(page, pdf)
        assert "6 footnotes" in summary and SYMBOL in summary and "Warnings: none" in summary
        doc_id = next(d.name for d in library.iterdir() if not d.name.startswith("."))

        reply = ask(page, QUESTION)
        assert re.search(rf"\[{re.escape(SYMBOL)} ¶\d+", reply), reply
        page.wait_for_selector(f"#rqa-evidence article[id^='rqa-p-{doc_id}-']", timeout=60000)
        assert "312 judges" in page.inner_text("#rqa-evidence")
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        (tmp_path / "failure.html").write_text(page.content())
        print(f"app log: {srv.log_path}; page: {tmp_path}")
        raise
    finally:
        page.close()
