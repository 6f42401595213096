"""Speed, memory and scale of report-qa on this machine: `python bench/bench.py [--quick] [--json PATH]`.

Prints a table and writes JSON with: index_build_s (cold/warm), app_ready_s, query_ms per mode
(p50/p95, split into encoding, search+fusion and answer building), concurrent (8 and 32 API
clients), rss_mb (peak resident memory of the app) and scale (10k / 100k synthetic paragraphs,
exact vs approximate FAISS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"hybrid_p50_ms": 40, "hybrid_p95_ms": 100, "app_ready_s": 15, "cold_build_s": 60, "rss_mb": 1536,
           "scale_search_p50_ms": 20, "scale_recall": 0.95}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def run_json(cmd: list[str], env: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return wall, json.loads(r.stdout)


def bench_index_build(home: Path) -> dict:
    """Cold: no embedding cache and no index (models already restored). Warm: embedding cache present."""
    env = dict(os.environ, REPORT_QA_HOME=str(home))
    for p in ("index", "embeddings.sqlite3"):
        target = home / p
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    cold_wall, cold = run_json([sys.executable, "-m", "qa", "index", "--json"], env)
    shutil.rmtree(home / "index")
    warm_wall, warm = run_json([sys.executable, "-m", "qa", "index", "--json"], env)
    return {
        "cold": round(cold_wall, 2), "warm": round(warm_wall, 2),
        "cold_embedding_s": round(sum(x["seconds"] for x in cold["indexes"]), 2),
        "warm_embedding_s": round(sum(x["seconds"] for x in warm["indexes"]), 2),
        "units": cold["indexes"][0]["units"],
        "note": "wall time of `python -m qa index` (process start, model load, embed, save); "
                "*_embedding_s is the embed+save part alone",
    }


def bench_queries(n_queries: int) -> dict:
    from qa.answer.extractive import build_answer
    from qa.engine import load_engine
    from qa.evaluation.evalset import load_questions

    retriever = load_engine(quiet=True).retriever
    qs = [q.question for q in load_questions()]
    queries = (qs * (n_queries // len(qs) + 1))[:n_queries]
    for q in qs[:10]:  # warm-up
        retriever.search(q)
    out = {}
    for mode in ("dense", "lexical", "hybrid"):
        total, encode, search, answer = [], [], [], []
        for q in queries:
            t0 = time.perf_counter()
            res = retriever.search(q, mode=mode, top_k=5)
            t1 = time.perf_counter()
            build_answer(q, res, retriever.corpus)
            t2 = time.perf_counter()
            tm = res.timings_ms
            enc = sum(v for k, v in tm.items() if k.startswith("encode_"))
            total.append((t2 - t0) * 1000)
            encode.append(enc)
            search.append((t1 - t0) * 1000 - enc)
            answer.append((t2 - t1) * 1000)
        out[mode] = {
            "p50": round(pct(total, 50), 2), "p95": round(pct(total, 95), 2), "n": len(queries),
            "encode_p50": round(pct(encode, 50), 2), "search_fusion_p50": round(pct(search, 50), 2),
            "answer_p50": round(pct(answer, 50), 2),
        }
    return out


def synthetic_vectors(n: int, sentence_vecs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paragraph vectors built from the report's sentences recombined: each synthetic paragraph is
    3–6 random sentences, its vector the normalized mean of theirs (no copies of real paragraphs)."""
    out = np.empty((n, sentence_vecs.shape[1]), dtype=np.float32)
    for start in range(0, n, 10000):
        m = min(10000, n - start)
        k = rng.integers(3, 7, size=m)
        idx = rng.integers(0, len(sentence_vecs), size=(m, 6))
        mask = (np.arange(6)[None, :] < k[:, None]).astype(np.float32)
        v = (sentence_vecs[idx] * mask[:, :, None]).sum(1)
        v += rng.normal(scale=0.01, size=v.shape).astype(np.float32)  # distinct even when sentence sets repeat
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def bench_scale(sizes: list[int], n_queries: int = 200) -> dict:
    from embeddings.store import VectorStore
    from qa.engine import load_engine
    from qa.evaluation.evalset import load_questions

    retriever = load_engine(quiet=True, use_second=False).retriever
    enc, store = retriever.dense["e5"]
    vecs = store.vectors()
    sent = vecs[[i for i, u in enumerate(store.units) if u["kind"] == "sentence"]]
    queries = enc.encode_queries([q.question for q in load_questions()])
    queries = np.vstack([queries] * (n_queries // len(queries) + 1))[:n_queries]
    rng = np.random.default_rng(7)
    out = {}
    for n in sizes:
        x = synthetic_vectors(n, sent, rng)
        units = [{"doc": "synthetic", "paragraph": i, "kind": "paragraph"} for i in range(n)]
        row = {}
        exact_ids = None
        for kind in ("flat", "hnsw"):
            t0 = time.perf_counter()
            s = VectorStore.build(x, units, manifest={}, index_type=kind)
            build = time.perf_counter() - t0
            times, ids = [], []
            for q in queries:
                t1 = time.perf_counter()
                _, i = s.search(q[None, :], 10)
                times.append((time.perf_counter() - t1) * 1000)
                ids.append(i[0])
            if kind == "flat":
                exact_ids = ids
            recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact_ids, strict=True)]))
            row[kind] = {"build_s": round(build, 2), "search_p50_ms": round(pct(times, 50), 3),
                         "search_p95_ms": round(pct(times, 95), 3), "recall@10_vs_exact": round(recall, 4)}
        out[str(n)] = row
    return out


