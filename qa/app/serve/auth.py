"""Sign-in for a shared server: who may use the app, its API and its MCP endpoint.

- `--auth USER:PASS` (repeatable) gives accounts on the command line; `--auth-file FILE` (or the environment
  variable `REPORT_QA_AUTH_FILE`) reads one `user:hash` per line, the hash made by bcrypt (`$2b$…`) or, when
  argon2-cffi is installed, Argon2 (`$argon2id$…`). `python -m qa hash-password USER` prints such a line.
- Gradio's own `auth=` does the sign-in: the browser gets Gradio's login page, `gradio_client.Client(url,
  auth=(user, password))` logs in the same way, and every `/gradio_api/*` route Gradio guards answers 401 without
  the session cookie. `Credentials.gradio_auth` is the callable Gradio calls (async: bcrypt never blocks the
  event loop).
- Gradio does not guard its MCP server (`/gradio_api/mcp/…`) nor a few other routes; `AuthGuardMiddleware` does,
  accepting the Gradio session cookie, `Authorization: Bearer <session token>` or `Authorization: Basic …` (what
  MCP clients send: `headers={"Authorization": "Basic " + base64("user:pass")}`).
- Wrong passwords are throttled per account and per client address, on the login form and on the guarded routes
  alike (`qa.app.serve.throttle`): after a few failures each attempt waits longer, and gets HTTP 429 meanwhile.
- Binding to an address other than loopback without accounts is refused unless `--allow-anonymous` is given
  (`check_exposure`): exposing the app by accident is worse than one more flag.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import anyio
import bcrypt

from qa.app.serve.throttle import SignInThrottle, client_address, log_failure, send_wait
from qa.errors import UserError

AUTH_FILE_ENV = "REPORT_QA_AUTH_FILE"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
# Routes Gradio itself leaves open that do work or expose data: the MCP server, run history, cancelling events.
GUARDED_PREFIXES = ("/gradio_api/mcp", "/gradio_api/runs", "/gradio_api/run-history", "/gradio_api/cancel")
VERIFIED_TTL_S = 600  # a verified Basic password is remembered (as an HMAC, in memory) this long
INTERNAL_USER = "report-qa-internal"  # Gradio's MCP server calls queued tools over loopback HTTP as this user


class AuthConfigError(UserError):
    """A bad --auth / --auth-file entry; the message names the line and how to fix it."""


def _is_hash(secret: str) -> str | None:
    if secret.startswith(("$2b$", "$2a$", "$2y$")):
        return "bcrypt"
    if secret.startswith("$argon2"):
        return "argon2"
    return None


@dataclass
class Credentials:
    """Accounts: user → ("plain", password) from --auth, or ("bcrypt" | "argon2", hash) from an auth file."""

    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)
    _verified: dict[bytes, float] = field(default_factory=dict, repr=False)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __bool__(self) -> bool:
        return bool(self.accounts)

    @property
    def users(self) -> list[str]:
        return sorted(u for u in self.accounts if u != INTERNAL_USER)

    def add(self, user: str, secret: str, *, hashed: bool, where: str) -> None:
        user = user.strip()
        if not user or any(ch.isspace() or ch == ":" for ch in user):
            raise AuthConfigError(f"{where}: the user name must be non-empty, without spaces or ':'")
        if not secret:
            raise AuthConfigError(f"{where}: empty password for user {user!r}")
        if hashed:
            scheme = _is_hash(secret)
            if scheme is None:
                raise AuthConfigError(f"{where}: {user!r} has no bcrypt or argon2 hash; make one with "
                                      f"`python -m qa hash-password {user}` (plain passwords go in --auth)")
            if scheme == "argon2":
                _argon2()  # fail at start, not at the first sign-in
            self.accounts[user] = (scheme, secret)
        else:
            self.accounts[user] = ("plain", secret)

    def verify(self, user: str, password: str) -> bool:
        """Constant-time for plain passwords; bcrypt/argon2 otherwise. Unknown users cost a hash check too."""
        if not isinstance(user, str) or not isinstance(password, str):
            return False
        user = user.strip()
        memo = hmac.new(self._key, f"{user}\0{password}".encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            if self._verified.get(memo, 0) > now:
                return True
        scheme, secret = self.accounts.get(user, ("missing", ""))
        ok = False
        try:
            if scheme == "plain":
                ok = hmac.compare_digest(password.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass"))
            elif scheme == "bcrypt":
                ok = bcrypt.checkpw(password.encode("utf-8", "surrogatepass"), secret.encode())
            elif scheme == "argon2":
                try:
                    ok = _argon2().verify(secret, password)
                except Exception:  # noqa: BLE001 - argon2 raises VerifyMismatchError / InvalidHash
                    ok = False
            else:
                bcrypt.checkpw(b"x", _dummy_hash())  # same cost as a real check: no user enumeration by timing
        except ValueError:
            ok = False
        if ok:
            with self._lock:
                if len(self._verified) > 1024:
                    self._verified = {k: v for k, v in self._verified.items() if v > now}
                self._verified[memo] = now + VERIFIED_TTL_S
        return ok

    async def gradio_auth(self, user: str, password: str) -> bool:
        """The `auth=` callable for Gradio's launch(): verification runs in a worker thread."""
        return await anyio.to_thread.run_sync(self.verify, user, password)

    def add_internal(self) -> tuple[str, str]:
        """A random in-process account for Gradio's MCP server to call queued tools over loopback HTTP."""
        password = secrets.token_urlsafe(24)
        self.accounts[INTERNAL_USER] = ("plain", password)
        return INTERNAL_USER, password


