"""qa/retrieval/fusion.py on known score arrays: z-scores, the fused margin, weighted fusion per mode, the
weights file. No model: the signals are synthetic (tests/synthetic.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from qa.retrieval.fusion import (
    DENSE_WEIGHTS,
    FusionConfig,
    Weights,
    combine,
    fuse,
    margin,
    moments,
    query_group,
    standardize,
    weighted_encoders,
)
from tests.synthetic import dense_scores, query_signals


def z(x) -> np.ndarray:
    """The z-score by its definition (population standard deviation), for comparison."""
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / x.std()


# --- normalization ---------------------------------------------------------------------------------

def test_moments_are_mean_and_population_sd():
    assert moments(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx((2.5, np.sqrt(1.25)))
    assert moments(np.array([], dtype=np.float32)) == (0.0, 0.0)


def test_standardize_uses_the_sample_rows_or_the_given_stats():
    x = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    np.testing.assert_allclose(standardize(x, np.ones(4, dtype=bool)), z(x), rtol=1e-6)
    # the mean (1.5) and spread (0.5) of the first two rows, applied to every row
    np.testing.assert_allclose(standardize(x, np.array([True, True, False, False])), [-1.0, 1.0, 3.0, 5.0])
    # known stats win over the sample
    np.testing.assert_allclose(standardize(x, np.ones(4, dtype=bool), stats=(0.0, 2.0)), x / 2)
    # `at`: only those positions, standardized with every sample row's statistics
    np.testing.assert_allclose(standardize(x, np.ones(4, dtype=bool), at=np.array([3, 0])), z(x)[[3, 0]], rtol=1e-6)


def test_standardize_of_a_constant_signal_is_zero_not_nan():
    out = standardize(np.full(5, 3.0, dtype=np.float32), np.ones(5, dtype=bool))
    assert out.shape == (5,) and not out.any()
    assert not standardize(np.arange(3.0), np.ones(3, dtype=bool), stats=(1.0, 0.0)).any()


def test_margin_is_the_best_rows_distance_from_the_other_sampled_rows():
    fused = np.array([5.0, 0.0, 1.0, -1.0, 0.0])
    every = np.ones(5, dtype=bool)
    assert margin(fused, every, 0) == pytest.approx(5.0 / np.std([0.0, 1.0, -1.0, 0.0]))
    # a row outside the sample does not count in the field
    assert margin(fused, np.array([True, True, True, True, False]), 0) == pytest.approx(
        (5.0 - 0.0) / np.std([0.0, 1.0, -1.0]))
    assert margin(fused, every, 3) < 0  # a best row below the field's mean
    assert margin(fused, np.array([True, True, False, False, False]), 0) == 10.0  # fewer than two others


# --- fusion ------------------------------------------------------------------------------------------

E5 = [0.9, 0.5, 0.4, 0.1]
USE = [0.2, 0.8, 0.3, 0.1]
BM25 = [0.0, 3.0, 1.0, 0.0]


def test_fuse_adds_each_components_z_score_with_its_weight():
    sig = query_signals({"e5": dense_scores(E5), "use": dense_scores(USE)}, {"bm25": BM25})
    w = Weights(e5=1.0, use=0.5, bm25=2.0, sentence=0.0)
    fused, parts = fuse(sig, w)
    np.testing.assert_allclose(fused, z(E5) + 0.5 * z(USE) + 2.0 * z(BM25), rtol=1e-5, atol=1e-6)
    assert set(parts) == {"e5", "use", "bm25"}
    np.testing.assert_allclose(parts["bm25"], BM25)  # the raw component, for display
    assert int(np.argmax(fused)) == 1  # strong in USE and BM25 beats strong in e5 alone


def test_fuse_mixes_the_best_sentence_into_each_dense_signal():
    d = dense_scores(E5, sent=[0.1, 0.9, 0.2, 0.0], fn=[0.3, 0.1, 0.6, 0.0])
    sig = query_signals({"e5": d})
    fused, parts = fuse(sig, Weights(e5=1.0, sentence=0.5))
    detail = np.maximum([0.1, 0.9, 0.2, 0.0], [0.3, 0.1, 0.6, 0.0])
    np.testing.assert_allclose(parts["e5"], 0.5 * np.array(E5) + 0.5 * detail, rtol=1e-6)
    np.testing.assert_allclose(fused, z(0.5 * np.array(E5) + 0.5 * detail), rtol=1e-5, atol=1e-6)


def test_fuse_uses_the_collections_stats_where_the_record_has_them():
    stats = {"bm25": (1.0, 4.0), "e5.para": (0.5, 0.25)}
    sig = query_signals({"e5": dense_scores(E5)}, {"bm25": BM25}, stats=stats)
    fused, _ = fuse(sig, Weights(e5=1.0, bm25=1.0, sentence=0.0))
    want = (np.array(E5) - 0.5) / 0.25 + (np.array(BM25) - 1.0) / 4.0
    np.testing.assert_allclose(fused, want, rtol=1e-5)
    # the paragraph's exact stats stand only for the paragraph's cosine alone, not for a mix with sentences
    fused, _ = fuse(sig, Weights(e5=1.0, bm25=1.0, sentence=0.5))
    np.testing.assert_allclose(fused, z(E5) + (np.array(BM25) - 1.0) / 4.0, rtol=1e-5)


def test_fuse_leaves_out_zero_weights_disabled_signals_and_signals_without_a_score():
    sig = query_signals({"e5": dense_scores(E5)}, {"bm25": BM25, "bridge": [0.0] * 4})
    w = Weights(e5=1.0, bm25=1.0, bridge=1.0, sentence=0.0)
    fused, parts = fuse(sig, w)
    assert "bridge" not in parts  # no paragraph scores: it would only shift every row
    np.testing.assert_allclose(fused, z(E5) + z(BM25), rtol=1e-5, atol=1e-6)
    fused, parts = fuse(sig, w, enabled=("e5",))
    assert set(parts) == {"e5"}
    np.testing.assert_allclose(fused, z(E5), rtol=1e-5, atol=1e-6)
    _, parts = fuse(sig, replace(w, bm25=0.0))
    assert "bm25" not in parts


def test_fuse_averages_the_heading_over_the_encoders():
    sig = query_signals({"e5": dense_scores(E5, head=[0.1, 0.2, 0.3, 0.4]),
                         "use": dense_scores(USE, head=[0.4, 0.1, 0.1, 0.0])})
    fused, parts = fuse(sig, Weights(e5=0.0, heading=2.0))
    np.testing.assert_allclose(parts["heading"], [0.25, 0.15, 0.2, 0.2], rtol=1e-6)
    np.testing.assert_allclose(fused, 2.0 * (z([0.1, 0.2, 0.3, 0.4]) + z([0.4, 0.1, 0.1, 0.0])) / 2, rtol=1e-5)


def test_lexical_mode_is_bm25_alone_and_dense_mode_a_fixed_e5_recipe():
    sig = query_signals({"e5": dense_scores(E5, clause=[0.0, 0.9, 0.0, 0.0]), "use": dense_scores(USE)},
                        {"bm25": BM25})
    w = Weights(e5=0.0, use=5.0, bm25=5.0)
    fused, parts = fuse(sig, w, mode="lexical")
    np.testing.assert_array_equal(fused, np.asarray(BM25, dtype=np.float32))
    assert set(parts) == {"bm25"}
    fused, parts = fuse(sig, w, mode="dense")  # the query group's weights do not apply
    assert set(parts) == {"e5", "e5_clause"}
    want = DENSE_WEIGHTS.e5 * z(np.array(E5)) + DENSE_WEIGHTS.e5_clause * z([0.0, 0.9, 0.0, 0.0])
    np.testing.assert_allclose(fused, want, rtol=1e-5, atol=1e-6)


def test_combine_z_scores_each_query_before_adding_the_extras():
    first, extra = np.array([1.0, 2.0, 3.0]), np.array([30.0, 20.0, 10.0])
    every = np.ones(3, dtype=bool)
    assert combine(first, [], every) is first
    np.testing.assert_allclose(combine(first, [(extra, 0.5)], every), z(first) + 0.5 * z(extra), rtol=1e-6)
    twice = combine(first, [(extra, 0.5), (first, 1.0)], every)
    np.testing.assert_allclose(twice, z(z(first) + 0.5 * z(extra)) + z(first), rtol=1e-6)


def test_weighted_encoders_are_those_fusion_reads():
    assert weighted_encoders(Weights(e5=1.0, use=0.0)) == {"e5"}
    assert weighted_encoders(Weights(e5=1.0, use=0.0, use_clause=0.5)) == {"e5", "use"}
    assert weighted_encoders(Weights(e5=1.0, use=0.0, heading=0.5)) == {"e5", "use"}  # both encoders' headings
    assert weighted_encoders(Weights(e5=1.0, use=0.0, prf=0.5)) == {"e5", "use"}  # feedback ranks by both
    assert weighted_encoders(Weights(e5=1.0, use=1.0), enabled=("e5",)) == {"e5"}
    assert weighted_encoders(Weights(use=2.0), mode="dense") == {"e5"}
    assert weighted_encoders(Weights(), mode="lexical") == frozenset()


def test_query_group_by_cjk_share_then_language():
    assert query_group(0.3, "en") == "zh" and query_group(0.29, "en") == "en"
    assert query_group(0.0, "fr") == "other" and query_group(0.5, "fr", min_cjk=0.6) == "other"


# --- the weights file --------------------------------------------------------------------------------

def test_config_saves_and_loads_every_groups_weights(tmp_path):
    path = tmp_path / "fusion.json"
    cfg = FusionConfig().with_group("zh", Weights(bm25=1.5, abstain_margin=2.7)).without("prf")
    cfg.save(path, report={"folds": 5})
    data = json.loads(path.read_text())
    assert data["chosen_by"] == {"folds": 5} and data["groups"]["zh"]["bm25"] == 1.5
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, then renamed
    loaded = FusionConfig.load(path)
    assert loaded.groups == cfg.groups and loaded.lexical_min_cjk == cfg.lexical_min_cjk
    assert "prf" in loaded.enabled  # which signals are switched on is not part of the file


def test_config_load_ignores_unknown_weights_and_defaults_without_a_file(tmp_path):
    path = tmp_path / "fusion.json"
    groups = {g: {"e5": 2.0, "retired_signal": 9.0} for g in ("zh", "en", "other")}
    path.write_text(json.dumps({"groups": groups, "lexical_min_cjk": 0.4}))
    cfg = FusionConfig.load(path)
    assert cfg.weights_for("en") == Weights(e5=2.0) and cfg.lexical_min_cjk == 0.4
    assert FusionConfig.load(tmp_path / "absent.json") == FusionConfig()
