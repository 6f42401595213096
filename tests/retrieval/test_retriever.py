"""Hybrid retrieval on the real report with the real models (slow); tokenizer, language and query groups (fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qa.retrieval.fusion import ENCODERS, query_group
from qa.retrieval.lexical import tokenize
from qa.retrieval.retriever import MODES
from qa.text import cjk_share, detect_language


def test_tokenizer_handles_chinese_and_symbols():
    toks = tokenize("人权理事会第 43/1 号决议 A/HRC/43/3 COVID-19")
    assert "理事会" in toks and "43/1" in toks and "a/hrc/43/3" in toks and "covid-19" in toks
    assert "§决议" in toks


@pytest.mark.parametrize("text, lang", [("人权高专办做了什么？", "zh"), ("What did the Office do?", "en"),
                                        ("Qu'a fait le Haut-Commissariat ?", "fr"), ("¿Qué hizo la Oficina?", "es"),
                                        ("ماذا فعلت المفوضية؟", "ar"), ("Что сделало Управление?", "ru")])
def test_language_detection(text, lang):
    assert detect_language(text) == lang


def test_query_groups():
    def group(q: str) -> str:
        return query_group(cjk_share(q), detect_language(q))

    assert group("乍得的死刑") == "zh" and group("death penalty in Chad") == "en"
    assert group("la peine de mort au Tchad") == "other" and group("Что сделало Управление?") == "other"
    assert group("What did 人权高专办 do?") == "zh"  # Chinese script past the share threshold


@pytest.mark.parametrize("question, paragraph", [
    ("乍得废除了哪项法律中的死刑？", 90),
    ("What training did staff receive after cyberattacks increased?", 119),
    ("Comment le HCDH a-t-il aidé les migrants souhaitant rentrer volontairement dans leur pays d'origine ?", 67),
    ("¿Qué capacitación en ciberseguridad recibió el personal?", 119),
])
@pytest.mark.slow
def test_hybrid_finds_the_paragraph(retriever, corpus, question, paragraph):
    res = retriever.search(question, top_k=5)
    assert res.hits[0].paragraph == paragraph
    assert not res.abstained
    h = res.hits[0]
    assert h.sentences and set(h.signals) >= {"e5"}
    p = corpus.document(h.doc).paragraph(h.paragraph)
    assert all(0 <= i < len(p.spans) for i in h.sentences)  # indexes into the paragraph's stored spans


@pytest.mark.slow
def test_every_mode_ranks_and_explains(retriever):
    for mode in MODES:
        res = retriever.search("萨赫勒五国集团联合部队的人权合规框架", mode=mode, top_k=10)
        assert len(res.hits) == 10 and [h.rank for h in res.hits] == list(range(1, 11))
        assert {49, 95} & {h.paragraph for h in res.hits[:3]}
        assert all(h.signals for h in res.hits)
        # Every stage is timed, each inside `signals` and one after another, then fusion; each figure is rounded
        # to 0.001 ms, hence the slack.
        t = res.timings_ms
        stages = {k: v for k, v in t.items() if k not in ("signals", "fusion", "total")}
        expected = {"lexical", "dense_scores"} | {f"encode_{n}" for n in ENCODERS[mode] if n in retriever.indexes}
        assert expected | ({"candidates"} if retriever.two_stage else set()) <= set(stages), (mode, t)
        assert min(t.values()) >= 0 and t["total"] > 0, t
        assert sum(stages.values()) <= t["signals"] + 0.01 and t["signals"] + t["fusion"] <= t["total"] + 0.01, t


@pytest.mark.slow
def test_footnote_only_answer_marks_the_footnote(retriever):
    res = retriever.search("人权高专办向人权理事会第四十三届会议提交了多少份报告？", top_k=5)
    assert res.hits[0].paragraph == 10 and 4 in res.hits[0].footnotes


@pytest.mark.slow
def test_unanswerable_abstains(retriever):
    assert retriever.search("What is the capital of Australia?").abstained
    assert retriever.search("新冠疫苗在哪些国家获批上市？").abstained


@pytest.mark.slow
@pytest.mark.parametrize("question", ["OHCHR activities in Sri Lanka?", "Чем занималось УВКПЧ в Шри-Ланке?"])
def test_a_short_question_about_what_the_best_paragraph_names_is_covered(retriever, question):
    # far from every sentence for USE (a list of countries), yet the report covers it
    res = retriever.search(question)
    assert not res.abstained and res.hits[0].paragraph in (47, 88, 89, 90)


@pytest.mark.slow
def test_cli_search_json(qa_home, corpus):
    r = subprocess.run([sys.executable, "-m", "qa", "search", "冈比亚真相、和解与赔偿委员会举行了多少次公开听证会？",
                        "--json", "--top-k", "3"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    data = json.loads(r.stdout)
    top = data["hits"][0]
    assert top["paragraph"] == 89 and top["doc"] == "ohchr-2020-h1-zh"
    # The evidence sentences are verbatim slices of the cited paragraph at its stored sentence spans, one per index.
    p = corpus.document(top["doc"]).paragraph(top["paragraph"])
    assert top["sentences"] and all(0 <= i < len(p.spans) for i in top["sentences"])
    assert top["best_sentences"] == [p.text[p.spans[i][0]:p.spans[i][1]] for i in top["sentences"]]
    assert all(s.strip() == s and s for s in top["best_sentences"])
    assert any("12 次公开听证会" in s for s in top["best_sentences"])  # the sentence that answers the question
    assert set(top["signals"]) >= {"e5", "bm25"} and "score" in top and len(data["hits"]) == 3


def test_cli_search_rejects_bad_mode(qa_home):
    r = subprocess.run([sys.executable, "-m", "qa", "search", "x", "--mode", "magic"], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr


# --- scoring primitives against their references (fast: no model) ---------------------------------------

def test_bm25_scores_equal_bm25s_own(corpus, questions):
    import numpy as np

    from qa.retrieval.lexical import LexicalIndex

    lex = LexicalIndex.build(corpus)
    queries = [tokenize(q.question) for q in questions[:120]] + [["人权", "人权", "unknown-token"], ["∅"]]
    for toks in queries:
        ids = lex.bm25.get_tokens_ids(toks)
        want = lex.bm25.get_scores(toks) if ids else np.zeros(len(lex.keys))
        np.testing.assert_allclose(lex.scores(toks), want, rtol=1e-5, atol=1e-6)
    assert lex.scores([]).shape == (len(lex.keys),) and not lex.scores(["no-such-token"]).any()
    fn = tokenize("人权理事会 决议 A/HRC/43/3")
    np.testing.assert_allclose(lex.footnote_scores(fn), lex.bm25_fn.get_scores(fn), rtol=1e-5, atol=1e-6)


def test_dense_scores_equal_a_unit_by_unit_reference():
    """DenseIndex.scores (segmented max over (row, kind) runs) against a plain loop over the units."""
    import numpy as np

    from qa.retrieval.signals import KINDS, DenseIndex

    rng = np.random.default_rng(3)
    records, vecs = [], []
    for p in range(1, 41):
        for kind in rng.choice(KINDS, size=rng.integers(1, 9)):
            records.append({"doc": "d" if p % 3 else "e", "paragraph": p, "kind": str(kind),
                            "sentence": int(rng.integers(0, 5)), "footnote": int(rng.integers(1, 9))})
            vecs.append(rng.standard_normal(8))
    records.append(dict(records[0]))  # a duplicate unit: ties go to the first one, as before
    vecs.append(vecs[0])
    order = rng.permutation(len(records))  # the store's unit order is not the row order
    records, vecs = [records[i] for i in order], np.asarray(vecs, dtype=np.float32)[order]

    class Store:
        units = records

        def vectors(self):
            return vecs

        def reconstruct(self, ids):
            return vecs[ids]

    class ScoringStore(Store):
        def similarities(self, query, ids):
            return vecs[ids] @ query

    keys = sorted({(r["doc"], r["paragraph"]) for r in records})
    pos = {k: i for i, k in enumerate(keys)}
    q = rng.standard_normal(8).astype(np.float32)
    for store, keep in ((Store(), 10**6), (Store(), 0), (ScoringStore(), 10**6)):  # in memory, fetched, scored by the store
        index = DenseIndex("x", None, store, pos, len(keys), keep_vectors_below=keep)
        assert (index.vectors is None) == (keep == 0 or isinstance(store, ScoringStore))
        rows = np.sort(rng.choice(len(keys), 25, replace=False))
        got = index.scores(q, rows)
        for j, row in enumerate(rows):
            sims = {k: [(float(vecs[i] @ q), i) for i, r in enumerate(records)
                        if pos[(r["doc"], r["paragraph"])] == row and r["kind"] == k] for k in KINDS}
            top = {k: max(v, key=lambda x: (x[0], -x[1])) if v else None for k, v in sims.items()}
            para = top["paragraph"][0] if top["paragraph"] else 0.0
            sent = top["sentence"][0] if top["sentence"] else para
            close = lambda a, b: abs(float(a) - b) < 1e-5  # noqa: E731 - one matmul vs one dot per unit
            assert close(got.para[j], para) and close(got.sent[j], sent)
            assert close(got.fn[j], top["footnote"][0] if top["footnote"] else para)
            assert close(got.head[j], top["heading"][0] if top["heading"] else para)
            assert close(got.clause[j], max(top["clause"][0] if top["clause"] else sent, sent))
            for kind, best, table in (("sentence", got.best_sentence, "sentence"), ("clause", got.best_clause, "sentence"),
                                      ("footnote", got.best_footnote, "footnote")):
                assert best[j] == (records[top[kind][1]][table] if top[kind] else -1), (row, kind)
        index.prepare_linear()  # rows here have several paragraph/heading units: their best is not linear
        assert index.linear == {}
        index.prepare_sample(rows)  # the sample's packed block scores its rows as `scores` does, without best units
        block = index.sample_scores(q)
        for f in ("para", "sent", "fn", "clause", "head"):
            np.testing.assert_allclose(getattr(block, f), getattr(got, f), atol=1e-5)
        assert (block.best_sentence == -1).all()


def test_linear_stats_equal_the_spread_of_every_rows_scores():
    """Paragraph and heading components' mean and spread from the vectors' mean and covariance equal those of
    `scores` over every row, including rows without a heading (their paragraph), without a paragraph unit (0) or
    without any unit."""
    import numpy as np

    from qa.retrieval.signals import DenseIndex

    rng = np.random.default_rng(4)
    records, vecs = [], []
    for p in range(60):
        kinds = ["paragraph"] * (p % 5 != 0) + ["heading"] * (p % 3 != 0) + ["sentence"] * int(rng.integers(0, 3))
        if p % 7 == 0:
            kinds = []  # a row with no units (it still has a key)
        for kind in kinds:
            records.append({"doc": "d", "paragraph": p, "kind": kind, "sentence": 0})
            vecs.append(rng.standard_normal(6))
    vecs = np.asarray(vecs, dtype=np.float32)

    class Store:
        units = records

        def vectors(self):
            return vecs

    pos = {("d", p): p for p in range(60)}
    index = DenseIndex("x", None, Store(), pos, 60)
    index.prepare_linear()
    q = rng.standard_normal(6).astype(np.float32)
    every = index.scores(q, np.arange(60))
    stats = index.linear_stats(q)
    for kind, x in (("para", every.para), ("head", every.head)):
        assert stats[kind] == pytest.approx((float(x.mean()), float(x.std())), abs=1e-5)


def _copies_retriever(corpus, tmp_path, **options):
    """A retriever over copies of the report (more paragraphs than the sample, so it works in two stages), with
    FakeEncoder vectors: no model."""
    import copy

    from qa.retrieval.index import IndexHome, open_index
    from qa.retrieval.lexical import LexicalIndex
    from qa.retrieval.retriever import Retriever
    from qa.retrieval.signals import SAMPLE_SIZE
    from qa.types import Corpus
    from tests.conftest import FakeEncoder

    docs = []
    for i in range(SAMPLE_SIZE // len(corpus.documents[0].paragraphs) + 1):
        d = copy.deepcopy(corpus.documents[0])
        d.id = f"copy-{i}"
        docs.append(d)
    big = Corpus(docs)
    home = IndexHome(tmp_path)
    dense = {name: (enc, open_index(big, enc, home=home, quiet=True)[0])
             for name, enc in (("e5", FakeEncoder("fake-e5")), ("use", FakeEncoder("fake-use", 128)))}
    r = Retriever(big, dense, LexicalIndex.build(big), **options)
    assert len(r.keys) > SAMPLE_SIZE
    return r


def test_two_stage_standardizes_lexical_signals_with_the_whole_collection(corpus, tmp_path):
    """Lexical scores exist for every paragraph, so two-stage fusion z-scores them with the collection's own mean
    and spread (as exhaustive scoring does). No model: FakeEncoder."""
    import copy

    import numpy as np

    from qa.retrieval.fusion import fuse, standardize

    r = _copies_retriever(corpus, tmp_path)
    assert r.two_stage
    sig = r.signals("乍得废除了哪项法律中的死刑？")
    full = r.lexical.scores(sig.query_tokens)
    assert {k for k in sig.stats if "." not in k} == set(sig.lexical) and "bm25" in sig.stats
    assert sig.stats["bm25"] == pytest.approx((float(full.mean()), float(full.std())))
    w = r.config.weights_for(sig.group)
    fused, _ = fuse(sig, w)
    sample_only = copy.copy(sig)
    sample_only.stats = {k: v for k, v in sig.stats.items() if "." in k}  # dense ones kept: only lexical differ
    fused_sample, _ = fuse(sample_only, w)
    want = sum(getattr(w, name) * (standardize(x, sig.sample, stats=sig.stats[name])
                                   - standardize(x, sig.sample)) for name, x in sig.lexical.items()
               if getattr(w, name) and x.max() > 0)
    np.testing.assert_allclose(fused - fused_sample, want, rtol=1e-4, atol=1e-4)
    assert np.abs(want).max() > 1e-3  # the sample's estimate really differs from the collection's


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_two_stage_knows_the_exact_spread_of_paragraph_and_heading_scores(corpus, tmp_path):
    """The paragraph and heading components are one unit's cosine per paragraph, so their mean and spread over the
    whole collection follow from those vectors' mean and covariance: two-stage fusion uses them (as exhaustive
    scoring does) instead of the sample's estimate. No model: FakeEncoder."""
    import copy

    import numpy as np

    from qa.retrieval.fusion import fuse, standardize

    r = _copies_retriever(corpus, tmp_path)
    q = "Which law abolished the death penalty in Chad?"
    sig = r.signals(q)
    w = r.config.weights_for(sig.group)
    assert sig.group == "en" and w.sentence == 0 and w.heading  # the English weights use both linear components
    every = np.arange(len(r.keys))
    for name, index in r.indexes.items():
        full = index.scores(index.encoder.encode_queries([q]), every)
        for kind in ("para", "head"):
            x = getattr(full, kind)
            assert sig.stats[f"{name}.{kind}"] == pytest.approx((float(x.mean()), float(x.std())), abs=1e-5)
    sample_only = copy.copy(sig)
    sample_only.stats = {k: v for k, v in sig.stats.items() if "." not in k}
    d = {name: sig.dense[name] for name in sig.dense}
    want = w.e5 * (standardize(d["e5"].para, sig.sample, stats=sig.stats["e5.para"]) - standardize(d["e5"].para, sig.sample))
    want += w.use * (standardize(d["use"].para, sig.sample, stats=sig.stats["use.para"]) - standardize(d["use"].para, sig.sample))
    want += w.heading * np.mean([standardize(d[n].head, sig.sample, stats=sig.stats[f"{n}.head"])
                                 - standardize(d[n].head, sig.sample) for n in d], axis=0)
    np.testing.assert_allclose(fuse(sig, w)[0] - fuse(sample_only, w)[0], want, rtol=1e-4, atol=1e-4)
    assert np.abs(want).max() > 1e-3  # the sample's estimate really differs from the collection's
    exhaustive = _copies_retriever(corpus, tmp_path, candidates="all")
    assert not exhaustive.two_stage and all(not i.linear for i in exhaustive.indexes.values())


