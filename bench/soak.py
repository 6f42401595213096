"""A long run under mixed load against the real app, on loopback only.

`run_soak(url, pid, …)` drives N concurrent API clients for a fixed time. Each client, in a loop, picks:

- a question in one of the six UN languages (from eval/questions.jsonl),
- a lookup ("¶25", "fn 6", "第25段", "párrafo 12", …),
- a follow-up with the conversation so far (history capped by the app; sometimes an oversized history),
- a bad input: empty, blanks, 20,000 characters, control characters, only punctuation, or a 1 MB body,
- and, when the app has a library API (add/remove a report), an upload followed by its removal.

It counts answers, intended refusals (bad input, "busy" 503, oversize 413) and errors (anything else), times
each request (p50/p95 overall and per kind) and samples the app's resident memory (/proc/PID/status) at the
start (after warm-up), the middle and the end.

The warm-up brings the app to its steady state before memory is measured: it runs at least `warmup_s`, and until
more requests than the app keeps sessions for (Gradio holds a session per API call, up to `--max-sessions`; see
qa/app/serve/limits.py) have been answered and, when the app has a library, a report was added and removed; at most
`warmup_max_s`. Growth after that is what a long run would keep adding.

`python bench/soak.py [--seconds 900] [--clients 20]` (or `python bench/bench.py --soak`) starts the app from a
saved index (REPORT_QA_HOME), runs the load and prints the figures as JSON; tests/test_soak.py runs a shorter one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LANGS = ("zh", "en", "fr", "es", "ar", "ru")
LOOKUPS = ["¶25", "fn 6", "第25段", "脚注6", "paragraph 90", "para. 119", "paragraphe 98", "párrafo 12", "nota 3",
           "footnote 12", "¶136", "¶999"]
FOLLOWUPS = [
    ("人权高专办在监狱问题上做了什么？", "那墨西哥呢？"),
    ("What did OHCHR do about the death penalty?", "And in Chad?"),
    ("¿Qué hizo la Oficina sobre la pena de muerte?", "¿Y en Chad?"),
    ("Qu'a fait le Haut-Commissariat pour les personnes âgées ?", "Et pour les migrants ?"),
]
BAD_INPUTS = {
    "empty": "",
    "blank": "   \n\t  ",
    "punctuation": "？？？!!! ...",
    "control_only": "\x00\x01\x1b\x07\u200b\ufeff\x7f",
    "control_mixed": "\x00乍得\x1b废除了\u200b哪项法律中的死刑？\x07",  # cleaned, then answered
    "long_20k": "人权高专办在世界各地设有多少个人权外地存在？" * 910,  # ~20,000 characters
    "long_20k_latin": ("How many field presences does OHCHR have? " * 480)[:20000],
}
OVERSIZE_BYTES = 1_100_000  # over the app's request limit (512 KB): refused with 413 before any work
WEIGHTS = {"question": 45, "lookup": 18, "followup": 15, "bad": 14, "oversize": 2, "big_history": 3, "library": 1}


def load_questions(path: Path | None = None) -> dict[str, list[str]]:
    by_lang: dict[str, list[str]] = defaultdict(list)
    for line in (path or ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            q = json.loads(line)
            if q.get("lang") in LANGS and q.get("question"):
                by_lang[q["lang"]].append(q["question"])
    missing = [lang for lang in LANGS if not by_lang.get(lang)]
    if missing:
        raise SystemExit(f"no evaluation questions in {', '.join(missing)}")
    return dict(by_lang)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    k = (len(v) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


@dataclass
class Outcome:
    kind: str  # what was asked: question, lookup, followup, bad, oversize, big_history, library
    result: str  # answer | bad_input | busy | too_large | error
    seconds: float
    detail: str = ""


class ApiClient:
    """The app's Gradio API over plain HTTP (POST /gradio_api/call/NAME, then read its event stream)."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout: float = 300.0):
        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout, trust_env=False)
        if auth:
            r = self.http.post(f"{self.url}/login", data={"username": auth[0], "password": auth[1]})
            r.raise_for_status()

    _params: dict[str, list[dict]] = {}

    def positional(self, api: str, args: list) -> list:
        """`args` followed by the defaults of the endpoint's other parameters (from /gradio_api/info), so the
        driver keeps working when an endpoint gains an optional parameter."""
        key = f"{self.url} {api}"
        if key not in self._params:
            info = self.http.get(f"{self.url}/gradio_api/info").json()
            self._params[key] = info["named_endpoints"][f"/{api}"]["parameters"]
        params = self._params[key]
        return list(args) + [p.get("parameter_default") for p in params[len(args):]]

    def call(self, api: str, data: list, *, raw_body: bytes | None = None) -> tuple[int, object]:
        """(HTTP status of the submit, the result or an error text). Status 200 means the event completed."""
        if raw_body is not None:
            r = self.http.post(f"{self.url}/gradio_api/call/{api}", content=raw_body,
                               headers={"content-type": "application/json"})
        else:
            r = self.http.post(f"{self.url}/gradio_api/call/{api}", json={"data": self.positional(api, data)})
        if r.status_code != 200:
            try:
                return r.status_code, r.json().get("detail") or r.text
            except ValueError:
                return r.status_code, r.text
        event_id = r.json()["event_id"]
        event, payload = None, None
        with self.http.stream("GET", f"{self.url}/gradio_api/call/{api}/{event_id}") as s:
            for line in s.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = line.split(":", 1)[1].strip()
                    break
        if event == "complete":
            data = json.loads(payload)
            return 200, data[0] if isinstance(data, list) and data else data
        return 500, f"event {event}: {payload}"

    def close(self) -> None:
        self.http.close()


