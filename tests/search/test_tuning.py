"""The fitting procedures behind rag/search/params.json, against known answers."""

from __future__ import annotations

import numpy as np

from rag.search.tuning import Params, RankCase, choose_threshold, fit_logistic, fit_rank, mrr
from rag.stores.signals import RANK_FEATURES


def test_logistic_fit_recovers_the_weights_that_generated_the_labels() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20000, 3))
    true_w, true_b = np.array([2.0, -1.0, 0.5]), -0.7
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(x @ true_w + true_b)))).astype(float)
    w, b = fit_logistic(x, y, c=1e6)
    assert np.allclose(w, true_w, atol=0.1)
    assert abs(b - true_b) < 0.1


def test_regularisation_shrinks_weights_but_not_the_bias() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + 3.0 + rng.normal(size=200) > 0).astype(float)
    loose, _ = fit_logistic(x, y, c=1e6)
    tight, bias = fit_logistic(x, y, c=1e-3)
    assert np.abs(tight).sum() < 0.1 * np.abs(loose).sum()
    assert bias > 1.0  # the intercept still carries the base rate


def test_threshold_is_the_highest_that_keeps_false_abstention_within_the_limit() -> None:
    support = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    answerable = np.array([False, False, True, True, True, True, True, True, True, True])
    # 8 answerable: abstaining below 0.4 loses one of them (1/8 = 0.125), below 0.3 none.
    assert choose_threshold(support, answerable, limit=0.0) == 0.3
    assert choose_threshold(support, answerable, limit=0.125) == 0.4


def _case(late: list[float], dense: list[float], relevant: int) -> RankCase:
    n = len(late)
    features = {name: np.zeros(n) for name in RANK_FEATURES} | {"late": np.array(late), "dense": np.array(dense)}
    return RankCase(features, np.arange(n) == relevant)


def test_mrr_ranks_by_the_weighted_features() -> None:
    case = _case([0.9, 0.5], [0.0, 1.0], relevant=1)
    assert mrr([case], {"late": 1.0, "dense": 0.0, "sentence": 0.0, "lexical": 0.0}) == 0.5
    assert mrr([case], {"late": 1.0, "dense": 1.0, "sentence": 0.0, "lexical": 0.0}) == 1.0


def test_rank_fit_finds_the_feature_that_carries_the_relevance() -> None:
    rng = np.random.default_rng(3)
    cases = []
    for _ in range(40):
        late = rng.normal(size=8)
        dense = rng.normal(size=8)
        relevant = int(np.argmax(late + 2.0 * dense))  # dense matters twice as much as late
        cases.append(_case(list(late), list(dense), relevant))
    weights = fit_rank(cases)
    assert weights["dense"] == 2.0 and weights["late"] == 1.0
    assert mrr(cases, weights) == 1.0


def test_support_is_a_probability_from_the_logistic_weights() -> None:
    params = Params(support={"a": 2.0}, bias=-1.0)
    assert params.support_of({"a": 0.5}) == 0.5
    assert 0.0 < params.support_of({"a": -100.0}) < 1e-6