def test_sample_rows_come_from_the_sample_block_and_only_for_weighted_encoders(corpus, tmp_path, monkeypatch):
    """Rows that only stand in the sample are scored from the sample's packed block, and only with the encoders
    fusion reads: the fused scores and the margin are those of scoring every row exactly with every encoder,
    and (Chinese weights: USE unweighted) those rows have no USE scores at all. No model: FakeEncoder."""
    import numpy as np

    import qa.retrieval.retriever as retriever_module
    from qa.retrieval.fusion import fuse, margin, weighted_encoders

    r = _copies_retriever(corpus, tmp_path)
    for q in ("乍得废除了哪项法律中的死刑？", "Which law abolished the death penalty in Chad?",
              "Quelle loi a aboli la peine de mort au Tchad ?"):
        sig = r.signals(q)
        w = r.config.weights_for(sig.group)
        fused, _ = fuse(sig, w)
        exact = {name: index.scores(index.encoder.encode_queries([q]), sig.rows) for name, index in r.indexes.items()}
        with monkeypatch.context() as m:  # every row exact, both encoders
            m.setattr(retriever_module.Retriever, "_pool_and_sample",
                      lambda self, name, qv, rows, pool, used, exact=exact: exact[name])
            full_sig = r.signals(q)
        full, _ = fuse(full_sig, w)
        assert np.array_equal(sig.rows, full_sig.rows) and (~sig.pool).sum() > 100
        np.testing.assert_allclose(fused, full, rtol=1e-5, atol=1e-5)
        best = int(np.argmax(np.where(sig.pool, fused, -np.inf)))
        assert margin(fused, sig.sample, best) == pytest.approx(margin(full, full_sig.sample, best), abs=1e-4)
        for name, d in sig.dense.items():
            np.testing.assert_array_equal(d.best_sentence[sig.pool], exact[name].best_sentence[sig.pool])
            if name in weighted_encoders(w):
                np.testing.assert_allclose(d.clause, exact[name].clause, atol=1e-5)
            else:  # USE has no weight for Chinese questions: only the candidates are scored with it
                assert sig.group == "zh" and np.isneginf(d.para[~sig.pool]).all()


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_stage_one_fetches_candidates_only_for_signals_fusion_adds(corpus, tmp_path):
    """A lexical signal whose weight is 0 for the query's group fetches no candidates: its paragraphs would take
    stage-2 time and could not be lifted by it. With a weight, its best paragraphs are in the pool."""
    import numpy as np

    from qa.retrieval.fusion import FusionConfig, Weights

    query = "乍得废除了哪项法律中的死刑？"
    pools = {}
    for bm25 in (0.0, 1.0):
        config = FusionConfig({g: Weights(e5=1.0, use=1.0, bm25=bm25) for g in ("zh", "en", "other")})
        r = _copies_retriever(corpus, tmp_path / str(bm25), config=config, dense_candidates=10, lexical_candidates=20,
                              paragraph_candidates=5)
        sig = r.signals(query)
        pools[bm25] = set(sig.rows[sig.pool].tolist())
        dense = set()
        for d in r.indexes.values():
            dense |= set(d.candidates(d.encoder.encode_queries([query]), 10, 5).tolist())
        bm = r.lexical.scores(sig.query_tokens)
        best = set(np.argsort(-bm, kind="stable")[:5].tolist())
        assert bm.max() > 0
        if bm25:
            assert best <= pools[bm25]
        else:
            assert pools[bm25] == dense  # the encoders' candidates only
    assert pools[0.0] < pools[1.0]


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_candidates_option_sets_the_depth_or_exhaustive(corpus, tmp_path):
    from qa.retrieval.signals import SAMPLE_SIZE

    r = _copies_retriever(corpus, tmp_path / "a", candidates=800)
    assert r.depth() == {"two_stage": True, "paragraphs": len(r.keys), "dense_candidates": 800,
                         "lexical_candidates": 800, "paragraph_candidates": {"use": 533}, "sample": SAMPLE_SIZE}
    r = _copies_retriever(corpus, tmp_path / "b", candidates="all")
    assert r.depth() == {"two_stage": False, "paragraphs": len(r.keys)}
    sig = r.signals("乍得废除了哪项法律中的死刑？")
    assert len(sig.rows) == len(r.keys) and sig.pool.all()