class UiClient:
    """The browser's side of the app without a browser: Gradio's queue protocol (POST /gradio_api/queue/join with
    the event's fn_index, then its /gradio_api/queue/data stream), for events the UI has and the API does not
    (the chat handler with its "still loading" and LLM steps, uploads to the library, removing a report)."""

    def __init__(self, api: ApiClient):
        self.api = api
        self.http = api.http
        self.config = self.http.get(f"{api.url}/config").json()
        self.by_elem = {c.get("props", {}).get("elem_id"): c for c in self.config["components"]
                        if c.get("props", {}).get("elem_id")}
        import uuid

        self.session = uuid.uuid4().hex[:11]  # one "browser tab": the server checks choices against its session

    def component(self, elem_id: str) -> dict:
        return self.by_elem[elem_id]

    def event(self, elem_id: str, trigger: str) -> dict:
        cid = self.component(elem_id)["id"]
        for dep in self.config["dependencies"]:
            if any(t[0] == cid and t[1] == trigger for t in dep.get("targets", [])):
                return dep
        raise KeyError(f"no {trigger} event on #{elem_id}")

    def value(self, component_id: int):
        for c in self.config["components"]:
            if c["id"] == component_id:
                return c.get("props", {}).get("value")
        return None

    def upload(self, name: str, data: bytes, mime: str = "text/plain") -> dict:
        r = self.http.post(f"{self.api.url}/gradio_api/upload", files={"files": (name, data, mime)})
        if r.status_code != 200:
            raise UploadRefused(r.status_code, r.text[:300])
        path = r.json()[0]
        return {"path": path, "orig_name": name, "size": len(data), "mime_type": mime,
                "meta": {"_type": "gradio.FileData"}}

    def run(self, elem_id: str, trigger: str, values: dict[str, object] | None = None,
            on_step=None) -> tuple[int, list | str]:
        """Fire the event with the inputs' default values, overridden by `values` (elem_id → value).
        Returns (200, the last output data) or (HTTP status, error). `on_step(data)` sees each streamed step."""
        dep = self.event(elem_id, trigger)
        ids = {c["id"]: c.get("props", {}).get("elem_id") for c in self.config["components"]}
        vals = values or {}
        data = [vals[ids[i]] if ids.get(i) in vals else self.value(i) for i in dep["inputs"]]
        session = self.session
        r = self.http.post(f"{self.api.url}/gradio_api/queue/join",
                           json={"data": data, "event_data": None, "fn_index": dep["id"],
                                 "trigger_id": self.component(elem_id)["id"], "session_hash": session})
        if r.status_code != 200:
            try:
                return r.status_code, r.json().get("detail") or r.text
            except ValueError:
                return r.status_code, r.text
        last = None
        with self.http.stream("GET", f"{self.api.url}/gradio_api/queue/data", params={"session_hash": session}) as st:
            for line in st.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_generating" and msg.get("success", True):
                    last = msg["output"].get("data")
                    if on_step is not None:
                        on_step(last)
                elif msg.get("msg") == "process_completed":
                    if not msg.get("success"):
                        return 500, str(msg.get("output"))[:500]
                    out = (msg.get("output") or {}).get("data")
                    return 200, out if out is not None else last
                elif msg.get("msg") in ("unexpected_error", "close_stream"):
                    return 500, str(msg)[:500]
        return 500, "the event stream ended without a result"