def bench_app(home: Path, client_counts: list[int], per_client: int) -> dict:
    from gradio_client import Client

    from qa.app.server import AppServer

    log = Path(tempfile.mkdtemp()) / "app.log"
    srv = AppServer(home, log)
    t0 = time.perf_counter()
    result: dict = {}
    try:
        srv.wait()
        Client(srv.url, verbose=False).predict("乍得废除了哪项法律中的死刑？", api_name="/chat")
        result["app_ready_s"] = round(time.perf_counter() - t0, 2)
        from qa.evaluation.evalset import load_questions

        qs = [q.question for q in load_questions()]
        conc = {}
        for n in client_counts:
            lat, errors = [], 0

            def client_run(i: int, n: int = n) -> tuple[list[float], int]:
                c = Client(srv.url, verbose=False)
                ls, errs = [], 0
                for j in range(per_client):
                    t = time.perf_counter()
                    try:
                        out = c.predict(qs[(i * per_client + j) % len(qs)], api_name="/chat")
                        errs += int("error" in out)
                    except Exception:  # noqa: BLE001 - counted as an error
                        errs += 1
                    ls.append(time.perf_counter() - t)
                return ls, errs

            t1 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=n) as pool:
                for ls, errs in pool.map(client_run, range(n)):
                    lat.extend(ls)
                    errors += errs
            wall = time.perf_counter() - t1
            conc[str(n)] = {"clients": n, "answers": len(lat), "throughput_per_s": round(len(lat) / wall, 2),
                            "p50_s": round(pct(lat, 50), 3), "p95_s": round(pct(lat, 95), 3), "errors": errors}
        result["concurrent"] = conc
        status = Path(f"/proc/{srv.proc.pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
        result["rss_mb"] = round(int(hwm.split()[1]) / 1024, 1)
    finally:
        srv.stop()
    return result


def table(res: dict) -> str:
    q = res["query_ms"]
    lines = [
        "| measure | value | target |", "|---|---|---|",
        f"| index build, cold | {res['index_build_s']['cold']} s | ≤ {TARGETS['cold_build_s']} s |",
        f"| index build, warm (embedding cache) | {res['index_build_s']['warm']} s | |",
        f"| app ready (saved index → first answer) | {res['app_ready_s']} s | ≤ {TARGETS['app_ready_s']} s |",
    ]
    for mode in ("dense", "lexical", "hybrid"):
        m = q[mode]
        tgt = f"p50 ≤ {TARGETS['hybrid_p50_ms']}, p95 ≤ {TARGETS['hybrid_p95_ms']}" if mode == "hybrid" else ""
        lines.append(f"| query {mode} p50 / p95 (encode · search+fusion · answer p50) | {m['p50']} / {m['p95']} ms "
                     f"({m['encode_p50']} · {m['search_fusion_p50']} · {m['answer_p50']}) | {tgt} |")
    for n, c in res["concurrent"].items():
        lines.append(f"| {n} concurrent clients | {c['throughput_per_s']} answers/s, p50 {c['p50_s']} s, "
                     f"p95 {c['p95_s']} s, {c['errors']} errors | |")
    lines.append(f"| app peak RSS | {res['rss_mb']} MB | ≤ {TARGETS['rss_mb']} MB |")
    for n, row in res["scale"].items():
        for kind, r in row.items():
            tgt = f"p50 ≤ {TARGETS['scale_search_p50_ms']} ms, recall ≥ {TARGETS['scale_recall']}" if n == "100000" else ""
            lines.append(f"| {int(n):,} paragraphs, {kind} | build {r['build_s']} s, search p50 {r['search_p50_ms']} ms, "
                         f"recall@10 {r['recall@10_vs_exact']} | {tgt} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer queries, 8 clients, 10k scale only (~2 min)")
    ap.add_argument("--json", metavar="PATH", default=str(ROOT / "bench" / "results.json"))
    args = ap.parse_args(argv)
    from embeddings.encoders import load_encoder

    home = Path(tempfile.mkdtemp(prefix="rq-bench-"))
    os.environ["REPORT_QA_HOME"] = str(home)
    # The model is restored once (an install step, timed apart); "cold" then means no embeddings, no index.
    t0 = time.perf_counter()
    load_encoder.cache_clear()
    load_encoder("e5")
    restore_s = time.perf_counter() - t0
    started = time.perf_counter()
    res: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "quick": args.quick,
                 "model_restore_s": round(restore_s, 2)}
    print("index build …", flush=True)
    res["index_build_s"] = bench_index_build(home)
    print("queries …", flush=True)
    res["query_ms"] = bench_queries(60 if args.quick else 240)
    print("app …", flush=True)
    res.update(bench_app(home, [8] if args.quick else [8, 32], 3 if args.quick else 4))
    print("scale …", flush=True)
    res["scale"] = bench_scale([10_000] if args.quick else [10_000, 100_000])
    res["seconds"] = round(time.perf_counter() - started, 1)
    res["targets"] = TARGETS
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print(table(res))
    print(f"\nwrote {args.json} ({res['seconds']} s)")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
