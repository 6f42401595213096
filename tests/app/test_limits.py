"""Limits: uploads, history, request bodies refused before any work, and a full queue that says "busy"."""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.app.serve.limits import (
    BUSY_MESSAGE,
    MAX_CHAT_MESSAGES,
    MAX_HISTORY,
    MAX_QUESTION_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FILES,
    BodyLimitMiddleware,
    LimitExceeded,
    check_library_size,
    check_uploads,
    trim_chat,
    trim_history,
)


def test_upload_checks():
    check_uploads([("a.txt", 10), ("b.PDF", MAX_UPLOAD_BYTES)])
    with pytest.raises(LimitExceeded, match=f"at most {MAX_UPLOAD_FILES}"):
        check_uploads([(f"{i}.txt", 1) for i in range(MAX_UPLOAD_FILES + 1)])
    with pytest.raises(LimitExceeded, match="limit is 50 MB"):
        check_uploads([("big.pdf", MAX_UPLOAD_BYTES + 1)])
    with pytest.raises(LimitExceeded, match="only .txt"):
        check_uploads([("evil.exe", 10)])
    with pytest.raises(LimitExceeded, match="empty"):
        check_uploads([("a.txt", 0)])
    check_library_size(10, 2, max_documents=12)
    with pytest.raises(LimitExceeded, match="remove some"):
        check_library_size(12, 1, max_documents=12)


def test_history_and_chat_are_capped():
    long = ["q" * 5000] * 100 + [None, 3, "last"]
    h = trim_history(long)
    assert len(h) == MAX_HISTORY and h[-1] == "last" and max(map(len, h)) == MAX_QUESTION_CHARS
    assert trim_history("not a list") == [] and trim_history(None) == []
    chat = [{"role": "user", "content": str(i)} for i in range(500)]
    assert trim_chat(chat) == chat[-MAX_CHAT_MESSAGES:] and trim_chat(None) == []


@pytest.fixture()
def small_app():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    calls = []

    async def echo(request):
        body = await request.body()
        calls.append(len(body))
        return JSONResponse({"got": len(body)})

    async def full(request):
        return JSONResponse({"detail": "Queue is full. Max size is 2 and size is 2."}, status_code=503)

    app = Starlette(routes=[Route("/gradio_api/call/chat", echo, methods=["POST"]),
                            Route("/gradio_api/upload", echo, methods=["POST"]),
                            Route("/gradio_api/queue/join", full, methods=["POST"]),
                            Route("/other", full, methods=["GET"])],
                    middleware=[Middleware(BodyLimitMiddleware, max_bytes=1000)])
    return TestClient(app), calls


def test_oversize_bodies_are_refused_before_the_app_reads_them(small_app):
    client, calls = small_app
    assert client.post("/gradio_api/call/chat", content=b"x" * 1000).json() == {"got": 1000}
    r = client.post("/gradio_api/call/chat", content=b"x" * 1001)
    assert r.status_code == 413 and "request too large" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(5):
            yield b"y" * 400

    r = client.post("/gradio_api/call/chat", content=chunks())
    assert r.status_code == 413
    assert calls == [1000]  # neither refused body reached the endpoint
    assert client.post("/gradio_api/upload", content=b"z" * 5000).json() == {"got": 5000}  # uploads: Gradio's limit


def test_a_full_queue_says_busy(small_app):
    client, _ = small_app
    r = client.post("/gradio_api/queue/join", json={})
    assert r.status_code == 503 and r.json()["detail"] == BUSY_MESSAGE and r.headers["retry-after"] == "2"
    assert "Queue is full" in client.get("/other").json()["detail"]  # other routes are left alone


# --- the real app with a tiny queue -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tight_server(qa_home, tmp_path_factory):
    from tests.appserver import AppServer

    work = tmp_path_factory.mktemp("limits")
    srv = AppServer(qa_home, work / "app.log",
                    cmd=[sys.executable, "app.py", "--concurrency", "1", "--queue-size", "2", "--max-request-kb", "64"],
                    extra_env={"REPORT_QA_LIBRARY": str(work / "library")})
    srv.wait()
    yield srv
    srv.stop()


@pytest.mark.slow
def test_real_app_refuses_oversize_and_says_busy_when_full(tight_server):
    import httpx

    from bench.soak import ApiClient

    url = tight_server.url
    big = json.dumps({"data": ["x" * 70_000, "hybrid", 3, [], None]})
    r = httpx.post(url + "/gradio_api/call/chat", content=big, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413 and "request too large" in r.json()["detail"]
    r = httpx.post(url + "/gradio_api/queue/join", content=big, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413

    questions = ["人权高专办在世界各地设有多少个人权外地存在？", "What training did staff receive after cyberattacks increased?",
                 "¿Qué hizo la Oficina sobre la pena de muerte?", "Qu'a fait le Haut-Commissariat pour les personnes âgées ?"]
    start = threading.Barrier(12)

    def one(i):
        api = ApiClient(url, timeout=120)
        try:
            api.positional("chat", [])  # fetch the endpoint's parameters before the burst
            start.wait(30)
            return api.call("chat", [questions[i % 4], "hybrid", 3, []])
        finally:
            api.close()

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(12)))
    busy = [res for status, res in results if status == 503]
    done = [res for status, res in results if status == 200]
    assert len(busy) + len(done) == 12, results
    assert busy and all(b == BUSY_MESSAGE for b in busy)
    assert done and all("text" in d for d in done)
    # Once the burst is over the app answers again.
    status, res = ApiClient(url).call("chat", ["fn 6", "hybrid", 3, []])
    assert status == 200 and res["citations"][0].startswith("[¶25, fn 6")
    assert "Traceback" not in tight_server.log_path.read_text()
