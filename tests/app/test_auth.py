"""Sign-in: accounts from --auth / --auth-file, the refusal to serve openly on a network, and the real app's UI,
API and MCP endpoint, each signed in and signed out (loopback only)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qa.app.serve.auth import (
    AuthConfigError,
    AuthGuardMiddleware,
    check_exposure,
    is_loopback,
    load_credentials,
)
from qa.errors import UserError
from tests.conftest import run_async

ROOT = Path(__file__).resolve().parents[2]


def bcrypt_hash(password: str) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()  # cheap rounds: a test


# --- accounts ---------------------------------------------------------------------------------------------

def test_accounts_from_auth_flags_and_a_bcrypt_file(tmp_path, monkeypatch):
    f = tmp_path / "users"
    f.write_text(f"# team accounts\n\nbob:{bcrypt_hash('hunter2 ü')}\n", encoding="utf-8")
    creds = load_credentials(["alice:s3cret:with:colons"], str(f))
    assert creds.users == ["alice", "bob"]
    assert creds.verify("alice", "s3cret:with:colons") and not creds.verify("alice", "s3cret")
    assert creds.verify("bob", "hunter2 ü") and creds.verify("bob", "hunter2 ü")  # second time from the memo
    assert not creds.verify("bob", "hunter2") and not creds.verify("carol", "x") and not creds.verify("", "")
    monkeypatch.setenv("REPORT_QA_AUTH_FILE", str(f))
    assert load_credentials(None, None).users == ["bob"]
    monkeypatch.delenv("REPORT_QA_AUTH_FILE")
    assert not load_credentials(None, None)


@pytest.mark.parametrize("content, message", [
    ("bob:plaintext\n", "no bcrypt or argon2 hash"),
    ("justaname\n", "expected user:hash"),
    ("# nothing\n", "no accounts"),
    ("bad user:$2b$04$abcdefghijklmnopqrstuu\n", "without spaces"),
])
def test_a_bad_auth_file_names_the_problem(tmp_path, content, message):
    f = tmp_path / "users"
    f.write_text(content)
    with pytest.raises(AuthConfigError, match=message):
        load_credentials(None, str(f))


def test_bad_auth_flags_and_missing_file():
    with pytest.raises(AuthConfigError, match="USER:PASSWORD"):
        load_credentials(["alice"], None)
    with pytest.raises(AuthConfigError, match="empty password"):
        load_credentials(["alice:"], None)
    with pytest.raises(AuthConfigError, match="cannot read"):
        load_credentials(None, "/nonexistent/users")


def test_exposure_rule():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host)
        assert check_exposure(host, load_credentials(), False) is None
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(UserError, match="--allow-anonymous"):
            check_exposure(host, load_credentials(), False)
        assert "NO sign-in" in check_exposure(host, load_credentials(), True)
        assert check_exposure(host, load_credentials(["a:b"]), False) is None


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_app_refuses_a_network_address_without_accounts():
    """Refused before anything binds or loads: exit code 2 and one clear line."""
    r = subprocess.run([sys.executable, "app.py", "--host", "0.0.0.0", "--port", "9"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "refusing to serve on 0.0.0.0 without sign-in" in r.stderr and "Traceback" not in r.stderr


def test_hash_password_helper():
    import bcrypt

    r = subprocess.run([sys.executable, "-m", "qa", "hash-password", "carol"], cwd=ROOT, input="pässword\n",
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    user, _, hashed = r.stdout.strip().partition(":")
    assert user == "carol" and hashed.startswith("$2b$")
    assert bcrypt.checkpw("pässword".encode(), hashed.encode())


# --- the guard on routes Gradio leaves open (MCP) -----------------------------------------------------------

def test_guard_middleware_on_a_small_app():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    creds = load_credentials(["alice:pw"])
    app = Starlette(routes=[Route("/gradio_api/mcp/x", lambda r: PlainTextResponse("tool")),
                            Route("/open", lambda r: PlainTextResponse("open"))],
                    middleware=[Middleware(AuthGuardMiddleware, credentials=creds)])
    app.tokens = {"tok123": "alice"}
    app.cookie_id = "cid"
    c = TestClient(app)
    basic = "Basic " + base64.b64encode(b"alice:pw").decode()
    wrong = "Basic " + base64.b64encode(b"alice:nope").decode()
    assert c.get("/open").text == "open"
    r = c.get("/gradio_api/mcp/x")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert c.get("/gradio_api/mcp/x", headers={"Authorization": wrong}).status_code == 401
    assert c.get("/gradio_api/mcp/x", headers={"Authorization": "Basic !!notbase64"}).status_code == 401
    assert c.get("/gradio_api/mcp/x", headers={"Authorization": basic}).text == "tool"
    assert c.get("/gradio_api/mcp/x", headers={"Authorization": "Bearer tok123"}).text == "tool"
    assert c.get("/gradio_api/mcp/x", headers={"Authorization": "Bearer forged"}).status_code == 401
    assert c.get("/gradio_api/mcp/x", headers={"Cookie": "access-token-unsecure-cid=tok123"}).text == "tool"
    assert c.get("/gradio_api/mcp/x", headers={"Cookie": "access-token-cid=forged"}).status_code == 401


# --- the real app, signed in and signed out -----------------------------------------------------------------

@pytest.fixture(scope="module")
def auth_server(qa_home, tmp_path_factory):
    from tests.appserver import AppServer

    work = tmp_path_factory.mktemp("auth")
    users = work / "users"
    users.write_text(f"bob:{bcrypt_hash('b0b-pass')}\n")
    srv = AppServer(qa_home, work / "app.log",
                    cmd=[sys.executable, "app.py", "--auth", "alice:al1ce-pass", "--auth-file", str(users), "--mcp"],
                    extra_env={"REPORT_QA_LIBRARY": str(work / "library")})
    srv.wait()
    yield srv
    srv.stop()


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _login(url: str, user: str, password: str):
    import httpx

    return httpx.post(url + "/login", data={"username": user, "password": password}, timeout=30)


@pytest.mark.slow
def test_ui_shows_the_login_page_and_signs_in(auth_server):
    url = auth_server.url
    status, page = _get(url + "/")
    assert status == 200 and '"auth_required":true' in page.replace(" ", "")  # Gradio's login form
    assert "Sign in to report-qa" in page
    assert _get(url + "/config")[0] == 401 and _get(url + "/gradio_api/info")[0] == 401
    assert _login(url, "alice", "wrong").status_code == 400
    assert _login(url, "mallory", "al1ce-pass").status_code == 400
    ok = _login(url, "alice", "al1ce-pass")
    assert ok.status_code == 200
    cookie = "; ".join(f"{k}={v}" for k, v in ok.cookies.items())
    status, config = _get(url + "/config", {"Cookie": cookie})
    assert status == 200 and json.loads(config)["components"]
    assert '"auth_required":true' not in _get(url + "/", {"Cookie": cookie})[1].replace(" ", "")


@pytest.mark.slow
def test_api_signed_in_and_signed_out(auth_server):
    import httpx
    from gradio_client import Client

    url = auth_server.url
    with pytest.raises(Exception, match="(?i)login|credentials|auth"):
        Client(url, verbose=False)
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own error type for a bad login
        Client(url, verbose=False, auth=("bob", "wrong"))
    r = httpx.post(url + "/gradio_api/call/chat", json={"data": ["¶25", "hybrid", 3, [], None]}, timeout=30)
    assert r.status_code == 401
    c = Client(url, verbose=False, auth=("bob", "b0b-pass"))  # the bcrypt account from --auth-file
    out = c.predict("乍得废除了哪项法律中的死刑？", api_name="/chat")
    assert out["citations"][0] == "[¶90]"


def _mcp(url: str, auth: tuple[str, str] | None, work):
    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def run():
        async with httpx.AsyncClient(auth=httpx.BasicAuth(*auth) if auth else None, trust_env=False,
                                     timeout=httpx.Timeout(60, read=300)) as http:
            async with streamable_http_client(url + "/gradio_api/mcp/", http_client=http) as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)

    return run_async(run())


@pytest.mark.slow
def test_mcp_signed_in_and_signed_out(auth_server):
    url = auth_server.url

    async def work(s):
        tools = {t.name for t in (await s.list_tools()).tools}
        res = await s.call_tool("ask", {"question": "fn 6"})
        return tools, json.loads(res.content[0].text)

    tools, fn6 = _mcp(url, ("alice", "al1ce-pass"), work)
    assert "ask" in tools and fn6["citations"][0].startswith("[¶25, fn 6")
    tools, _ = _mcp(url, ("bob", "b0b-pass"), work)
    assert "ask" in tools
    for auth in (None, ("alice", "wrong")):
        with pytest.raises(BaseException) as err:  # the client fails inside its task group: 401
            _mcp(url, auth, work)
        assert "401" in repr(err.value) or "Unauthorized" in repr(err.value) or "Not authenticated" in repr(err.value)
    # The same over plain HTTP, and the schema route beside it.
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    req = urllib.request.Request(url + "/gradio_api/mcp/", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Accept": "application/json, text/event-stream"})
    with pytest.raises(urllib.error.HTTPError) as http_err:
        urllib.request.urlopen(req, timeout=30)
    assert http_err.value.code == 401
    assert _get(url + "/gradio_api/mcp/schema")[0] == 401
    basic = "Basic " + base64.b64encode(b"alice:al1ce-pass").decode()
    status, schema = _get(url + "/gradio_api/mcp/schema", {"Authorization": basic})
    assert status == 200 and "ask" in schema


@pytest.mark.slow
def test_log_says_sign_in_is_on_and_no_password_is_logged(auth_server):
    log = auth_server.log_path.read_text()
    assert "sign-in required (2 account(s))" in log
    assert "al1ce-pass" not in log and "b0b-pass" not in log


@pytest.mark.slow
@pytest.mark.browser
def test_browser_signs_in_then_chats(auth_server, chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(auth_server.url, wait_until="load")
        page.wait_for_selector("input[type=password]", timeout=60000)
        assert "Sign in to report-qa" in page.inner_text("body")
        assert page.query_selector("#rqa-input") is None  # nothing of the app before signing in
        page.fill("input[type=text]", "alice")
        page.fill("input[type=password]", "wrong")
        page.click("button:has-text('Login')")
        page.wait_for_selector("text=/Incorrect Credentials/i", timeout=30000)
        page.fill("input[type=text]", "alice")
        page.fill("input[type=password]", "al1ce-pass")
        page.click("button:has-text('Login')")
        page.wait_for_selector("#rqa-input textarea", timeout=60000)
        page.wait_for_selector("#rqa-status >> text=Ready", timeout=120000)  # the models were loaded by now
        page.fill("#rqa-input textarea", "fn 6")
        page.click("#rqa-send")
        page.wait_for_selector("#rqa-evidence article[data-paragraph='25']", timeout=60000)
    finally:
        page.close()


def test_queued_mcp_tools_work_with_sign_in():
    """Gradio's MCP server runs a queued tool through its own loopback HTTP client, which never signs in; with
    accounts on, `patch_mcp_loopback` gives it an in-process account. (The app's own tools skip the queue.)"""
    from types import SimpleNamespace

    import gradio as gr

    from qa.app.serve import launch as serving
    from qa.app.serve.auth import patch_mcp_loopback
    from tests.appserver import free_port

    def shout(text: str) -> str:
        """Say it louder.

        Args:
            text: what to say
        """
        return text.upper()

    with gr.Blocks() as demo:
        gr.api(shout, api_name="shout")  # queue=True: the loopback path
    demo.queue()
    creds = load_credentials(["alice:pw"])
    kwargs = serving.launch_kwargs(SimpleNamespace(max_request_kb=None, max_sessions=None), serving.ServePlan(creds))
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                mcp_server=True, ssr_mode=False, **kwargs)
    try:
        patch_mcp_loopback(demo, creds)
        res = _mcp(demo.local_url.rstrip("/"), ("alice", "pw"), lambda s: s.call_tool("shout", {"text": "hi"}))
        assert not res.isError and "HI" in res.content[0].text, res
    finally:
        demo.close()
