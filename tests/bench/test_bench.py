"""The benchmark's pure helpers (no model, no stores)."""

from __future__ import annotations

import pytest

from bench.bench import TIE_RANKS, agreement, mixed_questions


def test_agreement_counts_top10_overlap_and_near_ties():
    ref = [("d", i) for i in range(1, TIE_RANKS + 1)]  # the exhaustive ranking, TIE_RANKS deep
    same = ref[:10]
    near = ref[:8] + [ref[12], ref[15]]  # two picks from the exhaustive 11–20: near-ties
    far = ref[:8] + [("d", 500), ("d", 501)]  # two picks the exhaustive ranking puts far down
    out = agreement([same, near, far], [ref, ref, ref], ["zh", "en", "en"])
    assert out["top10_agreement"] == pytest.approx((1.0 + 0.8 + 0.8) / 3, abs=1e-4)
    assert out[f"top10_within_exhaustive_top{TIE_RANKS}"] == pytest.approx((1.0 + 1.0 + 0.8) / 3, abs=1e-4)
    assert out["top10_agreement_by_language"] == {"zh": 1.0, "en": 0.8}
    assert out["n_agreement"] == 3


def test_agreement_uses_only_the_queries_with_a_reference():
    ref = [("d", i) for i in range(1, TIE_RANKS + 1)]
    out = agreement([ref[:10], [("x", 1)] * 10], [ref])  # the second query was not scored exhaustively
    assert out["top10_agreement"] == 1.0 and out["n_agreement"] == 1


def test_mixed_questions_take_each_language_in_turn():
    from types import SimpleNamespace as Q

    qs = [Q(lang=lang, question=f"{lang}{i}") for lang in ("en", "zh", "ar") for i in range(3)]
    texts, langs = mixed_questions(qs, 5)
    assert langs == ["zh", "en", "ar", "zh", "en"] and texts[:3] == ["zh0", "en0", "ar0"]
