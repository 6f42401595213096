"""Sign-in throttling: wrong passwords cost more and more waiting, per account and per client address.

`SignInThrottle` counts *failed* sign-ins under two keys, the account ("user:alice") and the client address
("addr:203.0.113.7"; an IPv6 address by its /64). The first `FREE_FAILURES` failures of a key cost nothing;
each one after that locks the key for `BASE_DELAY_S * 2**(k-1)` seconds (1, 2, 4, … capped at `MAX_DELAY_S`).
While a key is locked every attempt on it is refused *before* the password is checked, so a refused attempt
neither reveals anything nor costs a hash; it does not extend the wait either, so the right password works as
soon as the wait is over. A success clears the account's key and the address's key; a key left alone for
`FORGET_S` starts again from zero.

`LoginThrottleMiddleware` applies it to Gradio's login form (`POST /login`): a locked key gets HTTP 429 with
`Retry-After` and a sentence to show; Gradio's answer (200 or 400) decides success or failure. The MCP guard
(`qa.app.serve.auth.AuthGuardMiddleware`) applies it to `Authorization: Basic` (account and address) and
`Authorization: Bearer` (address only: a token names no account). Failed attempts are logged with the account
name and address, never the password.

A limiter library such as `limits` counts requests in time windows; what is wanted here is a wait that grows
with consecutive failures and ends at the first success, which is this small class.
"""

from __future__ import annotations

import email.parser
import ipaddress
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

log = logging.getLogger("report_qa")

FREE_FAILURES = 5  # wrong passwords per account (and per address) before any wait
BASE_DELAY_S = 1.0  # the first wait; each further failure doubles it
MAX_DELAY_S = 300.0  # the longest wait
FORGET_S = 3600.0  # failures of a key left alone this long are forgotten
MAX_KEYS = 50_000  # keys kept in memory; the oldest are dropped beyond this
LOGIN_PATHS = ("/login", "/login/")
MAX_LOGIN_BODY = 64 * 1024  # a login form is a few hundred bytes

WAIT_MESSAGE = ("Too many failed sign-ins for this account or from this address: wait {seconds} s, then try again. "
                "(Each further wrong password doubles the wait.)")


@dataclass
class _Key:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


def client_address(scope) -> str:
    """The client's address as the server saw it (behind a proxy on loopback, uvicorn takes X-Forwarded-For)."""
    client = scope.get("client") or ("", 0)
    host = str(client[0] or "")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if ip.version == 6 and not ip.is_loopback:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))  # one host usually holds a whole /64
    return str(ip)


class SignInThrottle:
    """Failed sign-ins per key, with an exponential wait after `free` failures. Thread-safe."""

    def __init__(self, *, free: int = FREE_FAILURES, base_s: float = BASE_DELAY_S, max_s: float = MAX_DELAY_S,
                 forget_s: float = FORGET_S, clock=time.monotonic):
        self.free, self.base_s, self.max_s, self.forget_s = free, base_s, max_s, forget_s
        self.clock = clock
        self._keys: dict[str, _Key] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(user: str | None, address: str | None) -> list[str]:
        out = []
        if user:
            out.append("user:" + user.strip()[:200])
        if address:
            out.append("addr:" + address)
        return out

    def wait_s(self, keys: list[str]) -> float:
        """Seconds until an attempt on `keys` may be checked; 0 when none is locked."""
        now = self.clock()
        with self._lock:
            waits = [k.locked_until - now for k in (self._keys.get(x) for x in keys) if k is not None]
        return max([0.0, *waits])

    def failed(self, keys: list[str]) -> float:
        """Count one failure on each key; returns the wait it starts (0 while failures are still free)."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            if len(self._keys) > MAX_KEYS:
                for name in sorted(self._keys, key=lambda x: self._keys[x].last)[: len(self._keys) - MAX_KEYS // 2]:
                    del self._keys[name]
            for name in keys:
                k = self._keys.get(name)
                if k is None or now - k.last > self.forget_s:
                    k = self._keys[name] = _Key()
                k.failures += 1
                k.last = now
                over = k.failures - self.free
                if over > 0:
                    delay = min(self.max_s, self.base_s * 2 ** min(over - 1, 30))
                    k.locked_until = max(k.locked_until, now + delay)
                    longest = max(longest, delay)
        return longest

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for name in keys:
                self._keys.pop(name, None)


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def wait_message(seconds: float) -> str:
    return WAIT_MESSAGE.format(seconds=retry_after(seconds))


async def send_wait(send, seconds: float) -> None:
    """HTTP 429 with Retry-After and a sentence a person can act on."""
    text = wait_message(seconds)
    body = json.dumps({"detail": text, "error": text}).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(retry_after(seconds)).encode())]})
    await send({"type": "http.response.body", "body": body})


def log_failure(kind: str, user: str | None, address: str, wait: float) -> None:
    """One line per failed sign-in: how, which account, from where; never the password."""
    shown = repr(user[:80]) if user else "-"
    then = f"; the next attempt waits {retry_after(wait)} s" if wait > 0 else ""
    log.warning("sign-in failed (%s) for account %s from %s%s", kind, shown, address, then)


class LoginThrottleMiddleware:
    """ASGI middleware for Gradio's login form (`POST /login`): a locked account or address gets 429 before
    Gradio checks the password; Gradio's answer (200 signed in, 400 wrong) is counted."""

    def __init__(self, app, throttle: SignInThrottle):
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in LOGIN_PATHS:
            return await self.app(scope, receive, send)
        messages, body = [], b""
        while True:  # the form is small; read it whole to know the account, then hand it on unchanged
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY or not message.get("more_body", False):
                break
        user = _form_user(scope, body)
        address = client_address(scope)
        keys = self.throttle.keys(user, address)
        wait = self.throttle.wait_s(keys)
        if wait > 0:
            log.warning("sign-in refused for account %s from %s: waiting %d s after failed attempts",
                        repr(user[:80]) if user else "-", address, retry_after(wait))
            return await send_wait(send, wait)
        status: list[int] = []

        async def watched(message):
            if message["type"] == "http.response.start":
                status.append(message.get("status", 0))
            await send(message)

        pending = list(messages)

        async def replay():
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, watched)
        if status and status[0] == 200:
            self.throttle.succeeded(keys)
        elif status and status[0] in (400, 401, 422):
            log_failure("login form", user, address, self.throttle.failed(keys))


def _form_user(scope, body: bytes) -> str | None:
    """The username of a login form (urlencoded or multipart); None when it cannot be read."""
    header = ""
    for k, v in scope.get("headers", []):
        if k == b"content-type":
            header = v.decode("latin-1")
    ctype = header.lower()
    try:
        if ctype.startswith("application/x-www-form-urlencoded"):
            values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get("username")
            return values[0].strip() if values else None
        if ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser().parsebytes(b"Content-Type: " + header.encode("latin-1") + b"\r\n\r\n" + body)
            for part in msg.iter_parts() if msg.is_multipart() else []:
                if part.get_param("name", header="content-disposition") == "username":
                    return (part.get_payload(decode=True) or b"").decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - an unreadable form is an attempt without a known account
        return None
    return None
