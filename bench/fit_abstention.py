"""Refit the abstention model on a gold set and cross-validate it.

Prints the logistic weights fitted on the gold set's signals (to compare with,
or paste into, `SUPPORT_WEIGHTS` / `SUPPORT_BIAS` in rag/answering.py), the
in-sample abstention / false-abstention at the threshold in use, and the same
figures under stratified 10-fold cross-validation, where each question is
judged by a model fitted without it. Asserts nothing.

    python bench/fit_abstention.py [GOLD] [--seeds DIR] [--index DIR]

The fit is L2-regularised logistic regression (C=3, intercept unpenalised),
solved by Newton's method with NumPy alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
C = 3.0
FOLDS = 10


def fit(x: np.ndarray, y: np.ndarray, c: float = C, steps: int = 100) -> tuple[np.ndarray, float]:
    """Weights and bias minimising sum(log loss) + |w|^2 / (2c)."""
    a = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(a.shape[1])
    penalty = np.eye(a.shape[1]) / c
    penalty[-1, -1] = 0.0  # the intercept is not penalised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + penalty @ w
        hess = (a * (p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w[:-1], float(w[-1])


def predict(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ w + b)))


def stratified_folds(y: np.ndarray, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """A fold number per question, each class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), dtype=int)
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(y == label))
        out[members] = np.arange(len(members)) % folds
    return out


def rates(support: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    """(abstention on unanswerable, false abstention on answerable) at `threshold`."""
    return float(np.mean(support[y == 0] < threshold)), float(np.mean(support[y == 1] < threshold))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", nargs="?", default=str(ROOT / "tests/gold/japan-nato-alignment.jsonl"))
    parser.add_argument("--seeds", default=str(ROOT / "seeds"), help="seeds folder (default: the project's seeds/)")
    parser.add_argument("--index", default=str(ROOT / "index"), help="index folder, built if missing or stale")
    args = parser.parse_args()

    from rag.answering import SUPPORT_BIAS, SUPPORT_THRESHOLD, SUPPORT_WEIGHTS, explain
    from rag.gold import load_gold
    from rag.index import open_index

    index = open_index(args.seeds, args.index)
    gold = load_gold(args.gold, index.source_text)
    names = list(SUPPORT_WEIGHTS)
    signals = [explain(index, q.question, threshold=0.0)[1] for q in gold]
    x = np.array([[float(getattr(s, n)) for n in names] for s in signals])
    y = np.array([q.answerable for q in gold], dtype=float)
    print(f"{len(gold)} questions: {int(y.sum())} answerable, {int(len(y) - y.sum())} unanswerable")

    w, b = fit(x, y)
    print(f"\n{'signal':<14} {'fitted':>8} {'in use':>8}")
    for name, value in zip(names, w, strict=True):
        print(f"{name:<14} {value:8.2f} {SUPPORT_WEIGHTS[name]:8.2f}")
    print(f"{'bias':<14} {b:8.2f} {SUPPORT_BIAS:8.2f}")

    in_use = np.array([s.support() for s in signals])
    refit = predict(x, w, b)
    folds = stratified_folds(y)
    held_out = np.empty(len(y))
    for f in range(FOLDS):
        train = folds != f
        wf, bf = fit(x[train], y[train])
        held_out[~train] = predict(x[~train], wf, bf)
    print(f"\nat threshold {SUPPORT_THRESHOLD}:      abstention  false abstention")
    for label, support in (("weights in use", in_use), ("refitted", refit), (f"{FOLDS}-fold held-out", held_out)):
        abstain, false = rates(support, y, SUPPORT_THRESHOLD)
        print(f"  {label:<22} {abstain:10.3f}  {false:16.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
