"""qa/retrieval/signals.py without a model: the per-encoder components (`DenseScores`), the record's top similarity,
a tiny `DenseIndex` (fallbacks, evidence units, stage-1 candidates), the vectors' mean and covariance, and the
feedback terms. (`DenseIndex.scores` against a unit-by-unit loop and `linear_stats`: tests/retrieval/test_retriever.py.)"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from qa.retrieval.signals import DenseIndex, DenseScores, _mean_cov, prf_terms
from tests.synthetic import dense_scores, query_signals


def test_combined_mixes_the_paragraph_with_its_best_sentence_or_footnote():
    d = dense_scores([0.8, 0.2], sent=[0.4, 0.6], fn=[0.1, 0.9])
    np.testing.assert_allclose(d.detail(), [0.4, 0.9])
    np.testing.assert_allclose(d.combined(0.25), [0.75 * 0.8 + 0.25 * 0.4, 0.75 * 0.2 + 0.25 * 0.9])
    np.testing.assert_allclose(d.combined(1.0), d.detail())


def test_combined_with_no_sentence_share_is_the_paragraph_even_beside_unscored_rows():
    d = DenseScores.unscored(3)  # a row that only stands in the sample of an unread encoder: -inf everywhere
    d.para[:] = [0.5, 0.1, 0.2]
    assert d.combined(0.0) is d.para
    assert not np.isnan(d.combined(0.0)).any()


def test_unscored_put_and_take():
    out = DenseScores.unscored(4)
    assert np.isneginf(out.para).all() and (out.best_sentence == -1).all() and out.best_sentence.dtype == np.int64
    part = dense_scores([0.3, 0.7])
    part.best_sentence[:] = [2, 5]
    out.put(np.array([False, True, False, True]), part)
    np.testing.assert_allclose(out.para, [-np.inf, 0.3, -np.inf, 0.7])
    np.testing.assert_array_equal(out.best_sentence, [-1, 2, -1, 5])
    back = out.take(np.array([3, 1]))
    np.testing.assert_allclose(back.para, [0.7, 0.3])
    np.testing.assert_array_equal(back.best_sentence, [5, 2])


def test_top_similarity_is_the_best_paragraph_sentence_or_clause_cosine():
    d = dense_scores([0.2, 0.3], sent=[0.1, 0.4], clause=[0.35, 0.1], fn=[0.99, 0.0], head=[0.98, 0.0])
    sig = query_signals({"use": d})
    assert sig.top_similarity("use") == pytest.approx(0.4)  # footnotes and headings do not count
    assert sig.top_similarity("e5") is None
    empty = query_signals({"use": dense_scores(np.zeros(0))})
    assert empty.top_similarity("use") is None


# --- a tiny DenseIndex ------------------------------------------------------------------------------

# Three paragraphs of document "d" (rows 0, 1, 2) and one unit of a paragraph the retriever does not know.
UNITS = [
    {"doc": "d", "paragraph": 1, "kind": "paragraph"},
    {"doc": "d", "paragraph": 2, "kind": "paragraph"},
    {"doc": "d", "paragraph": 2, "kind": "sentence", "sentence": 0},
    {"doc": "d", "paragraph": 2, "kind": "sentence", "sentence": 1},
    {"doc": "d", "paragraph": 2, "kind": "clause", "sentence": 1},
    {"doc": "d", "paragraph": 2, "kind": "footnote", "footnote": 7},
    {"doc": "d", "paragraph": 2, "kind": "heading"},
    {"doc": "gone", "paragraph": 9, "kind": "paragraph"},
    {"doc": "d", "paragraph": 3, "kind": "sentence", "sentence": 0},
]
# 2-d vectors; the query is (1, 0), so each unit's cosine is its first coordinate
VECTORS = np.array([[0.5, 0], [0.2, 0], [0.6, 0], [0.9, 0], [0.7, 0], [0.3, 0], [0.4, 0], [0.95, 0], [0.1, 0]],
                   dtype=np.float32)
POS = {("d", 1): 0, ("d", 2): 1, ("d", 3): 2}
QUERY = np.array([1.0, 0.0], dtype=np.float32)


class Store:
    units = UNITS

    def __init__(self, found=()):
        self.found, self.asked = list(found), []

    def vectors(self):
        return VECTORS

    def search(self, qvec, k, filter=None):
        self.asked.append((k, filter))
        ids = np.array([self.found.pop(0)], dtype=np.int64)
        return np.zeros_like(ids, dtype=np.float32), ids


def test_scores_pick_each_kinds_best_unit_and_fall_back_where_a_kind_is_missing():
    index = DenseIndex("x", None, Store(), POS, 3)
    d = index.scores(QUERY, np.array([0, 1, 2]))
    np.testing.assert_allclose(d.para, [0.5, 0.2, 0.0])  # row 2 has no paragraph unit: 0
    np.testing.assert_allclose(d.sent, [0.5, 0.9, 0.1])  # row 0 has no sentence: its paragraph
    np.testing.assert_allclose(d.clause, [0.5, 0.9, 0.1])  # never below the best sentence
    np.testing.assert_allclose(d.fn, [0.5, 0.3, 0.0])
    np.testing.assert_allclose(d.head, [0.5, 0.4, 0.0])
    np.testing.assert_array_equal(d.best_sentence, [-1, 1, 0])  # the evidence: sentence index in the paragraph
    np.testing.assert_array_equal(d.best_clause, [-1, 1, -1])
    np.testing.assert_array_equal(d.best_footnote, [-1, 7, -1])
    np.testing.assert_allclose(d.sent_score, [-np.inf, 0.9, 0.1])  # raw scores: no fallback
    one = index.scores(QUERY, np.array([1]))  # a row alone scores as it does among others
    np.testing.assert_allclose(one.sent, [0.9])
    np.testing.assert_array_equal(one.best_footnote, [7])


def test_units_of_lists_each_rows_units_grouped_by_kind():
    index = DenseIndex("x", None, Store(), POS, 3)
    np.testing.assert_array_equal(index.units_of(np.array([2, 0])), [8, 0])
    kinds = [UNITS[i]["kind"] for i in index.units_of(np.array([1]))]
    assert kinds == ["paragraph", "heading", "sentence", "sentence", "clause", "footnote"]
    assert index.units_of(np.array([], dtype=np.int64)).shape == (0,)


def test_candidates_are_the_rows_of_the_top_units_and_of_the_top_paragraph_units():
    store = Store(found=[[3, 7, -1, 2], [0]])  # a unit of an unknown paragraph, and -1 (fewer hits than asked)
    index = DenseIndex("x", None, store, POS, 3)
    np.testing.assert_array_equal(index.candidates(QUERY, 5, paragraphs=2), [0, 1])
    assert store.asked == [(5, None), (2, {"kind": ["paragraph"]})]
    store.found = [[8]]
    np.testing.assert_array_equal(index.candidates(QUERY, 50), [2])
    assert store.asked[-1] == (len(UNITS), None)  # never more than the store holds


def test_sample_scores_equal_the_exact_scores_without_evidence():
    index = DenseIndex("x", None, Store(), POS, 3)
    rows = np.array([0, 2])
    index.prepare_sample(rows)
    block, exact = index.sample_scores(QUERY), index.scores(QUERY, rows)
    for f in ("para", "sent", "fn", "clause", "head"):
        np.testing.assert_allclose(getattr(block, f), getattr(exact, f))
    assert (block.best_sentence == -1).all() and (block.best_footnote == -1).all()


def test_mean_cov_counts_a_missing_unit_as_a_zero_vector_in_every_chunk():
    vectors = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, -2.0]], dtype=np.float32)
    ids = np.array([0, -1, 2, 1, -1])
    rows = np.array([[1.0, 2.0], [0.0, 0.0], [5.0, -2.0], [3.0, 6.0], [0.0, 0.0]])
    for chunk in (16384, 2):
        mean, cov = _mean_cov(lambda i: vectors[i], ids, chunk=chunk)
        np.testing.assert_allclose(mean, rows.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(cov, np.cov(rows.T, bias=True), rtol=1e-5)
    mean, cov = _mean_cov(lambda i: vectors[i], np.array([], dtype=np.int64))
    assert mean.shape == (1,) and not cov.any()


# --- feedback terms ---------------------------------------------------------------------------------

def test_prf_terms_rank_the_feedback_words_by_tf_idf():
    texts = ["death penalty abolished penalty", "penalty law", "the law §bi x"]
    df = Counter({"penalty": 2, "law": 90, "death": 1, "abolished": 50, "the": 99})
    # tf · log((101) / (df + 0.5)): penalty 3 × 3.70, death 1 × 4.21, abolished 1 × 0.69, law 2 × 0.11, the 0.02
    assert prf_terms(texts, str.split, df, 100) == ["penalty", "death", "abolished", "law", "the"]
    # bigrams (§) and one-letter tokens are never feedback terms
    assert prf_terms(texts, str.split, df, 100, top=2) == ["penalty", "death"]
    assert prf_terms(["common rare"], str.split, Counter({"common": 50}), 100) == ["rare", "common"]
