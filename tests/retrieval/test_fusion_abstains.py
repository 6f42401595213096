"""The "not covered" rule without a model: `fusion.abstains` as a pure function of the scores and thresholds."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.retrieval.fusion import FusionConfig, Weights, abstains

RULE = Weights(abstain_margin=2.0, abstain_use=0.3, abstain_missing=3.5)


@pytest.mark.parametrize("margin, best_use, missing, declined", [
    (1.99, 0.9, False, True),   # the best paragraph barely stands out
    (2.0, 0.9, False, False),   # the threshold itself answers
    (5.0, 0.9, False, False),
    (5.0, 0.29, False, True),   # nothing is close for USE
    (5.0, 0.3, False, False),
    (5.0, None, False, False),  # no USE signal: the USE rule cannot fire
    (3.0, 0.9, True, True),     # names a place the report lacks, with a looser margin
    (3.5, 0.9, True, False),
    (3.0, 0.9, False, False),
    (-10.0, None, True, True),
])
def test_rule(margin, best_use, missing, declined):
    assert abstains(RULE, margin, best_use, missing) is declined


def test_zero_thresholds_switch_rules_off():
    off = replace(RULE, abstain_use=0.0, abstain_missing=0.0)
    assert not abstains(off, 2.0, 0.0, True)
    assert abstains(off, 1.0, 0.0, True)  # the margin rule alone remains


scores = st.floats(-20, 20, allow_nan=False)
sims = st.one_of(st.none(), st.floats(-1, 1, allow_nan=False))
rules = st.builds(Weights, abstain_margin=st.floats(-5, 10, allow_nan=False), abstain_use=st.floats(0, 1, allow_nan=False),
                  abstain_missing=st.floats(-5, 100, allow_nan=False))


@settings(max_examples=500, deadline=None)
@given(rules, scores, scores, sims, st.booleans())
def test_rule_is_monotone(w, m1, m2, best_use, missing):
    """A weaker match never answers where a stronger one declines; naming a missing place never makes an answer."""
    lo, hi = sorted((m1, m2))
    if abstains(w, hi, best_use, missing):
        assert abstains(w, lo, best_use, missing)
    if abstains(w, m1, best_use, False):
        assert abstains(w, m1, best_use, True)
    if best_use is not None and abstains(w, m1, best_use, missing):
        assert abstains(w, m1, best_use - 0.1, missing)


def test_shipped_thresholds_answer_a_clear_match():
    cfg = FusionConfig.load()
    for group, w in cfg.groups.items():
        assert not abstains(w, 10.0, 1.0, False), group  # a paragraph far above the rest, a close USE match
        assert abstains(w, -1.0, 1.0, False), group  # a best paragraph below the field's mean is no answer
