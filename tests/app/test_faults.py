"""Faults while serving (loopback only): index files deleted or corrupted under a running app, a full disk when
an upload is written, an LLM endpoint that hangs, and SIGTERM in the middle of requests."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from qa.errors import UserError

QUESTIONS = [("乍得废除了哪项法律中的死刑？", "[¶90]"),
             ("What training did staff receive after cyberattacks increased?", "[¶119]"),
             ("fn 6", "[¶25, fn 6")]


def private_home(shared: Path, dest: Path) -> Path:
    """A cache home of our own: the restored models shared (read-only), the indexes and embedding cache copied."""
    dest.mkdir(parents=True, exist_ok=True)
    os.symlink(shared / "models", dest / "models")
    if (shared / "embeddings.sqlite3").exists():
        shutil.copy2(shared / "embeddings.sqlite3", dest / "embeddings.sqlite3")
    if (shared / "index").exists():
        shutil.copytree(shared / "index", dest / "index")
    return dest


def ask_all(url: str) -> list[str]:
    from bench.soak import ApiClient

    api = ApiClient(url)
    try:
        out = []
        for q, want in QUESTIONS:
            status, res = api.call("chat", [q, "hybrid", 3, []])
            assert status == 200 and res["citations"][0].startswith(want), (q, status, res)
            out.append(res["citations"][0])
        return out
    finally:
        api.close()


def index_dirs(home: Path) -> list[Path]:
    return sorted(p.parent for p in (home / "index").rglob("manifest.json"))


@pytest.mark.slow
def test_index_files_deleted_or_corrupted_while_serving(qa_home, retriever, tmp_path):
    """The running app keeps answering from memory; the next start finds the damage and rebuilds."""
    from tests.appserver import AppServer

    home = private_home(qa_home, tmp_path / "home")
    env = {"REPORT_QA_LIBRARY": str(tmp_path / "library")}
    srv = AppServer(home, tmp_path / "app1.log", extra_env=env)
    try:
        srv.wait()
        before = ask_all(srv.url)
        dirs = index_dirs(home)
        assert any("e5" in d.name for d in dirs) and any("use" in d.name for d in dirs), dirs
        # Damage: the e5 index files corrupted in place (same size, garbage bytes), the USE indexes deleted outright.
        for d in dirs:
            if "e5" in d.name:
                for f in d.iterdir():
                    if f.name != "manifest.json":
                        f.write_bytes(os.urandom(f.stat().st_size))
            else:
                shutil.rmtree(d)
        for _ in range(3):
            assert ask_all(srv.url) == before
    finally:
        srv.stop()
    assert srv.proc.returncode == 0
    assert "Traceback" not in srv.log_path.read_text()

    again = AppServer(home, tmp_path / "app2.log", extra_env=env)
    try:
        again.wait(600)
        assert ask_all(again.url) == before
    finally:
        again.stop()
    log = again.log_path.read_text()
    print("\n" + "\n".join(line for line in log.splitlines() if "index" in line or "ready in" in line))
    assert "fails its checksum" in log and "rebuilding" in log, log[-3000:]
    assert "built (" in log and "Traceback" not in log
    assert len(index_dirs(home)) >= 2  # saved again, whole


@pytest.mark.slow
def test_sigterm_during_requests_shuts_down_cleanly(qa_home, retriever, tmp_path):
    from bench.soak import ApiClient
    from tests.appserver import AppServer

    srv = AppServer(qa_home, tmp_path / "app.log", extra_env={"REPORT_QA_LIBRARY": str(tmp_path / "library")})
    srv.wait()
    results: list = []

    def client(i):
        api = ApiClient(srv.url, timeout=60)
        sent: list[str] = []  # the path of each request this client sends
        api.http.event_hooks = {"request": [lambda request: sent.append(request.url.path)], "response": []}
        try:
            for _ in range(20):
                results.append(api.call("chat", [QUESTIONS[i % 2][0], "hybrid", 3, []])[0])
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            # The server going away: "closed" while a question is being submitted (the port, or the connection, closed
            # before the app took it); while the result of one it took is streamed (…/call/chat/EVENT), a dropped request.
            accepted = bool(sent) and sent[-1].startswith("/gradio_api/call/chat/")
            results.append(f"dropped: {exc!r}" if accepted else "closed")
        except Exception as exc:  # noqa: BLE001 - anything else (a timeout, a bad reply) is recorded and fails below
            results.append(f"{type(exc).__name__}: {exc}")
        finally:
            api.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(6)]
    for t in threads:
        t.start()
    deadline = time.time() + 120
    while 200 not in results and time.time() < deadline:  # requests are flowing
        time.sleep(0.05)
    answered_before = results.count(200)
    srv.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    try:
        code = srv.proc.wait(timeout=60)
        stopped_s = time.monotonic() - t0
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
        srv.log.close()
    for t in threads:
        t.join(90)
    log = srv.log_path.read_text()
    after = results[answered_before:]
    print(f"\nSIGTERM: exit code {code} after {stopped_s:.1f} s; {answered_before} answered before it, then "
          f"{after.count(200)} answered, {sum(1 for r in after if r == 503)} refused (503), "
          f"{sum(1 for r in after if isinstance(r, str))} connection errors, others {[r for r in after if r not in (200, 503) and not isinstance(r, str)]}")
    assert code == 0, log[-3000:]
    assert "SIGTERM received; finishing running requests and shutting down" in log and "report-qa: stopped" in log
    assert "Traceback" not in log and "Error" not in log.split("SIGTERM received")[1], log[-3000:]
    assert 200 in results
    # After the signal: accepted requests are answered, new ones refused with 503, or the port is closed; an accepted
    # request is never dropped (a 500: its event stream ended without a result; or its stream cut: "dropped").
    assert all(r in (200, 503, "closed") for r in after), after


@pytest.mark.slow
def test_llm_endpoint_that_hangs_still_gives_the_extractive_answer(qa_home, retriever, tmp_path):
    """The real app with an LLM endpoint that never answers: the chat shows the quotes at once, then one line
    saying the generated answer is unavailable, within the configured timeout."""
    try:
        from tests.llm_server import Reply, ScriptedLLMServer
    except ImportError:
        pytest.skip("tests/llm_server.py (the LLM issue) is not here")
    from bench.soak import ApiClient, UiClient
    from tests.appserver import AppServer

    hang = ScriptedLLMServer(default=Reply("never sent", delay=600)).start()
    stall = ScriptedLLMServer(default=Reply("在乍得，人权高专办的宣传推动废除了死刑。 [¶90] " * 5, chunk_size=4,
                                            stall_after=2, stall=600)).start()
    try:
        for server, what in ((hang, "no reply"), (stall, "stopped sending")):
            srv = AppServer(qa_home, tmp_path / f"app-{what[:2]}.log",
                            extra_env={"REPORT_QA_LLM_URL": server.url, "REPORT_QA_LLM_MODEL": "test",
                                       "REPORT_QA_LLM_TIMEOUT": "2", "REPORT_QA_LIBRARY": str(tmp_path / "library")})
            try:
                srv.wait()
                ui = UiClient(ApiClient(srv.url, timeout=300))
                steps: list = []
                t0 = time.monotonic()
                status, out = ui.run("rqa-send", "click", {"rqa-input": "乍得废除了哪项法律中的死刑？"},
                                     on_step=lambda d, steps=steps, t0=t0: steps.append((time.monotonic() - t0, d)))
                took = time.monotonic() - t0
                assert status == 200, out
                final = json.dumps(out[1][-1], ensure_ascii=False)
                assert "¶90" in final and "在乍得" in final  # the extractive answer is there
                assert what in final or "unavailable" in final or "不可用" in final, final
                first_quote = next(t for t, d in steps if "¶90" in json.dumps(d, ensure_ascii=False))
                print(f"\nLLM {what}: extractive answer after {first_quote:.1f} s, finished after {took:.1f} s")
                assert server.requests  # the app did call the endpoint
            finally:
                srv.stop()
            assert "Traceback" not in srv.log_path.read_text()
    finally:
        hang.stop()
        stall.stop()


# --- a full disk when an upload is written --------------------------------------------------------------------

def _tiny_tmpfs(path: Path, size: str) -> bool:
    """Mount a small tmpfs at `path` (needs root and a kernel that allows it); False when that is not possible."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def _report(n_paragraphs: int) -> bytes:
    lines = ["Synthetic report about disk space", "", "I. Storage", ""]
    for i in range(1, n_paragraphs + 1):
        lines += [f"{i}. Paragraph {i} says something about storage that is long enough to take some room. " * 3, ""]
    return "\n".join(lines).encode()


