"""What a shared server meets (docs/security.md): guessed passwords, uploads that would fill the disk, a kill
during an upload, junk on every route, a Symbol field with markup, code spans with backslashes.

The fast tests drive the pieces on small Starlette apps; the slow ones the real app (`python app.py`) on loopback
over real HTTP, with its own library and Gradio temp folder. Loops are bounded; nothing asserts on time."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from qa.app.serve.limits import MAX_TEMP_BYTES_PER_CLIENT, MAX_UPLOAD_BYTES, human_bytes
from qa.app.serve.throttle import FREE_FAILURES, LoginThrottleMiddleware, SignInThrottle
from qa.app.serve.uploads import MESSAGES, TempUploads, UploadGuardMiddleware
from qa.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


# --- sign-in throttling ---------------------------------------------------------------------------------

def test_throttle_waits_double_after_the_free_failures_and_a_success_clears_them():
    clock = Clock()
    t = SignInThrottle(clock=clock)
    keys = t.keys("alice", "203.0.113.7")
    assert keys == ["user:alice", "addr:203.0.113.7"]
    for _ in range(FREE_FAILURES):
        assert t.failed(keys) == 0 and t.wait_s(keys) == 0
    assert t.failed(keys) == 1.0 and t.wait_s(keys) == 1.0
    clock.t += 1.0
    assert t.wait_s(keys) == 0
    assert [t.failed(keys) for _ in range(3)] == [2.0, 4.0, 8.0]
    assert t.wait_s(["user:alice"]) == 8.0 and t.wait_s(["user:bob", "addr:203.0.113.7"]) == 8.0
    assert t.wait_s(t.keys("bob", "198.51.100.1")) == 0  # another account from another address: no wait
    for _ in range(40):
        t.failed(keys)
    assert t.wait_s(keys) == 300.0  # capped
    clock.t += 300.0
    t.succeeded(keys)
    assert t.wait_s(keys) == 0 and t.failed(keys) == 0  # from zero again
    clock.t += 10 * 3600
    assert t.failed(keys) == 0  # failures left alone long enough are forgotten


def _login_app(throttle):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def login(request: Request):
        form = await request.form()
        if form.get("username") == "alice" and form.get("password") == "R1ght-Secret":
            return JSONResponse({"success": True})
        return JSONResponse({"detail": "Incorrect credentials."}, status_code=400)

    return Starlette(routes=[Route("/login", login, methods=["POST"])],
                     middleware=[Middleware(LoginThrottleMiddleware, throttle=throttle)])


def test_login_form_gets_429_with_retry_after_then_the_right_password_works(caplog):
    from starlette.testclient import TestClient

    clock = Clock()
    c = TestClient(_login_app(SignInThrottle(clock=clock)))
    caplog.set_level(logging.WARNING, logger="report_qa")
    statuses = [c.post("/login", data={"username": "alice", "password": f"guess-{i}"}).status_code for i in range(50)]
    assert statuses[:FREE_FAILURES + 1] == [400] * (FREE_FAILURES + 1) and set(statuses[FREE_FAILURES + 1:]) == {429}
    r = c.post("/login", data={"username": "alice", "password": "R1ght-Secret"})  # locked: refused unchecked
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and "wait 1 s" in r.json()["detail"]
    r = c.post("/login", files={"username": (None, "alice"), "password": (None, "R1ght-Secret")})  # as a browser
    assert r.status_code == 429
    clock.t += 1
    assert c.post("/login", files={"username": (None, "alice"), "password": (None, "R1ght-Secret")}).status_code == 200
    assert c.post("/login", data={"username": "alice", "password": "wrong"}).status_code == 400  # cleared: free again
    log = caplog.text
    assert "sign-in failed (login form) for account 'alice' from testclient" in log
    assert "guess-" not in log and "R1ght-Secret" not in log


def test_basic_and_bearer_on_the_guarded_routes_are_throttled_too():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from qa.app.serve.auth import AuthGuardMiddleware, load_credentials

    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    app = Starlette(routes=[Route("/gradio_api/mcp/x", lambda r: PlainTextResponse("tool"))],
                    middleware=[Middleware(AuthGuardMiddleware, credentials=load_credentials(["alice:pw"]),
                                           throttle=throttle)])
    app.tokens = {"tok": "alice"}
    c = TestClient(app)

    def basic(pw):
        return {"Authorization": "Basic " + base64.b64encode(f"alice:{pw}".encode()).decode()}

    statuses = [c.get("/gradio_api/mcp/x", headers=basic(f"no{i}")).status_code for i in range(50)]
    assert statuses.count(401) == FREE_FAILURES + 1 and statuses.count(429) == 50 - FREE_FAILURES - 1
    r = c.get("/gradio_api/mcp/x", headers=basic("pw"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    clock.t += int(r.headers["retry-after"])
    assert c.get("/gradio_api/mcp/x", headers=basic("pw")).text == "tool"
    # Forged Bearer tokens count against the address.
    statuses = [c.get("/gradio_api/mcp/x", headers={"Authorization": f"Bearer forged{i}"}).status_code for i in range(20)]
    assert 429 in statuses and c.get("/gradio_api/mcp/x", headers={"Authorization": "Bearer tok"}).status_code == 429
    clock.t += 3600
    assert c.get("/gradio_api/mcp/x", headers={"Authorization": "Bearer tok"}).text == "tool"


# --- uploads waiting in Gradio's temp folder ------------------------------------------------------------

def test_temp_uploads_count_per_owner_and_release_only_inside_the_upload_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    folder = tmp_path / "gradio" / ("a" * 64)
    folder.mkdir(parents=True)
    f = folder / "report.pdf"
    f.write_bytes(b"x" * 1000)
    outside = tmp_path / "mine.pdf"
    outside.write_bytes(b"y")
    u = TempUploads(per_client=1500, total=2500)
    u.add("addr:1", [str(f)])
    u.add("addr:2", [str(f)])  # the same content again: Gradio stores it once
    assert u.held("addr:1") == 1000 and u.refusal("addr:1", 600)[0] == "client_quota"
    assert u.refusal("addr:3", 600) is None and u.refusal("addr:3", 1600)[0] == "client_quota"
    assert u.release(str(f)) is False and f.exists()  # another pending upload holds it
    assert u.release(str(f)) is True and not f.exists() and not folder.exists()
    assert u.held() == 0
    assert u.release(str(outside)) is False and outside.exists()  # never outside Gradio's upload folder


def _upload_app(uploads):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def upload(request):
        body = await request.body()
        if len(body) > 5000:
            return PlainTextResponse("File size exceeded maximum allowed size of 5000 bytes.", status_code=413)
        return JSONResponse([])

    return Starlette(routes=[Route("/gradio_api/upload", upload, methods=["POST"])],
                     middleware=[Middleware(UploadGuardMiddleware, uploads=uploads, max_file_bytes=5000)])


def test_upload_refusals_are_clear_and_in_the_readers_language():
    from starlette.testclient import TestClient

    c = TestClient(_upload_app(TempUploads(per_client=3000, total=10_000)))
    assert c.post("/gradio_api/upload", content=b"x" * 100).status_code == 200
    r = c.post("/gradio_api/upload", content=b"x" * 4000, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/plain")
    assert r.text == MESSAGES["client_quota"]["fr"].format(held="0 bytes", limit=human_bytes(3000))
    assert c.post("/gradio_api/upload", content=b"x" * 2000, headers={"Accept-Language": "zh-CN"}).status_code == 200
    r = c.post("/gradio_api/upload", content=b"x" * 3500, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 413 and r.text == MESSAGES["client_quota"]["zh"].format(held="0 bytes",
                                                                                 limit=human_bytes(3000))
    r = TestClient(_upload_app(TempUploads(per_client=10_000, total=10_000))).post(
        "/gradio_api/upload", content=b"x" * 6000, headers={"Accept-Language": "es"})
    assert r.status_code == 413 and r.text == MESSAGES["file_too_large"]["es"].format(limit=human_bytes(5000))

    def chunks():
        yield b"x" * 10

    r = c.post("/gradio_api/upload", content=chunks())  # no Content-Length
    assert r.status_code == 411 and "Content-Length" in r.text


def test_one_upload_limit():
    from qa.app.ui import library_tab, reports
    from qa.ingest.files import MAX_BYTES

    assert MAX_UPLOAD_BYTES == MAX_BYTES == 50 * 1024 * 1024 and human_bytes(MAX_UPLOAD_BYTES) == "50 MB"
    assert not hasattr(reports, "upload_limit")
    assert "MAX_UPLOAD_BYTES" in Path(library_tab.__file__).read_text()
    doc = (ROOT / "docs" / "security.md").read_text()
    assert human_bytes(MAX_UPLOAD_BYTES) in doc and human_bytes(MAX_TEMP_BYTES_PER_CLIENT) in doc


def test_leftover_library_writes_are_removed(tmp_path):
    from qa.ingest.library import Library

    lib = Library(tmp_path / "library")
    assert lib.clean_leftovers() == []
    (tmp_path / "library" / ".incoming-abc").mkdir(parents=True)
    (tmp_path / "library" / ".incoming-abc" / "source.pdf").write_bytes(b"%PDF-1.4 half")
    (tmp_path / "library" / ".removing-x-1").mkdir()
    assert sorted(lib.clean_leftovers()) == [".incoming-abc", ".removing-x-1"]
    assert [p.name for p in (tmp_path / "library").iterdir()] == [".lock"]


# --- fields and markup -------------------------------------------------------------------------------------

def test_symbol_field_takes_only_un_symbols():
    from qa.app.ui.reports import check_symbol

    for ok in ("A/79/123", "A/HRC/55/L.1/Rev.1", "E/CN.4/2005/L.10/Add.1", "S/2024/100", "A/79/6(Sect.24)", " A/75/36 "):
        assert check_symbol(ok) == ok.strip()
    assert check_symbol("") is None and check_symbol(None) is None
    for bad in ("<img src=x onerror=alert(1)>", "A/79/123 <b>", "not a symbol", "A//", "a/79/1", "A/79/1;DROP"):
        with pytest.raises(UserError, match="not a UN document symbol"):
            check_symbol(bad)


def test_untitled_report_is_titled_after_its_file(tmp_path):
    import docx

    from qa.ingest.library import Library

    d = docx.Document()
    for i in range(1, 4):
        d.add_paragraph(f"{i}. The Office trained staff in year {2020 + i} across several regions of the world.")
    path = tmp_path / "untitled-report.docx"
    d.save(path)
    result = Library(tmp_path / "library").add(path)
    assert result.entry.title == result.document.title == "untitled-report"


def test_code_spans_show_text_exactly():
    from markdown_it import MarkdownIt

    from qa.app.ui.markup import code_md

    md = MarkdownIt("commonmark")
    for text in ["[x](javascript:alert(1))", "new_1-en", "a `tick` and ``two``", "`edge`", "<img src=x>", "a*b*_c_",
                 "\\[¶25\\]", "two\nlines"]:
        rendered = md.render(code_md(text))
        inner = re.fullmatch(r"<p><code>(.*)</code></p>\n", rendered, re.S).group(1)
        assert html.unescape(inner) == " ".join(text.splitlines()), (text, rendered)


def test_what_the_app_shows_in_code_spans_has_no_backslashes():
    from types import SimpleNamespace

    from qa.app.ui.reports import index_markdown
    from qa.app.ui.webapp import searched_line

    ans = SimpleNamespace(kind="search", language="en", query="[x](…) new_1-en")
    assert searched_line(ans).endswith("`[x](…) new_1-en`")
    assert "`[new_1-en ¶1]`" in index_markdown([], "new_1-en")


# --- the real app on loopback --------------------------------------------------------------------------------

def _walk_routes() -> list[tuple[str, list[str]]]:
    """Gradio's public routes (from a throwaway Blocks; the app adds the same routes), plus MCP's."""
    import gradio as gr
    from gradio.routes import App

    with gr.Blocks() as demo:
        gr.Textbox()
    app = App.create_app(demo, app_kwargs={})
    out: list[tuple[str, list[str]]] = []

    def add(routes):
        for r in routes:
            if hasattr(r, "original_router"):
                add(r.original_router.routes)
            elif getattr(r, "path", None):
                out.append((r.path, sorted(getattr(r, "methods", None) or ["GET"])))

    add(app.routes)
    return out + [("/gradio_api/mcp/", ["GET", "POST"]), ("/gradio_api/mcp/schema", ["GET"])]


FILL = {"api_name": ["chat", "ask", "nope"], "event_id": ["0" * 32], "session_hash": ["zz"],
        "path": ["x", "..%2F..%2Fetc%2Fpasswd"], "path_or_url": ["/etc/passwd", "http://127.0.0.1:1/"],
        "size": ["x", "-1"]}
QUERIES = ["", "?page=x", "?page=%00&deep_link=%ff", "?session_hash=&fn_index=x&upload_id=..%2F",
           "?all_endpoints=maybe&size=-1&lang=<x>&p=99999999999999999999", "?" + "a=" * 300]
BODIES = [None, b"\xff\xfe junk", b"{}", b'{"data": "x"}', b'{"data": ["fn 6"]}', b"[1,2",
          b'{"data": [], "fn_index": "x", "session_hash": 5}', b'{"data": [null, null, null, null, null, null, null]}',
          b'{"data": [5, ["x"], 1e999, "nope", {"a": 1}]}', b'{"data": ["fn 6", "nope", "x", "notalist", 7]}',
          b'{"message": 5, "top_k": "x"}', b'{"data": [123456789012345678901234567890]}']


def _paths(path: str):
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    if not names:
        return [path]
    out = [path]
    for n in names:
        out = [re.sub(r"{" + n + r"(?::\w+)?}", v, p, count=1) for p in out for v in FILL.get(n, ["x"])]
    return out


@pytest.fixture(scope="module")
def open_server(qa_home, tmp_path_factory):
    from tests.appserver import AppServer

    work = tmp_path_factory.mktemp("harden")
    srv = AppServer(qa_home, work / "app.log", cmd=[sys.executable, "app.py", "--mcp"],
                    extra_env={"REPORT_QA_LIBRARY": str(work / "library"), "GRADIO_TEMP_DIR": str(work / "gradio")})
    srv.wait()
    srv.work = work
    yield srv
    srv.stop()


def _event(http, url: str, api: str, body: dict) -> tuple[int, str, object]:
    """(submit status, last event name, its data) of a /gradio_api/call/API request."""
    r = http.post(f"{url}/gradio_api/call/{api}", json=body)
    if r.status_code != 200:
        return r.status_code, "", r.json()
    event, data = "", None
    with http.stream("GET", f"{url}/gradio_api/call/{api}/{r.json()['event_id']}") as s:
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.split(":", 1)[1])
                break
    return 200, event, data


@pytest.mark.slow
def test_short_rest_calls_get_defaults_or_a_clear_4xx(open_server):
    import httpx

    url = open_server.url
    with httpx.Client(timeout=60, trust_env=False) as http:
        status, event, data = _event(http, url, "chat", {"data": ["fn 6"]})  # only the question
        assert (status, event) == (200, "complete") and data[0]["citations"][0].startswith("[¶25, fn 6")
        status, event, data = _event(http, url, "search", {"data": ["death penalty"]})
        assert (status, event) == (200, "complete") and json.loads(data[0])["hits"]
        status, _, data = _event(http, url, "chat", {"data": []})
        assert status == 422 and "needs 'message'" in data["detail"]
        status, _, data = _event(http, url, "chat", {"data": ["fn 6", "hybrid", 3, [], None, "extra"]})
        assert status == 422 and "at most 5 values" in data["detail"]
        status, _, data = _event(http, url, "nope", {"data": []})
        assert status == 404 and "/chat" in data["detail"]
        status, event, data = _event(http, url, "chat", {"data": [5, "nope", "x"]})
        assert (status, event) == (200, "complete") and "must be text" in data[0]["error"]
        r = http.get(url + "/?page=anything")
        assert r.status_code == 404 and "no page 'anything'" in r.json()["detail"]
        assert http.get(url + "/?p=25").status_code == 200


@pytest.mark.slow
def test_route_walk_finds_no_5xx_and_no_traceback(open_server):
    import httpx

    url = open_server.url
    seen, bad = 0, []
    with httpx.Client(timeout=httpx.Timeout(20), trust_env=False) as http:
        for route, methods in _walk_routes():
            for path in _paths(route):
                for method in methods:
                    for query in QUERIES:
                        for body in BODIES if method == "POST" else [None]:
                            seen += 1
                            headers = {"content-type": "application/json"} if body else {}
                            try:
                                with http.stream(method, url + path + query, content=body, headers=headers) as r:
                                    status = r.status_code
                            except httpx.HTTPError as exc:
                                status = type(exc).__name__
                            if not isinstance(status, int) or status >= 500:
                                bad.append((method, path + query[:40], body[:40] if body else None, status))
    print(f"\nroute walk: {seen} requests, {len(_walk_routes())} routes, {len(bad)} 5xx")
    assert seen > 1000 and not bad, bad[:20]
    log = open_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def _ui(url: str):
    from bench.soak import ApiClient, UiClient

    return UiClient(ApiClient(url, timeout=300))


def _temp_files(srv) -> list[Path]:
    """The uploads in the server's Gradio temp folder: <sha256 of the content>/<file name>."""
    root = srv.work / "gradio"
    if not root.exists():
        return []
    return [p for d in root.iterdir() if re.fullmatch(r"[0-9a-f]{64}", d.name) for p in d.iterdir()]