_DUMMY: list[bytes] = []


def _dummy_hash() -> bytes:
    if not _DUMMY:
        _DUMMY.append(bcrypt.hashpw(secrets.token_bytes(16).hex().encode(), bcrypt.gensalt()))
    return _DUMMY[0]


def _argon2():
    try:
        from argon2 import PasswordHasher  # optional (argon2-cffi): only auth files with Argon2 hashes need it
    except ImportError:
        raise AuthConfigError("the auth file has Argon2 hashes: install argon2-cffi, or use bcrypt hashes "
                              "(`python -m qa hash-password USER`)") from None
    return PasswordHasher()


def load_credentials(auth: list[str] | None = None, auth_file: str | os.PathLike | None = None) -> Credentials:
    """Accounts from --auth USER:PASS entries and an auth file (default: $REPORT_QA_AUTH_FILE). May be empty."""
    creds = Credentials()
    for i, entry in enumerate(auth or [], 1):
        user, sep, password = str(entry).partition(":")
        if not sep:
            raise AuthConfigError(f"--auth #{i}: expected USER:PASSWORD")
        creds.add(user, password, hashed=False, where=f"--auth #{i}")
    path = auth_file or os.environ.get(AUTH_FILE_ENV) or None
    if path:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthConfigError(f"cannot read the auth file {path}: {exc.strerror or exc}") from None
        before = len(creds.accounts)
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, secret = line.partition(":")
            if not sep:
                raise AuthConfigError(f"{path}:{n}: expected user:hash")
            creds.add(user, secret.strip(), hashed=True, where=f"{path}:{n}")
        if len(creds.accounts) == before:
            raise AuthConfigError(f"the auth file {path} has no accounts (one user:hash per line)")
    return creds


def hash_password(password: str, scheme: str = "bcrypt") -> str:
    if not password:
        raise UserError("the password is empty")
    if scheme == "argon2":
        return _argon2().hash(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode()


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, creds: Credentials, allow_anonymous: bool) -> str | None:
    """Refuse a non-loopback bind with no accounts unless --allow-anonymous; returns a warning line, if any."""
    if creds or is_loopback(host):
        return None
    if not allow_anonymous:
        raise UserError(f"refusing to serve on {host} without sign-in: anyone who can reach this port could use "
                        "the app. Add accounts with --auth USER:PASS or --auth-file FILE (see `python -m qa "
                        "hash-password`), or pass --allow-anonymous to serve it openly on purpose")
    return (f"warning: serving on {host} with NO sign-in (--allow-anonymous): anyone who can reach this port can "
            "use the app, its API and MCP endpoint")


