"""Test harness: start the real app (`python app.py`) on a free port for the API, browser, fault and load tests (and bench/)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    def __init__(self, home: Path, log_path: Path, extra_env: dict | None = None, cmd: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, REPORT_QA_HOME=str(home), GRADIO_SERVER_PORT=str(self.port), **(extra_env or {}))
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.started = time.perf_counter()
        cmd = cmd or [sys.executable, "app.py"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 300, *, ready: bool = True) -> float:
        """Seconds until the app serves (401 counts: sign-in is on) and, with `ready`, its models have loaded."""
        deadline = time.time() + timeout
        serving = False
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("app exited early:\n" + self.log_path.read_text()[-3000:])
            if not serving:
                try:
                    with urllib.request.urlopen(self.url + "/config", timeout=2) as r:
                        serving = r.status == 200
                except urllib.error.HTTPError as exc:
                    serving = exc.code == 401
                except OSError:
                    pass
            if serving:
                log = self.log_path.read_text(errors="replace")
                if not ready or "report-qa: ready in" in log:
                    return time.perf_counter() - self.started
                if "could not be loaded" in log:
                    raise RuntimeError("the app's models did not load:\n" + log[-3000:])
            time.sleep(0.3)
        raise TimeoutError("app did not start:\n" + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