@pytest.mark.parametrize("value", ["5", "9", "100001", "abc", "-3", "1e3"])
def test_bad_candidates_value_is_a_clear_usage_error(value, monkeypatch, capsys):
    from qa.app.cli import build_parser

    for args, env in ((["--candidates", value], None), ([], value)):
        if env is None:
            monkeypatch.delenv("REPORT_QA_CANDIDATES", raising=False)
        else:
            monkeypatch.setenv("REPORT_QA_CANDIDATES", env)
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["search", "死刑", *args])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "--candidates" in err and "$REPORT_QA_CANDIDATES" in err and "from 10 to 100000, or 'all'" in err


def test_candidates_value_parses_numbers_and_all(monkeypatch):
    from qa.app.cli import build_parser
    from qa.app.options import candidates_value

    assert candidates_value("all") == "all" and candidates_value(" ALL ") == "all"
    assert candidates_value("800") == 800 and candidates_value("10") == 10 and candidates_value("100000") == 100_000
    monkeypatch.setenv("REPORT_QA_CANDIDATES", "")  # set but empty: the default
    assert build_parser().parse_args(["search", "x"]).candidates is None
    monkeypatch.setenv("REPORT_QA_CANDIDATES", "1200")
    assert build_parser().parse_args(["search", "x"]).candidates == 1200
    monkeypatch.setenv("REPORT_QA_CANDIDATES", "abc")  # a bad default does not matter when the option is given
    assert build_parser().parse_args(["search", "x", "--candidates", "all"]).candidates == "all"