class AuthGuardMiddleware:
    """ASGI middleware: the routes Gradio leaves open (MCP above all) require the same accounts as the UI.

    Accepted: Gradio's session cookie (set by the login page or `gradio_client`'s `auth=`), `Authorization:
    Bearer <that session token>`, or `Authorization: Basic base64(user:password)`. Wrong Basic passwords and
    unknown Bearer tokens count as failed sign-ins (`qa.app.serve.throttle`): after a few, 429 with Retry-After.
    """

    def __init__(self, app, credentials: Credentials, prefixes: tuple[str, ...] = GUARDED_PREFIXES,
                 throttle: SignInThrottle | None = None):
        self.app = app
        self.credentials = credentials
        self.prefixes = prefixes
        self.throttle = throttle or SignInThrottle()

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and self.credentials and scope.get("path", "").startswith(self.prefixes):
            verdict = await self._signed_in(scope)
            if verdict is not True:
                if verdict and scope["type"] == "http":
                    return await send_wait(send, verdict)
                return await _unauthorized(send, scope)
        return await self.app(scope, receive, send)

    async def _signed_in(self, scope) -> bool | float:
        """True when signed in, False when not, or the seconds to wait after too many failures."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        tokens = getattr(scope.get("app"), "tokens", None) or {}
        if session_user(scope) is not None:
            return True
        kind, _, value = headers.get("authorization", "").partition(" ")
        kind, value = kind.lower(), value.strip()
        if kind not in ("bearer", "basic") or not value:
            return False
        address = client_address(scope)
        user = None
        if kind == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
            except Exception:  # noqa: BLE001 - undecodable credentials are wrong credentials
                user, password = None, None
        keys = self.throttle.keys(user, address)
        wait = self.throttle.wait_s(keys)
        if wait > 0:
            return wait
        if kind == "bearer":
            ok = bool(tokens.get(value))
        else:
            ok = password is not None and await anyio.to_thread.run_sync(self.credentials.verify, user, password)
        if ok:
            self.throttle.succeeded(keys)
            return True
        log_failure(f"{kind.capitalize()} header on {scope.get('path', '')[:80]}", user, address,
                    self.throttle.failed(keys))
        return False


def session_user(scope) -> str | None:
    """The account of a valid Gradio session cookie on this request (what the login page sets), else None."""
    app = scope.get("app")
    tokens = getattr(app, "tokens", None) or {}
    cookie_id = getattr(app, "cookie_id", None)
    if not cookie_id or not tokens:
        return None
    for k, v in scope.get("headers", []):
        if k.lower() != b"cookie":
            continue
        jar = SimpleCookie()
        try:
            jar.load(v.decode("latin-1"))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just "no cookie"
            continue
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            if name in jar and tokens.get(jar[name].value):
                return str(tokens[jar[name].value])
    return None


async def _unauthorized(send, scope) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    text = ("Not authenticated: sign in first (the app's login page, gradio_client's auth=(user, password), "
            "or an 'Authorization: Basic' header for MCP clients)")
    body = json.dumps({"detail": text, "error": "Not authenticated"}).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Basic realm="report-qa", charset="UTF-8"')]})
    await send({"type": "http.response.body", "body": body})


def patch_mcp_loopback(demo, credentials: Credentials) -> None:
    """Gradio's MCP server runs queued tools through a `gradio_client.Client` on loopback that never signs in;
    with accounts on, give it an in-process account so MCP tool calls are not refused by Gradio's own auth."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None or not credentials or not hasattr(server, "_get_or_create_client"):
        return
    user, password = credentials.add_internal()
    original = server._get_or_create_client
    lock = threading.Lock()

    def signed_in_client():
        with lock:
            if getattr(server, "_client_instance", None) is None:
                from gradio_client import Client  # here: 0.3 s to import, and only a server with --mcp needs it

                url = getattr(server, "local_url", None) or getattr(demo, "local_url", None)
                if not url:
                    return original()
                server._client_instance = Client(url, auth=(user, password), download_files=False, verbose=False,
                                                 analytics_enabled=False, ssl_verify=False, _skip_components=False,
                                                 headers={"x-gradio-user": "mcp"})
            return server._client_instance

    server._get_or_create_client = signed_in_client


def hash_password_main(user: str | None, scheme: str = "bcrypt") -> int:
    """`python -m qa hash-password [USER]`: read a password (twice on a terminal, else one line of stdin) and
    print `USER:HASH`, a line for --auth-file."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise UserError("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    hashed = hash_password(password, scheme)
    print(f"{user}:{hashed}" if user else hashed)
    return 0