def _assert_nothing_kept(root: Path) -> None:
    leftovers = [p.name for p in root.iterdir() if p.name not in (".lock",)]
    assert leftovers == [], leftovers  # no entry, no half-written .incoming-* folder


@pytest.mark.parametrize("how", ["tmpfs", "patched"])
def test_disk_full_on_upload_is_a_clear_message_and_keeps_nothing(tmp_path, monkeypatch, how):
    from qa.app.ui.reports import ReportManager
    from qa.ingest import library as library_mod
    from qa.ingest.library import Library

    upload = tmp_path / "upload" / "storage.txt"
    upload.parent.mkdir()
    upload.write_bytes(_report(400))  # ~120 KB: more than the small disk holds
    root = tmp_path / "small-disk"
    mounted = how == "tmpfs" and _tiny_tmpfs(root, "64k")
    if how == "tmpfs" and not mounted:
        pytest.skip("cannot mount a tmpfs here (needs root); the patched variant covers it")
    try:
        if not mounted:  # no tmpfs here: the same failure, from a write that stops halfway with ENOSPC
            root.mkdir(exist_ok=True)
            real_copy = library_mod.copy_file

            def full_disk_copy(src, dst):
                with open(src, "rb") as fin, open(dst, "wb") as fout:
                    fout.write(fin.read(4096))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

            monkeypatch.setattr(library_mod, "copy_file", full_disk_copy)
        lib = Library(root)
        mgr = ReportManager(type("Live", (), {"library": lib})())
        with pytest.raises(UserError, match="the disk is full") as err:
            mgr.parse(upload, name="storage.txt")
        assert "storage.txt was not added" in str(err.value) and "Traceback" not in str(err.value)
        assert lib.entries() == []
        _assert_nothing_kept(root)
        # Once there is room again (a smaller report here), adding works and leaves one whole entry.
        if not mounted:
            monkeypatch.setattr(library_mod, "copy_file", real_copy)
        small = tmp_path / "upload" / "small.txt"
        small.write_bytes(_report(3))
        result = mgr.parse(small, name="small.txt")
        assert result.added and [e.id for e in lib.entries()] == [result.entry.id]
        assert sorted(p.name for p in (root / result.entry.id).iterdir()) == ["document.json", "entry.json", "source.txt"]
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], capture_output=True)
    print(f"\ndisk full via {'a 64 KB tmpfs' if mounted else 'a patched write (ENOSPC)'}: refused cleanly")


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_stemming_is_safe_from_many_threads():
    """Found by the soak test: a library rebuild beside questions shared one Snowball stemmer between threads
    (IndexError in find_among_b). Each thread now has its own."""
    from concurrent.futures import ThreadPoolExecutor

    from qa.retrieval.bridge import normalize_tokens

    texts = [("en", "The Office's activities regarding detentions, cyberattacks and capacity-building programmes"),
             ("fr", "Les activités du Haut-Commissariat concernant les personnes handicapées et les migrations"),
             ("es", "Las actividades de la Oficina relativas a la pena de muerte y los defensores"),
             ("ru", "Деятельность Управления в отношении задержанных, мигрантов и правозащитников")]
    want = {lang: normalize_tokens(text, lang) for lang, text in texts}

    def work(i):
        lang, text = texts[i % len(texts)]
        return all(normalize_tokens(text, lang) == want[lang] for _ in range(200))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(32)))
