"""Requests Gradio would answer with HTTP 500 (and a traceback in the log) get a 4xx and a sentence instead.

`InputCheckMiddleware` looks at what a user controls before Gradio does:

- `GET /?page=NAME`: the app has one page; another name is 404 (Gradio raises KeyError);
- the API routes `POST /gradio_api/call/NAME`, `/call/v2/NAME`, `/run/NAME`, `/api/NAME`: NAME must be one of the
  app's API endpoints (404 lists them); the body must be JSON of the route's shape (`{"data": [...]}`, or for
  `/call/v2` an object of named parameters), else 422. A positional call that leaves out trailing parameters with
  defaults gets the defaults (`/call/chat` with only the question asks it with mode "hybrid" and top_k 3, as
  gradio_client does), one that leaves out a required one or sends too many values is 422;
- `POST /gradio_api/queue/join` (the page's own events): `fn_index` must name an event and `data` hold one value
  per input, else 422;
- any JSON body with a number Gradio could not write back (`1e999`, `NaN`, more than 18 digits): 422;
- the event streams `GET /gradio_api/queue/data?session_hash=…` and `GET /gradio_api/call/NAME/EVENT_ID` for a
  session or event that is not waiting: 404 before the stream starts (Gradio fails inside it).

Everything else passes untouched. Bodies are read whole only on those routes; `BodyLimitMiddleware`
(qa/app/serve/limits.py), in front of this one, has already capped their size.
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import parse_qs

API_ROUTE = re.compile(r"^/gradio_api/(call/v2|call|run|api)/([^/]+)/?$")
EVENT_STREAM = re.compile(r"^/gradio_api/(call/v2|call)/[^/]+/([^/]+)/?$")
QUEUE_JOIN = "/gradio_api/queue/join"
QUEUE_DATA = "/gradio_api/queue/data"
UPLOAD_PREFIX = "/gradio_api/upload"


def _is_json(scope) -> bool:
    for k, v in scope.get("headers", []):
        if k == b"content-type":
            return v.split(b";")[0].strip().lower() == b"application/json"
    return False


class _OutOfRange(ValueError):
    pass


def _reject_constant(name: str):
    raise _OutOfRange(name)


def _checked_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(text)
    return value


def _checked_int(text: str) -> int:
    if len(text.lstrip("-")) > 18:  # past 64 bits Gradio's JSON writer (orjson) fails: a 500
        raise _OutOfRange(text)
    return int(text)


def _in_range(body: bytes) -> bool:
    """False when a JSON body holds a number Gradio could not write back (1e999, NaN, Infinity, more than 18
    digits); True otherwise, also for a body that is not JSON (Gradio's own 422 follows)."""
    try:
        json.loads(body or b"null", parse_constant=_reject_constant, parse_float=_checked_float, parse_int=_checked_int)
    except _OutOfRange:
        return False
    except ValueError:
        return True
    return True


def _blocks(scope):
    app = scope.get("app")
    get = getattr(app, "get_blocks", None)
    try:
        return get() if get else None
    except Exception:  # noqa: BLE001 - no Blocks yet: let Gradio answer
        return None


class InputCheckMiddleware:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app):
        self.app = app
        self._endpoints: dict[int, dict[str, list[dict]]] = {}

    def endpoints(self, blocks) -> dict[str, list[dict]]:
        """API name → its parameters (Gradio's API info: name, has default, default), computed once per Blocks."""
        key = id(blocks)
        if key not in self._endpoints:
            info = blocks.get_api_info(all_endpoints=True)
            self._endpoints[key] = {name.lstrip("/"): list(e.get("parameters", []))
                                    for name, e in info.get("named_endpoints", {}).items()}
        return self._endpoints[key]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope.get("method"), scope.get("path", "")
        if method in ("GET", "HEAD") and path == "/":
            problem = self._page(scope)
            if problem:
                return await _refuse(send, 404, problem)
        elif method == "GET" and (path == QUEUE_DATA or EVENT_STREAM.match(path)):
            problem = self._stream(scope, path)
            if problem:
                return await _refuse(send, 404, problem)
        elif method == "POST" and _is_json(scope) and not path.startswith(UPLOAD_PREFIX):
            blocks = _blocks(scope)
            body, messages = await _read(receive)
            if not _in_range(body):
                return await _refuse(send, 422, "numbers in the request must be finite and at most 18 digits "
                                                "(no 1e999, NaN or Infinity)")
            checked = body
            if blocks is not None and (API_ROUTE.match(path) or path == QUEUE_JOIN):
                status, problem, checked = self._call(path, body, blocks)
                if problem:
                    return await _refuse(send, status, problem)
            if checked != body:  # defaults filled in: the body Gradio reads is the longer one
                headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
                scope = {**scope, "headers": [*headers, (b"content-length", str(len(checked)).encode())]}
            receive = _replay(messages, checked, receive)
        return await self.app(scope, receive, send)

    @staticmethod
    def _stream(scope, path: str) -> str | None:
        """Gradio answers an event stream for an unknown session or event with 200, then fails inside the stream
        (a traceback, a cut stream); the same test, made before the stream starts, gives a clean 404."""
        blocks = _blocks(scope)
        queue = getattr(blocks, "_queue", None)
        pending = getattr(queue, "pending_messages_per_session", None)
        if pending is None:
            return None
        if path == QUEUE_DATA:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            session = (query.get("session_hash") or [""])[0]
            if not session:
                return "send session_hash=… (the one the event was sent with)"
            return None if session in pending else "no events are waiting for this session; send one first"
        event_id = EVENT_STREAM.match(path).group(2)
        event = getattr(queue, "event_ids_to_events", {}).get(event_id)
        if event is not None:
            session = event.session_hash
        else:
            owners = getattr(queue, "pending_event_ids_session", {}) or {}
            session = next((s for s, ids in owners.items() if event_id in ids), event_id)
        return None if session in pending else (f"no event {event_id[:40]!r} is waiting: it finished and was read "
                                                "already, or never existed; POST the call again")

    def _page(self, scope) -> str | None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        page = (query.get("page") or [""])[0]
        if not page:
            return None
        blocks = _blocks(scope)
        pages = set((getattr(blocks, "config", None) or {}).get("page", {}) or {"": None}) if blocks else {""}
        if page in pages:
            return None
        return f"no page {page[:60]!r} here: open / (the app has one page; ?p=25 opens paragraph 25)"

    def _call(self, path: str, body: bytes, blocks) -> tuple[int, str | None, bytes]:
        """(status, the problem or None, the body to hand on)."""
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return 422, "the request body is not JSON; send {\"data\": [...]}", body
        if path == QUEUE_JOIN:
            return self._join(payload, blocks, body)
        route, name = API_ROUTE.match(path).groups()
        endpoints = self.endpoints(blocks)
        if name not in endpoints:
            known = ", ".join("/" + n for n in endpoints if n != "load_example")
            return 404, f"no API endpoint /{name[:60]}; the endpoints are {known} (see /gradio_api/info)", body
        params = endpoints[name]
        names = [p.get("parameter_name") for p in params]
        usage = f"/{name}({', '.join(str(n) for n in names)})"
        if route == "call/v2":
            if not isinstance(payload, dict):
                return 422, f"send a JSON object of named parameters: {usage}", body
            unknown = [k for k in payload if k not in names and k != "oauth_token"]
            if unknown:
                return 422, f"/{name} has no parameter {unknown[0][:40]!r}; it takes {usage}", body
            missing = [p["parameter_name"] for p in params if not p.get("parameter_has_default") and p["parameter_name"] not in payload]
            if missing:
                return 422, f"/{name} needs {missing[0]!r}: {usage}", body
            return 200, None, body
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            return 422, f"send {{\"data\": [...]}} with the values of {usage} in order", body
        data = payload["data"]
        if len(data) > len(params):
            return 422, f"/{name} takes at most {len(params)} values, {usage}; {len(data)} were sent", body
        for p in params[len(data):]:
            if not p.get("parameter_has_default"):
                return 422, f"/{name} needs {p.get('parameter_name')!r} (value {len(data) + 1}): {usage}", body
            data.append(p.get("parameter_default"))
        return 200, None, json.dumps(payload).encode()

    @staticmethod
    def _join(payload, blocks, body: bytes) -> tuple[int, str | None, bytes]:
        if not isinstance(payload, dict):
            return 422, "send a JSON object with data, fn_index and session_hash", body
        fn_index = payload.get("fn_index")
        fns = getattr(blocks, "fns", {}) or {}
        if not isinstance(fn_index, int) or isinstance(fn_index, bool) or fn_index not in fns:
            return 422, f"no event {str(fn_index)[:40]!r} on this page; reload the page", body
        data = payload.get("data")
        wanted = len(getattr(fns[fn_index], "inputs", []) or [])
        if not isinstance(data, list) or len(data) != wanted:
            got = len(data) if isinstance(data, list) else "no list of"
            return 422, f"this event takes {wanted} values, {got} were sent; reload the page", body
        return 200, None, body


async def _read(receive) -> tuple[bytes, list[dict]]:
    body, messages = b"", []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return body, messages


def _replay(messages: list[dict], body: bytes, receive):
    """The body as read (or as rewritten), then whatever the client sends next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    pending += [m for m in messages if m["type"] != "http.request"]

    async def replayed():
        return pending.pop(0) if pending else await receive()

    return replayed


async def _refuse(send, status: int, text: str) -> None:
    out = json.dumps({"detail": text, "error": text}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})