@pytest.mark.slow
def test_uploads_past_the_quota_are_refused_and_temp_files_go_after_add_or_refuse(open_server, english_pdf):
    import httpx

    from bench.soak import UploadRefused

    ui = _ui(open_server.url)
    junk = b"%PDF-1.4\n" + b"\0" * (45 * 1024 * 1024)  # says PDF, is not one: refused when added
    first = ui.upload("junk-1.pdf", junk[:-1] + b"1")
    second = ui.upload("junk-2.pdf", junk[:-1] + b"2")
    assert len(_temp_files(open_server)) == 2
    r = httpx.post(open_server.url + "/gradio_api/upload", files={"files": ("junk-3.pdf", junk, "application/pdf")},
                   headers={"Accept-Language": "fr"}, timeout=120, trust_env=False)
    assert r.status_code == 413 and re.match(r"Vos fichiers en attente sur le serveur occupent déjà 90(\.0)? MB", r.text)
    assert f"la limite est de {human_bytes(MAX_TEMP_BYTES_PER_CLIENT)}" in r.text
    assert len(_temp_files(open_server)) == 2  # the refused one was never written
    for file in (first, second):  # added → refused ("not a PDF"): the temp file goes
        status, out = ui.run("rqa-upload", "upload", {"rqa-upload": file})
        assert status == 200 and "Not added" in json.dumps(out, ensure_ascii=False)
    assert _temp_files(open_server) == []
    # One over the upload limit: Gradio's own 413, in words.
    with pytest.raises(UploadRefused) as err:
        ui.upload("big.pdf", b"%PDF-1.4\n" + b"\0" * (MAX_UPLOAD_BYTES + 1))
    assert err.value.status == 413 and f"larger than {human_bytes(MAX_UPLOAD_BYTES)}" in str(err.value)
    # A Symbol with markup is refused, the upload leaves temp; then the real report is added and leaves temp too.
    file = ui.upload("freedonia.en.pdf", english_pdf.read_bytes(), "application/pdf")
    status, out = ui.run("rqa-upload", "upload", {"rqa-upload": file, "rqa-up-symbol": "<img src=x onerror=alert(1)>"})
    assert status == 200 and "not a UN document symbol" in json.dumps(out, ensure_ascii=False)
    assert _temp_files(open_server) == []
    file = ui.upload("freedonia.en.pdf", english_pdf.read_bytes(), "application/pdf")
    status, out = ui.run("rqa-upload", "upload", {"rqa-upload": file})
    assert status == 200 and "is in the index" in json.dumps(out, ensure_ascii=False)
    assert _temp_files(open_server) == []
    assert "Traceback" not in open_server.log_path.read_text(errors="replace")


