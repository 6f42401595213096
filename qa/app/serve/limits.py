"""What one user, one request and the whole app may ask of the server, and how a refusal reads.

The numbers live here so the app, the API, MCP, uploads and the tests share them:

- the queue: `DEFAULT_CONCURRENCY` answers computed at once, at most `DEFAULT_QUEUE_SIZE` waiting; one more
  gets HTTP 503 with `BUSY_MESSAGE` (the browser shows Gradio's own "busy, please try again" notice);
- a question: `MAX_QUESTION_CHARS` (longer ones are cut, with a notice; see `qa.answer.guard`);
- a conversation: `MAX_HISTORY` earlier questions kept for follow-ups, `MAX_CHAT_MESSAGES` messages in the chat box;
- sessions held in memory: `DEFAULT_MAX_SESSIONS` (Gradio's `state_session_capacity`);
- a request body: `DEFAULT_MAX_REQUEST_BYTES` on every route but uploads, refused with 413 *before* Gradio parses it
  (`BodyLimitMiddleware`);
- uploads: `MAX_UPLOAD_BYTES` per file, the one upload limit (it is the library's own, `qa.ingest.files.MAX_BYTES`;
  Gradio's `max_file_size`, the Reports tab and docs/security.md quote it), `MAX_UPLOAD_FILES` per request and
  `MAX_LIBRARY_DOCUMENTS` in the library, checked by `check_uploads` / `check_library_size`;
- uploads waiting in Gradio's temp folder: `MAX_TEMP_BYTES_PER_CLIENT` per client, `MAX_TEMP_BYTES` in all, an unused
  one deleted after `UPLOAD_TTL_S` (`qa.app.serve.uploads`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from qa.answer.chat import MAX_HISTORY
from qa.answer.guard import MAX_QUESTION_CHARS
from qa.errors import UserError
from qa.ingest.files import MAX_BYTES

DEFAULT_CONCURRENCY = 4  # answers computed at once (2 cores: more only queues inside torch)
DEFAULT_QUEUE_SIZE = 64  # requests waiting for a worker; one more is "busy"
# Gradio keeps one SessionState per browser tab *and per API call without a session* (~100 KB each here: a copy
# of every component's config), 10,000 of them by default: ~1 GB. The soak test found RSS growing ~20 % in
# 3 minutes from this alone. The least recently used session beyond this many is dropped (a tab idle that long
# keeps its chat but loses its follow-up context).
DEFAULT_MAX_SESSIONS = 500
DEFAULT_MAX_REQUEST_BYTES = 512 * 1024  # any JSON request: a 1,000-char question is ~3 KB, a full chat ~100 KB
MAX_UPLOAD_BYTES = MAX_BYTES  # one uploaded report (PDF, DOCX or text): the library's limit, 50 MB
MAX_TEMP_BYTES_PER_CLIENT = 2 * MAX_UPLOAD_BYTES  # uploads one client (account, else address) may have waiting
MAX_TEMP_BYTES = 8 * MAX_UPLOAD_BYTES  # uploads all clients together may have waiting in Gradio's temp folder
UPLOAD_TTL_S = 600.0  # an upload no event used within this long is deleted
MAX_UPLOAD_FILES = 10  # files in one upload
MAX_LIBRARY_DOCUMENTS = 200  # reports in the library
MAX_CHAT_MESSAGES = 2 * MAX_HISTORY  # messages kept in the chat box (user + assistant per turn)
UPLOAD_SUFFIXES = (".txt", ".pdf", ".docx")

BUSY_MESSAGE = ("The assistant is busy answering other questions right now; please try again in a moment. "
                "(The request queue is full.)")

__all__ = ["BUSY_MESSAGE", "DEFAULT_CONCURRENCY", "DEFAULT_MAX_REQUEST_BYTES", "DEFAULT_MAX_SESSIONS", "DEFAULT_QUEUE_SIZE",
           "MAX_CHAT_MESSAGES", "MAX_HISTORY", "MAX_LIBRARY_DOCUMENTS", "MAX_QUESTION_CHARS", "MAX_TEMP_BYTES",
           "MAX_TEMP_BYTES_PER_CLIENT", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_FILES", "UPLOAD_TTL_S", "BodyLimitMiddleware",
           "LimitExceeded", "check_library_size", "check_uploads", "human_bytes", "trim_chat", "trim_history"]


class LimitExceeded(UserError):
    """A request over one of the limits above; the message says which and what to do."""


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.0f} {unit}" if n % size == 0 else f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def check_uploads(files: Iterable[tuple[str, int]], *, max_files: int = MAX_UPLOAD_FILES,
                  max_bytes: int = MAX_UPLOAD_BYTES, suffixes: tuple[str, ...] = UPLOAD_SUFFIXES) -> None:
    """Check (name, size in bytes) of each uploaded file before reading any of them. Raises LimitExceeded."""
    files = list(files)
    if len(files) > max_files:
        raise LimitExceeded(f"{len(files)} files in one upload; add at most {max_files} at a time")
    for name, size in files:
        if suffixes and not str(name).lower().endswith(suffixes):
            raise LimitExceeded(f"{name}: only {', '.join(suffixes)} files can be added")
        if size > max_bytes:
            raise LimitExceeded(f"{name} is {human_bytes(size)}; the limit is {human_bytes(max_bytes)} per file")
        if size == 0:
            raise LimitExceeded(f"{name} is empty")


def check_library_size(current: int, adding: int = 1, *, max_documents: int = MAX_LIBRARY_DOCUMENTS) -> None:
    if current + adding > max_documents:
        raise LimitExceeded(f"the library holds {current} reports and the limit is {max_documents}; "
                            "remove some before adding more")


def trim_history(history, *, max_items: int = MAX_HISTORY, max_chars: int = MAX_QUESTION_CHARS) -> list[str]:
    """Earlier questions as a follow-up needs them: strings only, the last `max_items`, each cut to `max_chars`."""
    if not isinstance(history, (list, tuple)):
        return []
    return [h[:max_chars] for h in history if isinstance(h, str)][-max_items:]


def trim_chat(chat, *, max_messages: int = MAX_CHAT_MESSAGES) -> list:
    """The chat box's messages, oldest dropped first, so a long conversation never outgrows the request limit."""
    chat = list(chat or [])
    return chat[-max_messages:]


