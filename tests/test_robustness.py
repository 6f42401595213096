"""Bad input, load and faults: a clear message or a sensible answer, never a traceback; nothing lost."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.answer.chat import ask
from qa.answer.guard import MAX_QUESTION_CHARS, BadQuestion, clean_question
from qa.answer.lookup import parse_lookup
from qa.ingest.structure import CorpusError
from qa.ingest.txt import parse
from qa.retrieval.lexical import tokenize
from qa.text import detect_language

ROOT = Path(__file__).resolve().parent.parent

NASTY = {
    "empty": "",
    "whitespace": "   \n\t  ",
    "long": "人权高专办在监狱问题上做了什么？" + "这是一段很长的粘贴文本。" * 2000,
    "punctuation": "?!…。，；：——（）",
    "emoji": "😀🔥👍🏽🇺🇳",
    "html": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "markdown": "[click me](javascript:alert(1)) ![x](http://evil/x.png) **bold** | table |",
    "control": "death\x00 penalty\x1b[31m in\x07 Chad\x7f?",
    "mixed": "Quel soutien 人权高专办 a-t-il donné à los migrantes?",
    "arabic": "ماذا فعلت المفوضية بشأن عقوبة الإعدام؟",
    "russian": "Что сделало Управление в отношении смертной казни?",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NASTY))
def test_nasty_questions_get_an_answer_or_a_clear_message(engine, name):
    text = NASTY[name]
    try:
        ans = ask(engine, text)
    except BadQuestion as exc:
        assert name in ("empty", "whitespace", "punctuation", "emoji")
        assert str(exc) and "type" in str(exc)
        return
    assert name not in ("empty", "whitespace", "punctuation", "emoji")
    assert ans.message or ans.quotes
    if name == "long":
        assert ans.notice and f"{MAX_QUESTION_CHARS:,}" in ans.notice
        assert len(ans.question) <= MAX_QUESTION_CHARS
    if name == "control":
        assert "\x00" not in ans.query and "\x1b" not in ans.query
    if name in ("arabic", "russian"):
        assert ans.language in ("ar", "ru")


def test_guard_rules():
    assert clean_question("  a\x00b\u200b c  ") == ("ab c", None)
    with pytest.raises(BadQuestion, match="empty"):
        clean_question("\x00\x00")
    with pytest.raises(BadQuestion, match="no words"):
        clean_question("🙂🙂 ?!")


@pytest.mark.parametrize("arg, message", [("", "empty"), ("   ", "empty"), ("\x01\x02", "empty"), ("?!?", "no words")])
def test_cli_bad_questions_exit_2_with_one_line(qa_home, arg, message):
    r = subprocess.run([sys.executable, "-m", "qa", "ask", arg], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_missing_data_file_is_a_clear_message(tmp_path, qa_home):
    env = dict(os.environ, REPORT_QA_DATA=str(tmp_path / "nowhere"))
    for cmd in (["-m", "qa", "corpus"], ["-m", "qa", "ask", "death penalty"], ["app.py"]):
        r = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
        assert r.returncode == 2, (cmd, r.stderr[-500:])
        assert "data folder" in r.stderr and "Traceback" not in r.stderr


# --- property tests -------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parser_never_raises_anything_but_corpus_error(text):
    try:
        doc = parse(text)
    except CorpusError:
        return
    assert [p.n for p in doc.paragraphs] == list(range(1, len(doc.paragraphs) + 1))
    for p in doc.paragraphs:
        for m in p.markers:
            assert 0 <= m.offset <= len(p.text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["1. ", "2. ", "A. ", " 1. ", "第一章", "__________", " 3 note", "https://x.org/a",
                                 "text。", "more text", "1", " ", "\n", "。4 ", "Chapter I", "¶"]), max_size=60))
def test_parser_on_report_shaped_noise(pieces):
    try:
        parse("".join(pieces))
    except CorpusError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_query_helpers_never_raise(text):
    detect_language(text)
    tokenize(text)
    parse_lookup(text)
    try:
        clean_question(text)
    except BadQuestion:
        pass


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=200))
def test_query_path_never_raises(engine, text):
    try:
        ans = ask(engine, text)
    except BadQuestion:
        return
    assert ans.kind in ("search", "lookup", "not_found")


# --- load and faults against the real app ---------------------------------------------------------------

@pytest.mark.slow
def test_fifty_concurrent_chats(qa_home, retriever, tmp_path):
    from gradio_client import Client

    from tests.appserver import AppServer

    srv = AppServer(qa_home, tmp_path / "app.log")
    try:
        srv.wait()
        questions = ["乍得废除了哪项法律中的死刑？", "What training did staff receive after cyberattacks increased?",
                     "Qu'a fait le Haut-Commissariat pour les personnes âgées ?", "¿Qué hizo la Oficina sobre la pena de muerte?",
                     "fn 6", "", "<script>alert(1)</script>"]

        def one(i: int):
            # No timed assertion: on a shared 2-core machine, 50 clients' simultaneous start-up requests (config,
            # API info) can take longer than httpx's default 5 s to be answered (one did, in a CI run).
            client = Client(srv.url, verbose=False, httpx_kwargs={"timeout": 120})
            t0 = time.perf_counter()
            out = client.predict(questions[i % len(questions)], api_name="/chat")
            return time.perf_counter() - t0, out

        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(one, range(50)))
        latencies = sorted(r[0] for r in results)
        p95 = latencies[int(0.95 * len(latencies)) - 1]
        print(f"\n50 concurrent chats: p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s")
        for i, (_, out) in enumerate(results):
            q = questions[i % len(questions)]
            if q == "":
                assert "empty" in out["error"]
            else:
                assert "error" not in out and (out["quotes"] or out["message"])
        # Still responsive afterwards.
        assert Client(srv.url, verbose=False).predict("fn 6", api_name="/chat")["citations"] == ["[¶25, fn 6]"]
    finally:
        srv.stop()


# Runs `python -m qa index --rebuild` with every fsync slowed down (a real writer, real files, only slower), so the
# window between a temp file's creation and its rename is wide enough to kill the process inside it every time.
SLOW_FSYNC_INDEX = (
    "import os, sys, time\n"
    "real_fsync = os.fsync\n"
    "def slow_fsync(fd):\n"
    "    time.sleep(float(os.environ['SLOW_FSYNC_S']))\n"
    "    return real_fsync(fd)\n"
    "os.fsync = slow_fsync\n"
    "sys.argv = ['qa', 'index', '--rebuild']\n"
    "from qa.app.cli import main\n"
    "raise SystemExit(main())\n"
)


@pytest.mark.slow
def test_killing_index_leaves_previous_index_usable(qa_home, retriever):
    from embeddings.stores.faiss import VectorStore

    directory = Path(qa_home) / "index"
    manifests = sorted(directory.rglob("manifest.json"))
    assert manifests
    before = {m: m.read_bytes() for m in manifests}
    env = dict(os.environ, REPORT_QA_HOME=str(qa_home), SLOW_FSYNC_S="1.0")
    proc = subprocess.Popen([sys.executable, "-c", SLOW_FSYNC_INDEX], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill at the most delicate moment: the new index files are written and the new manifest is half-way in.
    deadline, temps = time.monotonic() + 600, []
    try:
        while time.monotonic() < deadline and proc.poll() is None and not temps:
            temps = list(directory.rglob(".manifest.json.*"))
            time.sleep(0.01)
        assert proc.poll() is None, f"the rebuild ended by itself (exit {proc.returncode}) before any manifest write"
        assert temps, "no manifest write seen within 600 s"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # it did not finish by itself
    # The killed writer's temp manifest is still there: the kill landed between creating it and renaming it.
    left = [t for t in temps if t.exists()]
    assert left, "the manifest write finished before the kill landed"
    for m in manifests:
        assert m.read_bytes() == before[m]  # the previous manifest is untouched
        expect = {k: v for k, v in json.loads(m.read_text()).items() if k in ("model", "corpus_sha256", "unit_type")}
        store = VectorStore.load(m.parent, expect=expect)  # raises if half-written
        assert len(store.units) > 0
    r = subprocess.run([sys.executable, "-m", "qa", "index", "--json"], cwd=ROOT, env=dict(os.environ, REPORT_QA_HOME=str(qa_home)),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    summary = json.loads(r.stdout)
    assert all(x["loaded"] for x in summary["indexes"])
    assert summary["search"] == {"two_stage": False, "paragraphs": summary["paragraphs"]}  # small: exhaustive
    for t in left:
        t.unlink(missing_ok=True)