def test_a_failing_query_does_not_leave_its_stage_one_searches_running(corpus, tmp_path):
    """The first encoder's search is on a worker thread when the second encoder fails: the error reaches the
    caller only after that search is over (cancelled or finished), not while it still runs unobserved."""
    import threading
    import time

    r = _copies_retriever(corpus, tmp_path)
    assert r.two_stage
    e5 = r.indexes["e5"]
    started, done = threading.Event(), threading.Event()
    search = e5.candidates

    def slow_search(qvec, k, paragraphs=0):
        started.set()
        time.sleep(0.3)
        out = search(qvec, k, paragraphs)
        done.set()
        return out

    def broken(texts):
        assert started.wait(10)  # the search is running (too late to cancel) when the encoder fails
        raise RuntimeError("encoder failed")

    e5.candidates = slow_search
    r.indexes["use"].encoder.encode_queries = broken
    with pytest.raises(RuntimeError, match="encoder failed"):
        r.signals("乍得废除了哪项法律中的死刑？")
    assert done.is_set()


def test_dot_equals_numpy_and_checks_the_dimension():
    import numpy as np

    from qa.retrieval.signals import _dot

    rng = np.random.default_rng(0)
    v, q = rng.standard_normal((50, 16)).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    np.testing.assert_allclose(_dot(v, q), v @ q, rtol=1e-5, atol=1e-5)
    assert _dot(v[:0], q).shape == (0,)
    with pytest.raises(ValueError, match="dimension 3"):
        _dot(v, q[:3])


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_about_panel_and_describe_say_how_a_large_collection_is_searched(corpus, tmp_path):
    from qa.app.ui.webapp import about_markdown
    from qa.engine import Engine

    r = _copies_retriever(corpus, tmp_path, candidates=600)
    text = about_markdown(Engine(r.corpus, r))
    assert (f"two stages over {len(r.keys):,} paragraphs: 600 candidates per dense signal (+400 paragraphs for use), "
            "600 per lexical") in text
    r = _copies_retriever(corpus, tmp_path / "all", candidates="all")
    assert Engine(r.corpus, r).describe()["search"] == {"two_stage": False, "paragraphs": len(r.keys)}
    assert f"every paragraph scored exactly ({len(r.keys):,})" in about_markdown(Engine(r.corpus, r))


@pytest.mark.slow  # several seconds: the full tier (`make test`) keeps it
def test_adding_a_report_keeps_the_search_depth(corpus, tmp_path):
    """`rebuild_engine` (a report added in the library) builds the new retriever with the engine's --candidates."""
    from qa.engine import Engine, rebuild_engine
    from qa.retrieval.index import IndexHome

    r = _copies_retriever(corpus, tmp_path, candidates=700)
    engine = Engine(r.corpus, r, candidates=700)
    new = rebuild_engine(engine, r.corpus, home=IndexHome(tmp_path))
    assert new.candidates == 700 and new.retriever.depth()["dense_candidates"] == 700
    assert new.retriever.depth()["lexical_candidates"] == 700