# Runs the app with every fsync slowed down (real writes, only slower), so a SIGKILL lands while the upload is
# being saved into the library's hidden .incoming-* folder.
SLOW_FSYNC_APP = (
    "import os, sys, time\n"
    "real_fsync = os.fsync\n"
    "def slow_fsync(fd):\n"
    "    time.sleep(3.0)\n"
    "    return real_fsync(fd)\n"
    "os.fsync = slow_fsync\n"
    "from qa.app.serve.launch import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)


@pytest.mark.slow
def test_sigkill_while_saving_an_upload_leaves_no_incoming_after_the_restart(qa_home, tmp_path, english_pdf):
    import threading

    from tests.appserver import AppServer

    library = tmp_path / "library"
    env = {"REPORT_QA_LIBRARY": str(library), "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    srv = AppServer(qa_home, tmp_path / "killed.log", cmd=[sys.executable, "-c", SLOW_FSYNC_APP], extra_env=env)
    try:
        srv.wait(ready=False)  # saving a report needs no model
        ui = _ui(srv.url)
        file = ui.upload("freedonia.en.pdf", english_pdf.read_bytes(), "application/pdf")
        def add():
            try:
                ui.run("rqa-upload", "upload", {"rqa-upload": file})
            except Exception:  # noqa: BLE001 - the server is killed under this request: that is the point
                pass

        threading.Thread(target=add, daemon=True).start()
        incoming: list[Path] = []
        for _ in range(1200):  # at most ~2 minutes
            incoming = list(library.glob(".incoming-*")) if library.exists() else []
            if incoming or srv.proc.poll() is not None:
                break
            time.sleep(0.1)
        assert incoming, "the upload never reached the library's .incoming-* folder"
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(30)
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
        srv.log.close()
    assert srv.proc.returncode == -signal.SIGKILL and list(library.glob(".incoming-*"))  # the debris is there
    again = AppServer(qa_home, tmp_path / "restart.log", extra_env=env)
    try:
        again.wait(ready=False)
        assert list(library.glob(".incoming-*")) == []
        assert [p.name for p in library.iterdir() if not p.name.startswith(".")] == []  # nothing half-added
        assert "removed 1 unfinished library write(s): .incoming-" in again.log_path.read_text()
    finally:
        again.stop()


@pytest.fixture(scope="module")
def auth_server(qa_home, tmp_path_factory):
    from tests.appserver import AppServer

    work = tmp_path_factory.mktemp("harden-auth")
    srv = AppServer(qa_home, work / "app.log",
                    cmd=[sys.executable, "app.py", "--auth", "alice:al1ce-pass", "--auth", "bob:b0b-pass", "--mcp"],
                    extra_env={"REPORT_QA_LIBRARY": str(work / "library")})
    srv.wait(ready=False)  # signing in needs no model
    yield srv
    srv.stop()


# What Gradio serves without sign-in even with accounts (docs/security.md, "What is not guarded").
OPEN_WITH_ACCOUNTS = {"/", "/favicon.ico", "/theme.css", "/robots.txt", "/manifest.json", "/gradio_api/theme.css",
                      "/gradio_api/heartbeat/{session_hash}", "/gradio_api/startup-events", "/gradio_api/app_id",
                      "/gradio_api/app_id/", "/gradio_api/user", "/gradio_api/user/", "/gradio_api/token",
                      "/gradio_api/token/", "/login", "/login/", "/logout", "/openapi.json", "/pwa_icon",
                      "/pwa_icon/{size}", "/static/{path:path}", "/assets/{path:path}", "/svelte/{path:path}"}


@pytest.mark.slow
def test_with_accounts_only_the_documented_routes_are_open(auth_server):
    """Every other GET route answers 401 without credentials (or 404/405 for what this app does not have)."""
    import httpx

    opened = []
    with httpx.Client(timeout=httpx.Timeout(10), trust_env=False) as http:
        for route, methods in _walk_routes():
            if "GET" not in methods or route in OPEN_WITH_ACCOUNTS:
                continue
            for path in _paths(route)[:1]:
                with http.stream("GET", auth_server.url + path) as r:
                    if r.status_code < 400 or r.status_code >= 500:
                        opened.append((path, r.status_code))
    assert not opened, opened
    with httpx.Client(timeout=10, trust_env=False) as http:
        assert http.get(auth_server.url + "/gradio_api/token").json() == {"token": None, "user": None}
        assert http.get(auth_server.url + "/gradio_api/user").json() is None


def _after_the_wait(attempt, tries: int = 12):
    """Repeat `attempt()` while it answers 429, sleeping its Retry-After in between (at most `tries` times)."""
    r = attempt()
    for _ in range(tries):
        if r.status_code != 429:
            return r
        time.sleep(int(r.headers["retry-after"]))
        r = attempt()
    return r


@pytest.mark.slow
def test_fifty_wrong_sign_ins_on_the_form_are_throttled_then_the_right_password_works(auth_server):
    import httpx

    url = auth_server.url
    with httpx.Client(timeout=30, trust_env=False) as http:
        answers = [http.post(url + "/login", data={"username": "alice", "password": f"guess-{i}"}) for i in range(50)]
        statuses = [r.status_code for r in answers]
        assert set(statuses) == {400, 429} and statuses[:FREE_FAILURES] == [400] * FREE_FAILURES, statuses
        assert statuses.count(400) <= FREE_FAILURES + 6  # the rest were refused unchecked
        waited = next(r for r in answers if r.status_code == 429)
        assert int(waited.headers["retry-after"]) >= 1 and "Too many failed sign-ins" in waited.json()["detail"]
        ok = _after_the_wait(lambda: http.post(url + "/login", data={"username": "alice", "password": "al1ce-pass"}))
        assert ok.status_code == 200 and ok.json() == {"success": True}


@pytest.mark.slow
def test_fifty_wrong_basic_headers_are_throttled_then_the_right_one_works(auth_server):
    import httpx

    url = auth_server.url

    def basic(password):
        return {"Authorization": "Basic " + base64.b64encode(f"bob:{password}".encode()).decode()}

    with httpx.Client(timeout=30, trust_env=False) as http:
        statuses = [http.get(url + "/gradio_api/mcp/schema", headers=basic(f"guess-{i}")).status_code for i in range(50)]
        assert set(statuses) == {401, 429} and statuses.count(401) <= FREE_FAILURES + 6, statuses
        ok = _after_the_wait(lambda: http.get(url + "/gradio_api/mcp/schema", headers=basic("b0b-pass")))
        assert ok.status_code == 200 and "ask" in ok.text
    log = auth_server.log_path.read_text()
    assert "sign-in failed (login form) for account 'alice' from 127.0.0.1" in log
    assert "sign-in failed (Basic header on /gradio_api/mcp/schema) for account 'bob' from 127.0.0.1" in log
    assert "guess-" not in log and "al1ce-pass" not in log and "b0b-pass" not in log