class BodyLimitMiddleware:
    """ASGI middleware: refuse request bodies over `max_bytes` with 413 before the app reads them, and give a
    full queue's 503 a message a person can act on.

    Uploads (`/gradio_api/upload`) are exempt here: Gradio checks them against `max_file_size` as they stream.
    """

    def __init__(self, app, max_bytes: int = DEFAULT_MAX_REQUEST_BYTES, exempt: tuple[str, ...] = ("/gradio_api/upload",)):
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if not path.startswith(self.exempt):
            length = _content_length(scope)
            if length is not None and length > self.max_bytes:
                return await _refuse(send, 413, self._too_large(length))
            if scope.get("method") in ("POST", "PUT", "PATCH") and length is None:
                # No Content-Length (chunked): read at most max_bytes + 1, then replay what was read.
                body, messages = 0, []
                while True:
                    message = await receive()
                    messages.append(message)
                    if message["type"] != "http.request":
                        break
                    body += len(message.get("body", b""))
                    if body > self.max_bytes:
                        return await _refuse(send, 413, self._too_large(body))
                    if not message.get("more_body", False):
                        break
                receive = _replay(messages, receive)
        if "/queue/join" in path or "/call/" in path or "/run/" in path or path.startswith("/gradio_api/api/"):
            send = _busy_rewriter(send)
        return await self.app(scope, receive, send)

    def _too_large(self, n: int) -> str:
        return (f"request too large ({human_bytes(n)}; the limit is {human_bytes(self.max_bytes)}). "
                f"Ask one question of at most {MAX_QUESTION_CHARS:,} characters at a time.")


def _content_length(scope) -> int | None:
    for k, v in scope.get("headers", []):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def _replay(messages: list[dict], receive):
    pending = list(messages)

    async def replayed():
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _busy_rewriter(send):
    """Gradio answers a full queue with 503 "Queue is full. Max size is …"; say it for people instead."""
    state = {"busy": False}

    async def wrapped(message):
        if message["type"] == "http.response.start" and message.get("status") == 503:
            state["busy"] = True
            body = json.dumps({"detail": BUSY_MESSAGE, "error": BUSY_MESSAGE}).encode()
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                        (b"retry-after", b"2")]
            state["body"] = body
            return await send({**message, "headers": headers})
        if state["busy"] and message["type"] == "http.response.body":
            if message.get("more_body", False):
                return None  # swallow Gradio's own body; ours goes out with its last chunk
            return await send({"type": "http.response.body", "body": state["body"], "more_body": False})
        return await send(message)

    return wrapped


async def _refuse(send, status: int, text: str) -> None:
    body = json.dumps({"detail": text, "error": text}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
