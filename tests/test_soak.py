"""A long run under mixed load (loopback only, bounded in time): 20 API clients for REPORT_QA_SOAK_S seconds
(default 180) after a warm-up to the app's steady state (bench/soak.py), mixing questions in the six UN languages, ¶/footnote lookups, follow-ups
with history, bad inputs (empty, 20,000 characters, control characters, a 1 MB body) and, when the app has a
Reports tab, uploads to the library and removals. Nothing here asserts on time: it counts errors and watches memory.

`python bench/soak.py` (or `python bench/bench.py --soak`) runs the same load for longer and prints JSON."""

from __future__ import annotations

import json
import os
import sys

import pytest

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("REPORT_QA_SOAK_S", "180"))
WARMUP = float(os.environ.get("REPORT_QA_SOAK_WARMUP_S", "15"))
CLIENTS = int(os.environ.get("REPORT_QA_SOAK_CLIENTS", "20"))


@pytest.fixture(scope="module")
def soak_server(qa_home, tmp_path_factory):
    from tests.appserver import AppServer

    work = tmp_path_factory.mktemp("soak")
    srv = AppServer(qa_home, work / "app.log", cmd=[sys.executable, "app.py"],
                    extra_env={"REPORT_QA_LIBRARY": str(work / "library")})
    srv.wait()
    yield srv
    srv.stop()


def test_mixed_load_has_no_errors_and_flat_memory(soak_server, tmp_path):
    from bench.soak import LANGS, Soak

    res = Soak(soak_server.url, soak_server.proc.pid, clients=CLIENTS, seconds=SECONDS, warmup_s=WARMUP).run()
    (tmp_path / "soak.json").write_text(json.dumps(res, ensure_ascii=False, indent=2))
    rss = res["rss_mb"]
    print(f"\nsoak: {res['requests']} requests in {res['seconds']} s by {res['clients']} clients: "
          f"{res['answers']} answers, {res['bad_input_refused']} bad inputs handled, {res['busy_rejections']} busy, "
          f"{res['too_large_rejections']} too large, {res['errors']} errors; p50 {res['p50_s']} s, p95 {res['p95_s']} s; "
          f"RSS MB idle {rss['idle']}, start {rss['start']}, middle {rss['middle']}, end {rss['end']}, peak {rss['peak']}")
    assert res["errors"] == 0 and res["warmup_errors"] == 0, res["error_examples"]
    assert res["warmup_steady"], (res["warmup_s"], res["warmup_requests"])  # memory is compared from steady state
    assert res["answers"] > 0 and res["bad_input_refused"] > 0 and res["p95_s"] > 0
    assert set(res["questions_by_language"]) == set(LANGS)
    assert {"lookup", "followup", "bad"} <= set(res["per_kind"])
    if res["library"] and SECONDS >= 120:  # the app has a Reports tab: reports were uploaded, looked up, removed
        assert res["per_kind"].get("library", {}).get("answer", 0) > 0, res["per_kind"].get("library")
    assert rss["end"] <= 1.10 * rss["start"], rss
    log = soak_server.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