class UploadRefused(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(f"upload refused ({status}): {text}")
        self.status = status


def synthetic_report(n: int) -> bytes:
    """A small report in the bundled text layout: a title, a heading, numbered paragraphs with one footnote."""
    lines = [f"Synthetic soak report {n}", "", "I. Soak testing", ""]
    for i in range(1, 7):
        lines += [f"{i}. Paragraph {i} of soak report {n} describes how the office measured memory and latency "
                  f"while twenty colleagues asked questions at once, in round {n}.", ""]
    return "\n".join(lines).encode()


@dataclass
class Soak:
    url: str
    pid: int
    clients: int = 20
    seconds: float = 180.0
    warmup_s: float = 15.0
    warmup_requests: int | None = None  # None: more than the app's session cap (DEFAULT_MAX_SESSIONS)
    warmup_max_s: float = 300.0
    warmup_wall: float = 0.0
    auth: tuple[str, str] | None = None
    seed: int = 0
    library: bool | None = None  # upload/remove reports too; None: when the app has a Reports tab
    outcomes: list[Outcome] = field(default_factory=list)
    warmup: list[Outcome] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.questions = load_questions()
        if self.warmup_requests is None:
            from qa.app.serve.limits import DEFAULT_MAX_SESSIONS

            self.warmup_requests = DEFAULT_MAX_SESSIONS + 100

    # -- one client ------------------------------------------------------------------------------------------
    def client(self, i: int, until: float, record: bool, done: threading.Event) -> None:
        rng = random.Random(self.seed * 1000 + i + (0 if record else 500))
        api = ApiClient(self.url, self.auth)
        history: list[str] = []
        kinds, weights = zip(*[(k, w) for k, w in WEIGHTS.items() if k != "library" or self.library], strict=True)
        try:
            while time.monotonic() < until and not done.is_set():
                kind = rng.choices(kinds, weights)[0]
                out = self.one(api, kind, rng, history)
                with self.lock:
                    (self.outcomes if record else self.warmup).append(out)
        finally:
            api.close()

    def one(self, api: ApiClient, kind: str, rng: random.Random, history: list[str]) -> Outcome:
        t0 = time.perf_counter()
        try:
            if kind == "question":
                lang = LANGS[rng.randrange(len(LANGS))]
                q = rng.choice(self.questions[lang])
                status, res = api.call("chat", [q, "hybrid", 3, []])
                result = self.judge_answer(status, res)
                if result == "answer":
                    history[:] = ([*history, q])[-6:]
                kind = f"question:{lang}"
            elif kind == "lookup":
                status, res = api.call("chat", [rng.choice(LOOKUPS), "hybrid", 3, []])
                result = self.judge_answer(status, res, lookup=True)
            elif kind == "followup":
                first, follow = rng.choice(FOLLOWUPS)
                status, res = api.call("chat", [follow, "hybrid", 3, [*history, first][-8:]])
                result = self.judge_answer(status, res)
            elif kind == "big_history":
                status, res = api.call("chat", ["那墨西哥呢？", "hybrid", 3, ["人权高专办在监狱问题上做了什么？" * 3] * 200])
                result = self.judge_answer(status, res)
            elif kind == "bad":
                name = rng.choice(sorted(BAD_INPUTS))
                status, res = api.call("chat", [BAD_INPUTS[name], "hybrid", 3, []])
                result = self.judge_bad(name, status, res)
                kind = f"bad:{name}"
            elif kind == "oversize":
                body = json.dumps({"data": ["x" * OVERSIZE_BYTES, "hybrid", 3, []]}).encode()
                status, res = api.call("chat", [], raw_body=body)
                result = "too_large" if status == 413 else self.judge_answer(status, res)
            elif kind == "library":
                status, res = self.run_library(api, rng)
                result = "answer" if status == 200 and not (isinstance(res, dict) and res.get("error")) else (
                    "busy" if status == 503 else "error")
            else:  # pragma: no cover - WEIGHTS and this switch are written together
                raise ValueError(kind)
            detail = "" if result in ("answer", "bad_input", "busy", "too_large") else str(res)[:300]
        except Exception as exc:  # noqa: BLE001 - any failure of a request is an error of the run
            result, detail = "error", f"{type(exc).__name__}: {exc}"[:300]
        return Outcome(kind, result, time.perf_counter() - t0, detail)

    @staticmethod
    def judge_answer(status: int, res, *, lookup: bool = False) -> str:
        if status == 503:
            return "busy"
        if status == 413:
            return "too_large"
        if status != 200 or not isinstance(res, dict):
            return "error"
        if "error" in res:
            # "¶999" is a lookup of a paragraph that does not exist: a clear message is the right answer.
            return "answer" if lookup and res["error"] else "error"
        if lookup and res.get("kind") not in ("lookup", "not_found"):  # "¶999": "there is no ¶999"
            return "error"
        return "answer" if "text" in res and "paragraphs" in res else "error"

    @staticmethod
    def judge_bad(name: str, status: int, res) -> str:
        if status == 503:
            return "busy"
        if status != 200 or not isinstance(res, dict):
            return "error"
        if name.startswith("long_20k"):  # searched after cutting to 1,000 characters, with a notice
            return "bad_input" if res.get("notice") and "text" in res else "error"
        if name == "control_mixed":  # the control characters are dropped and the question is answered
            return "bad_input" if "text" in res and res.get("paragraphs") else "error"
        return "bad_input" if res.get("error") else "error"

    def run_library(self, api: ApiClient, rng: random.Random):
        """Upload a small generated report to the library (the Reports tab's events), look up its ¶1 through the
        API, then remove it. Returns (status, result) like `ApiClient.call`."""
        ui = UiClient(api)
        n = rng.randrange(1_000_000)
        name = f"soak-{n}.txt"
        try:
            file = ui.upload(name, synthetic_report(n))
        except UploadRefused as exc:
            return exc.status, str(exc)
        status, out = ui.run("rqa-upload", "upload", {"rqa-upload": file})
        if status != 200:
            return status, out
        text = json.dumps(out, ensure_ascii=False)
        if "Not added" in text or "failed" in text:
            return 500, text[:300]
        doc_id = next((v for _, v in _choices(out) if str(v).startswith(f"soak-{n}")), None)
        if doc_id is None:
            return 500, f"the uploaded report is not in the pickers: {text[:300]}"
        status, res = api.call("chat", ["¶1", "hybrid", 3, [], doc_id])
        if status != 200 or res.get("kind") != "lookup" or f"soak report {n}" not in json.dumps(res, ensure_ascii=False):
            return 500, f"lookup in the uploaded report: {str(res)[:300]}"
        status, out = ui.run("rqa-remove", "click", {"rqa-remove-pick": doc_id})
        text = json.dumps(out, ensure_ascii=False)
        return (status, {"removed": doc_id}) if status == 200 and "Removed" in text else (500, text[:300])

    # -- the run -----------------------------------------------------------------------------------------------
    def sample_rss(self, until: float, stop: threading.Event) -> None:
        t0 = time.monotonic()
        while not stop.wait(2.0) and time.monotonic() < until:
            try:
                self.rss.append((round(time.monotonic() - t0, 1), rss_mb(self.pid)))
            except OSError:
                return

    def phase(self, seconds: float, record: bool, steady=None) -> float:
        """Run the clients for `seconds`; with `steady` (a test of the warm-up outcomes so far), from `seconds`
        on until it holds (checked each second), at most `warmup_max_s`."""
        until = time.monotonic() + (seconds if steady is None else max(seconds, self.warmup_max_s))
        done = threading.Event()
        threads = [threading.Thread(target=self.client, args=(i, until, record, done), daemon=True)
                   for i in range(self.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        if steady is not None:
            while time.monotonic() < until and not (time.perf_counter() - t0 >= seconds and steady()):
                time.sleep(1.0)
            done.set()
        for t in threads:
            t.join(max(seconds, self.warmup_max_s) + 400)
        return time.perf_counter() - t0

    def steady(self) -> bool:
        """The warm-up has reached the app's steady state: enough requests to fill its session cap, and the
        library used once (when it has one)."""
        with self.lock:
            n = len(self.warmup)
            library = any(o.kind == "library" and o.result == "answer" for o in self.warmup)
        return n >= self.warmup_requests and (library or not self.library)

    def run(self) -> dict:
        if self.library is None:
            api = ApiClient(self.url, self.auth)
            try:
                self.library = "rqa-upload" in UiClient(api).by_elem
            finally:
                api.close()
        idle = rss_mb(self.pid)
        self.warmup_wall = self.phase(self.warmup_s, record=False, steady=self.steady) if self.warmup_s > 0 else 0.0
        start = rss_mb(self.pid)
        stop = threading.Event()
        sampler = threading.Thread(target=self.sample_rss, args=(time.monotonic() + self.seconds + 400, stop), daemon=True)
        sampler.start()
        wall = self.phase(self.seconds, record=True)
        stop.set()
        sampler.join(5)
        end = rss_mb(self.pid)
        return self.figures(wall, idle, start, end)

    def figures(self, wall: float, idle: float, start: float, end: float) -> dict:
        outs = self.outcomes
        by_result = Counter(o.result for o in outs)
        lat = [o.seconds for o in outs if o.result in ("answer", "bad_input")]
        per_kind: dict[str, dict] = {}
        for kind in sorted({o.kind.split(":")[0] for o in outs}):
            ks = [o for o in outs if o.kind.split(":")[0] == kind]
            ls = [o.seconds for o in ks if o.result in ("answer", "bad_input")]
            per_kind[kind] = {"requests": len(ks), **{r: n for r, n in Counter(o.result for o in ks).items()},
                              "p50_s": round(pct(ls, 50), 3), "p95_s": round(pct(ls, 95), 3)}
        samples = [mb for _, mb in self.rss]
        middle = samples[len(samples) // 2] if samples else start
        errors = [o for o in outs if o.result == "error"]
        return {
            "clients": self.clients, "seconds": round(wall, 1), "warmup_s": round(self.warmup_wall, 1),
            "warmup_requests": len(self.warmup), "warmup_steady": self.warmup_wall > 0 and self.steady(),
            "warmup_errors": sum(o.result == "error" for o in self.warmup),
            "requests": len(outs), "throughput_per_s": round(len(outs) / wall, 2) if wall else 0.0,
            "answers": by_result["answer"], "bad_input_refused": by_result["bad_input"],
            "busy_rejections": by_result["busy"], "too_large_rejections": by_result["too_large"],
            "errors": len(errors), "error_examples": sorted({f"{o.kind}: {o.detail}" for o in errors + self.warmup
                                                                   if o.result == "error"})[:10],
            "p50_s": round(pct(lat, 50), 3), "p95_s": round(pct(lat, 95), 3),
            "mean_s": round(statistics.fmean(lat), 3) if lat else 0.0, "max_s": round(max(lat), 3) if lat else 0.0,
            "per_kind": per_kind, "library": bool(self.library),
            "questions_by_language": dict(Counter(o.kind.split(":")[1] for o in outs if o.kind.startswith("question:"))),
            "rss_mb": {"idle": idle, "start": start, "middle": middle, "end": end, "peak": hwm_mb(self.pid),
                       "end_over_start": round(end / start, 3) if start else None,
                       "samples": self.rss[:: max(1, len(self.rss) // 60)]},
        }


def _choices(outputs) -> list[tuple[str, str]]:
    """Every (label, value) choice in a list of component updates."""
    found = []
    for o in outputs or []:
        if isinstance(o, dict) and isinstance(o.get("choices"), list):
            found += [tuple(c) for c in o["choices"] if isinstance(c, (list, tuple)) and len(c) == 2]
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="report-qa: a long run under mixed load (loopback only); prints JSON")
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("REPORT_QA_SOAK_S", 900)))
    ap.add_argument("--warmup", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--url", help="a running app (loopback) instead of starting one; needs --pid")
    ap.add_argument("--pid", type=int, help="the running app's process id, for its memory")
    ap.add_argument("--json", metavar="PATH", help="also write the JSON here")
    args = ap.parse_args(argv)
    from tests.appserver import AppServer

    srv = None
    if args.url:
        if not args.pid:
            ap.error("--url needs --pid (the app's process, for RSS)")
        url, pid = args.url, args.pid
    else:
        import tempfile

        home = Path(os.environ.get("REPORT_QA_HOME") or Path.home() / ".cache" / "report-qa")
        work = Path(tempfile.mkdtemp(prefix="rq-soak-"))
        # Its own library folder: the reports the run uploads and removes never touch the user's library.
        srv = AppServer(home, work / "app.log", extra_env={"REPORT_QA_LIBRARY": str(work / "library")})
        print(f"starting the app (log: {srv.log_path}) …", file=sys.stderr, flush=True)
        srv.wait(600)
        url, pid = srv.url, srv.proc.pid
    try:
        print(f"soak: {args.clients} clients for {args.seconds:.0f} s after {args.warmup:.0f} s warm-up …",
              file=sys.stderr, flush=True)
        res = Soak(url, pid, clients=args.clients, seconds=args.seconds, warmup_s=args.warmup).run()
    finally:
        if srv is not None:
            srv.stop()
            res_exit = srv.proc.returncode
    if srv is not None:
        res["app_exit_code"] = res_exit
    text = json.dumps(res, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0 if res["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
