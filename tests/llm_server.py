"""A real OpenAI-compatible chat server on loopback that replays scripted replies (for tests of qa/answer/llm.py).

It speaks ``POST /v1/chat/completions`` both ways: streaming (``"stream": true`` → server-sent events,
``data: {chunk}`` lines and ``data: [DONE]``) and non-streaming (one ``chat.completion`` JSON body), plus
``GET /v1/models``. Each request takes the next queued `Reply` (or the default one) and the server records
what it was sent (`ScriptedLLMServer.requests`), so a test can check the prompt as well as the outcome.

    with ScriptedLLMServer() as server:
        server.queue(Reply("In Chad … [¶90]"))
        LLMConfig(server.url, "test")   # server.url is http://127.0.0.1:PORT/v1

Run it by hand to try the CLI: ``python tests/llm_server.py --port 8080 --reply "… [¶90]"``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted reply. Only ``content`` is needed for a well-behaved answer."""

    content: str = ""
    status: int = 200  # anything but 200 sends an OpenAI-style error body
    error: str = "scripted failure"
    delay: float = 0.0  # seconds before the response starts (a slow server)
    chunk_size: int = 8  # characters per streamed chunk
    chunk_delay: float = 0.0  # seconds between streamed chunks
    stall_after: int | None = None  # stream: after this many chunks, go silent for `stall` seconds
    stall: float = 0.0
    finish_reason: str = "stop"
    refusal: str | None = None  # sent as message.refusal / delta.refusal
    malformed_after: int | None = None  # stream: after this many chunks send a line that is not JSON
    omit_done: bool = False  # stream: end without "data: [DONE]" (and without a finish_reason)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict = field(default_factory=dict)


class ScriptedLLMServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port), serving in a daemon thread while in use."""

    def __init__(self, default: Reply | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.default = default or Reply("")
        self.replies: deque[Reply] = deque()
        self.requests: list[Request] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *replies: Reply) -> ScriptedLLMServer:
        with self._lock:
            self.replies.extend(replies)
        return self

    def next_reply(self) -> Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else self.default

    def start(self) -> ScriptedLLMServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()  # cut short any scripted delay or stall
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the connection closes after each response, as with a simple SSE server

        def log_message(self, *args) -> None:  # quiet test output
            pass

        def _json(self, status: int, obj: dict) -> None:
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": "test", "object": "model", "owned_by": "tests"}]})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_invalid": raw.decode("utf-8", "replace")}
            server.requests.append(Request(self.path, dict(self.headers.items()), body))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            reply = server.next_reply()
            try:
                if reply.delay and server.closing.wait(reply.delay):
                    return
                if reply.status != 200:
                    self._json(reply.status, {"error": {"message": reply.error, "type": "server_error",
                                                        "code": reply.status}})
                elif body.get("stream"):
                    self._stream(reply, body)
                else:
                    self._complete(reply, body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. its timeout): nothing to do

        def _complete(self, reply: Reply, body: dict) -> None:
            msg: dict = {"role": "assistant", "content": reply.content}
            if reply.refusal:
                msg["refusal"] = reply.refusal
            self._json(200, {
                "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "test"),
                "choices": [{"index": 0, "message": msg, "finish_reason": reply.finish_reason}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            })

        def _stream(self, reply: Reply, body: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            model = body.get("model", "test")

            def event(delta: dict, finish: str | None = None) -> None:
                chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.wfile.write(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")
                self.wfile.flush()

            self.wfile.write(b": scripted stream\n\n")
            event({"role": "assistant", "content": ""})
            if reply.refusal:
                event({"refusal": reply.refusal})
            text, size = reply.content, max(1, reply.chunk_size)
            pieces = [text[i:i + size] for i in range(0, len(text), size)]
            for i, piece in enumerate(pieces):
                if reply.malformed_after is not None and i == reply.malformed_after:
                    self.wfile.write(b'data: {"choices": [{"delta": {"content": "trunc\n\n')
                    self.wfile.flush()
                    return
                if reply.stall_after is not None and i == reply.stall_after and server.closing.wait(reply.stall):
                    return
                event({"content": piece})
                if reply.chunk_delay and server.closing.wait(reply.chunk_delay):
                    return
            if reply.omit_done:
                return
            event({}, reply.finish_reason)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Replay one scripted reply to every chat request.")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--reply", required=True)
    args = ap.parse_args(argv)
    server = ScriptedLLMServer(Reply(args.reply), port=args.port)
    print(f"scripted LLM on {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
