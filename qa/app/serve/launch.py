"""Start the app and put it on the network: `python app.py` and `report-qa serve` run `main` / `serve` here.

`serve(args)` checks sign-in and `--store`, removes unfinished library writes, starts loading the models in the
background, builds the page (`qa.app.ui.webapp.build_app`) and serves it at once. `prepare(args)` runs before
anything loads (a refused configuration costs no model load); `launch(demo, args, plan, …)` starts Gradio with
the accounts, the middlewares of `qa.app.serve` (sign-in and its throttling, request limits, upload quotas,
input checks) and the queue settings, then blocks until Ctrl-C or SIGTERM. On SIGTERM new requests get 503
"restarting, try again", the ones already accepted (running or queued) get `SHUTDOWN_GRACE_S` to finish and
reach their users, the server closes, and the process exits with code 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial

from starlette.middleware import Middleware

from embeddings.stores import open_store
from qa.app.options import ENVIRONMENT, serve_options
from qa.app.serve.auth import AuthGuardMiddleware, Credentials, check_exposure, load_credentials, patch_mcp_loopback
from qa.app.serve.inputs import InputCheckMiddleware
from qa.app.serve.limits import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_QUEUE_SIZE,
    MAX_UPLOAD_BYTES,
    BodyLimitMiddleware,
)
from qa.app.serve.memory import start_trimmer, tune_malloc
from qa.app.serve.throttle import FREE_FAILURES, LoginThrottleMiddleware, SignInThrottle
from qa.app.serve.uploads import UploadGuardMiddleware
from qa.app.ui.loading import EngineHandle
from qa.app.ui.webapp import CSS, HEAD, build_app, offline_theme
from qa.engine import load_engine
from qa.errors import USER_ERRORS
from qa.ingest.library import Library, load_corpus_with_library
from qa.retrieval.index import configure_logging

log = logging.getLogger("report_qa")
SHUTDOWN_GRACE_S = 10.0


@dataclass
class ServePlan:
    credentials: Credentials
    warning: str | None = None


def prepare(args) -> ServePlan:
    """Accounts and the exposure check, from the serve options. Raises UserError (exit code 2)."""
    creds = load_credentials(getattr(args, "auth", None), getattr(args, "auth_file", None))
    warning = check_exposure(args.host, creds, bool(getattr(args, "allow_anonymous", False)))
    if warning:
        print(f"report-qa: {warning}", file=sys.stderr, flush=True)
    if creds:
        print(f"report-qa: sign-in required ({len(creds.users)} account(s)); the API and MCP endpoint too", flush=True)
    return ServePlan(creds, warning)


def configure_queue(demo, args) -> None:
    demo.queue(default_concurrency_limit=getattr(args, "concurrency", None) or DEFAULT_CONCURRENCY,
               max_size=getattr(args, "queue_size", None) or DEFAULT_QUEUE_SIZE)


def launch_kwargs(args, plan: ServePlan) -> dict:
    """Keyword arguments for `demo.launch()` that carry sign-in and the request limits."""
    max_body = int(getattr(args, "max_request_kb", 0) or 0) * 1024 or DEFAULT_MAX_REQUEST_BYTES
    # Outermost first: sign-in (when on), the shutdown drain, body sizes, upload quotas, then bad input.
    middleware = [Middleware(DrainMiddleware), Middleware(BodyLimitMiddleware, max_bytes=max_body),
                  Middleware(UploadGuardMiddleware), Middleware(InputCheckMiddleware)]
    kwargs: dict = {"max_file_size": MAX_UPLOAD_BYTES,
                    "state_session_capacity": max(10, getattr(args, "max_sessions", None) or DEFAULT_MAX_SESSIONS),
                    # Gradio's run history can push users' runs to a Hugging Face bucket: not on a shared, offline server.
                    "run_history": False}
    if plan.credentials:
        throttle = SignInThrottle()  # one count of failures for the login form and the guarded routes
        middleware[:0] = [Middleware(LoginThrottleMiddleware, throttle=throttle),
                          Middleware(AuthGuardMiddleware, credentials=plan.credentials, throttle=throttle)]
        kwargs["auth"] = plan.credentials.gradio_auth
        kwargs["auth_message"] = ("Sign in to report-qa (ask the person who runs this server for an account). After "
                                  f"{FREE_FAILURES} wrong passwords, sign-in pauses for a moment (longer after each "
                                  "further one); if Login seems to do nothing, wait and try again.")
    kwargs["app_kwargs"] = {"middleware": middleware}
    return kwargs


def launch(demo, args, plan: ServePlan, **launch_options) -> int:
    """Start the server (with `launch_options` passed on to Gradio), block until Ctrl-C / SIGTERM, stop cleanly."""
    stop = threading.Event()
    reason: list[str] = []

    def on_signal(signum, _frame):
        reason.append(signal.Signals(signum).name)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        options = {**launch_kwargs(args, plan), **launch_options}
        if "app_kwargs" in launch_options:  # keep both: the caller's app kwargs and our middlewares
            options["app_kwargs"] = {**launch_kwargs(args, plan)["app_kwargs"], **launch_options["app_kwargs"]}
        demo.launch(prevent_thread_lock=True, **options)
        patch_mcp_loopback(demo, plan.credentials)
        while not stop.wait(0.5):
            if not getattr(demo, "is_running", True):
                break
        if reason:
            print(f"report-qa: {reason[0]} received; finishing running requests and shutting down", flush=True)
        shutdown(demo)
        print("report-qa: stopped", flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


DRAINING = threading.Event()
SHUTDOWN_MESSAGE = "The server is restarting; please try again in a moment."
_SUBMIT = ("/queue/join", "/call/", "/run/", "/gradio_api/api/", "/gradio_api/mcp")


class DrainMiddleware:
    """ASGI middleware: once shutdown starts, new work (queue joins, API calls, MCP) gets 503; streams of work
    already accepted go on, so those answers still reach their users."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if DRAINING.is_set() and scope["type"] == "http" and scope.get("method") == "POST" \
                and any(p in scope.get("path", "") for p in _SUBMIT):
            body = json.dumps({"detail": SHUTDOWN_MESSAGE, "error": SHUTDOWN_MESSAGE}).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                    (b"retry-after", b"5"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def shutdown(demo, grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """Refuse new work, let accepted requests (running or queued) finish and reach their users (at most `grace_s`),
    then close the server."""
    DRAINING.set()
    queue = getattr(demo, "_queue", None)
    if queue is not None:
        deadline = time.monotonic() + grace_s

        def busy() -> bool:
            try:
                return len(queue) > 0 or any(j is not None for j in getattr(queue, "active_jobs", []) or [])
            except Exception:  # noqa: BLE001 - Gradio internals: when in doubt, stop waiting
                return False

        while time.monotonic() < deadline and busy():
            time.sleep(0.1)
        time.sleep(0.5)  # the last results still have to go out on their event streams
    try:
        demo.close(verbose=False)
    except Exception:  # noqa: BLE001 - closing a half-started server must not print a traceback
        log.debug("closing the server failed", exc_info=True)


# --- python app.py / report-qa serve ---------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description="report-qa chat app (Gradio)", epilog=ENVIRONMENT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return serve_options(parser).parse_args(argv)


def _load(corpus, args: argparse.Namespace):
    """The engine `serve` loads in the background."""
    return load_engine(corpus, model=args.model, store_uri=getattr(args, "store", None),
                       candidates=getattr(args, "candidates", None))


def _report_loaded(args: argparse.Namespace, t0: float, h: EngineHandle) -> None:
    """One line per index and "ready in … s" once the models are loaded (or the error when they failed)."""
    if h.failed:
        print(f"report-qa: error: the model could not be loaded: {h.status_markdown()}", file=sys.stderr, flush=True)
        return
    for r in h.index_reports:
        print(f"report-qa: index {r['model']}: {'loaded' if r.get('loaded') else 'built'} "
              f"({r.get('units')} units, {r.get('seconds', 0):.1f} s)", flush=True)
    print(f"report-qa: ready in {time.perf_counter() - t0:.1f} s on http://{args.host}:{args.port}", flush=True)


def serve(args: argparse.Namespace) -> int:
    """Load the engine, then serve the app (the body of `python app.py` and `report-qa serve`)."""
    tune_malloc()  # before any worker thread starts: memory stays flat under load (qa/app/serve/memory.py)
    start_trimmer()
    configure_logging()
    t0 = time.perf_counter()
    try:
        plan = prepare(args)  # sign-in / exposure check first: a refused start loads nothing
        gone = Library().clean_leftovers()  # an add or removal killed halfway leaves .incoming-* / .removing-*
        if gone:
            print(f"report-qa: removed {len(gone)} unfinished library write(s): {', '.join(gone)}", flush=True)
        corpus = load_corpus_with_library(args.paths)  # the bundled report (or PATHs) + the library (REPORT_QA_LIBRARY)
        open_store(getattr(args, "store", None))  # a bad --store fails here, before anything loads
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The UI is served at once; the models load in the background (qa/app/ui/loading.py).
    print(f"report-qa: loading {len(corpus.documents)} document(s) and the models in the background …", flush=True)
    handle = EngineHandle(corpus, partial(_load, corpus, args))
    handle.on_ready(partial(_report_loaded, args, t0))
    handle.start()
    demo = build_app(handle)
    configure_queue(demo, args)
    print(f"report-qa: serving on http://{args.host}:{args.port} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return launch(demo, args, plan, server_name=args.host, server_port=args.port, show_error=False,
                  quiet=True, css=CSS, head=HEAD, theme=offline_theme(), footer_links=["api"], ssr_mode=False,
                  mcp_server=bool(getattr(args, "mcp", False)))  # --mcp: tools at /gradio_api/mcp/


def main(argv: list[str] | None = None) -> int:
    """`python app.py [options]`."""
    return serve(parse_args(argv))
