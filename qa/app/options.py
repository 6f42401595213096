"""Options shared by the CLI (`qa.app.cli`) and `python app.py` (`qa.app.serve.launch`): the vector store and
search depth, the app's serving options, the optional LLM endpoint, and the environment variables they read."""

from __future__ import annotations

import argparse
import os

from qa.answer.llm import LLMConfig
from qa.app.serve.limits import DEFAULT_CONCURRENCY, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_SESSIONS, DEFAULT_QUEUE_SIZE
from qa.retrieval.signals import DENSE_CANDIDATES, SAMPLE_SIZE

# The --help epilog of `report-qa` and `python app.py`: every variable the program reads.
ENVIRONMENT = """\
environment variables:
  REPORT_QA_HOME            cache folder: restored models, embeddings, indexes (default ~/.cache/report-qa)
  REPORT_QA_LIBRARY         the reports added with `add` or in the app (default $REPORT_QA_HOME/library)
  REPORT_QA_DATA            folder of the bundled report texts (default: the package's data/)
  REPORT_QA_STORE           default of --store; REPORT_QA_CANDIDATES: default of --candidates
  REPORT_QA_MILVUS_TIMEOUT  seconds a Milvus server may take to answer one call (default 20); MILVUS_TOKEN: its token
  REPORT_QA_E5_BACKEND      e5-small's backend: auto (default), torch, or onnx:VARIANT
  REPORT_QA_ORT_THREADS     ONNX Runtime threads for e5-small (default: ONNX Runtime's own choice, one per core)
  REPORT_QA_LOG             log level of the report-qa messages on stderr: DEBUG, INFO (default), WARNING, ERROR
  REPORT_QA_LLM_URL, REPORT_QA_LLM_MODEL, REPORT_QA_LLM_TIMEOUT
                            defaults of --llm-url, --llm-model, --llm-timeout (the optional generated answer);
                            REPORT_QA_LLM_API_KEY (else OPENAI_API_KEY) is sent as a Bearer token
  the app (serve, app.py):
  GRADIO_SERVER_NAME, GRADIO_SERVER_PORT   defaults of --host and --port
  REPORT_QA_MCP=1           default of --mcp; REPORT_QA_AUTH_FILE: default of --auth-file
  REPORT_QA_MALLOC=default  keep glibc's allocator settings (the app caps its arenas to keep memory flat)
"""


def positive(text: str) -> int:
    """A whole number from 1 to 1000 (--top-k, --folds, --concurrency, …)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1 or v > 1000:
        raise argparse.ArgumentTypeError("give a number from 1 to 1000")
    return v


def candidates_value(text: str) -> int | str:
    """--candidates: a whole number from 10 to 100,000, or "all"."""
    value = text.strip().lower()
    if value == "all":
        return "all"
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 10 <= n <= 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} (from --candidates or $REPORT_QA_CANDIDATES): give a whole number "
                                         "from 10 to 100000, or 'all'")
    return n


def store_option(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--store: where the vector indexes live (embeddings/stores/); --candidates: how deep a large collection
    (over `SAMPLE_SIZE` paragraphs) is searched."""
    p.add_argument("--store", metavar="URI", default=os.environ.get("REPORT_QA_STORE"),
                   help="vector store: milvus://HOST:PORT (a Milvus server), PATH.db (Milvus Lite, local) or faiss "
                   "(default: $REPORT_QA_STORE, else FAISS files in the cache)")
    p.add_argument("--candidates", metavar="N|all", type=candidates_value,
                   default=os.environ.get("REPORT_QA_CANDIDATES") or None,
                   help=f"collections over {SAMPLE_SIZE} paragraphs are searched in two stages: each signal fetches N "
                   f"candidates (default: $REPORT_QA_CANDIDATES, else {DENSE_CANDIDATES}); more comes closer to scoring every "
                   "paragraph, and is slower; 'all' scores every paragraph (exact)")
    return p


def serve_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of `report-qa serve` and `python app.py` (one parser for both)."""
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--model", default=None, help="sentence-transformers model name or path (default: e5-small)")
    p.add_argument("--corpus", dest="paths", action="append", metavar="PATH",
                   help="report text file (repeatable; default: the bundled report)")
    store_option(p)
    p.add_argument("--mcp", action="store_true", default=os.environ.get("REPORT_QA_MCP", "") == "1",
                   help="also serve MCP tools (ask, search, get_paragraph, get_footnote) at /gradio_api/mcp/ "
                   "(streamable HTTP); default on when $REPORT_QA_MCP=1")
    # Sign-in and limits (qa/app/serve/auth.py, qa/app/serve/limits.py): a non-loopback --host needs accounts or
    # --allow-anonymous.
    p.add_argument("--auth", action="append", metavar="USER:PASS", help="an account (repeatable); sign-in is then "
                   "required for the UI, the API and MCP")
    p.add_argument("--auth-file", metavar="FILE", default=os.environ.get("REPORT_QA_AUTH_FILE"),
                   help="accounts, one user:bcrypt-hash per line (make one: python -m qa hash-password USER); "
                   "default $REPORT_QA_AUTH_FILE")
    p.add_argument("--allow-anonymous", action="store_true",
                   help="serve on a non-loopback --host without sign-in (refused otherwise)")
    p.add_argument("--concurrency", type=positive, default=DEFAULT_CONCURRENCY, metavar="N",
                   help=f"answers computed at once (default {DEFAULT_CONCURRENCY})")
    p.add_argument("--queue-size", type=positive, default=DEFAULT_QUEUE_SIZE, metavar="N",
                   help=f"requests that may wait; more get 'busy, try again' (default {DEFAULT_QUEUE_SIZE})")
    p.add_argument("--max-request-kb", type=positive, default=DEFAULT_MAX_REQUEST_BYTES // 1024, metavar="KB",
                   help=f"largest request body outside uploads (default {DEFAULT_MAX_REQUEST_BYTES // 1024})")
    p.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS, metavar="N",
                   help=f"browser/API sessions kept in memory, least recent dropped (default {DEFAULT_MAX_SESSIONS})")
    return p


def llm_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--llm-url / --llm-model / --llm-timeout: the optional generated answer (off unless a URL is given)."""
    p.add_argument("--llm-url", metavar="URL", help="OpenAI-compatible API base, e.g. http://127.0.0.1:8080/v1 "
                   "(llama.cpp) or http://127.0.0.1:11434/v1 (Ollama); default $REPORT_QA_LLM_URL, else off")
    p.add_argument("--llm-model", metavar="NAME", help="model name for that endpoint (default $REPORT_QA_LLM_MODEL)")
    p.add_argument("--llm-timeout", type=float, metavar="S",
                   help="seconds to connect and the longest pause while reading (default $REPORT_QA_LLM_TIMEOUT or 30)")
    return p


def llm_config(args: argparse.Namespace) -> LLMConfig | None:
    """The LLM endpoint from --llm-* (else the environment); None when off. Raises LLMConfigError (a UserError)."""
    return LLMConfig.resolve(getattr(args, "llm_url", None), getattr(args, "llm_model", None),
                             getattr(args, "llm_timeout", None))
