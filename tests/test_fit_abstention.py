"""The abstention fitting script's solver and folds, against known answers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_SPEC = importlib.util.spec_from_file_location("fit_abstention", Path(__file__).parents[1] / "bench/fit_abstention.py")
assert _SPEC and _SPEC.loader
fit_abstention = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(fit_abstention)


def test_fit_recovers_the_weights_that_generated_the_labels() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20000, 3))
    true_w, true_b = np.array([2.0, -1.0, 0.5]), -0.7
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(x @ true_w + true_b)))).astype(float)
    w, b = fit_abstention.fit(x, y, c=1e6)
    assert np.allclose(w, true_w, atol=0.1)
    assert abs(b - true_b) < 0.1


def test_regularisation_shrinks_weights_but_not_the_bias() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + 3.0 + rng.normal(size=200) > 0).astype(float)
    loose, _ = fit_abstention.fit(x, y, c=1e6)
    tight, bias = fit_abstention.fit(x, y, c=1e-3)
    assert np.abs(tight).sum() < 0.1 * np.abs(loose).sum()
    assert bias > 1.0  # the intercept still carries the base rate


def test_folds_spread_each_class_evenly() -> None:
    y = np.array([1] * 92 + [0] * 23)
    folds = fit_abstention.stratified_folds(y, folds=10)
    for label in (0, 1):
        counts = np.bincount(folds[y == label], minlength=10)
        assert counts.max() - counts.min() <= 1
