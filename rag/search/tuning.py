"""Every tuned number in one place, and the procedures that fit them.

`Params` holds the ranking weights, the sentence-score weights and the
abstention model. The shipped values live in `rag/search/params.json`, written by
`make calibrate` from the development gold sets; `rag eval --held-out` refits
them once per document with that document left out, so a figure is never
scored with numbers fitted on the questions it is scored on.

The fits are small and deterministic: a grid search over ranking weights that
maximises MRR@10, and L2-regularised logistic regression (Newton's method,
NumPy only) for abstention, whose threshold is the highest that keeps false
abstention within `MAX_FALSE_ABSTENTION` on the training questions.

Does not run the pipeline: callers hand in features computed by
`rag.retrieve` and signals computed by `rag.answers.pipeline`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.stores.signals import RANK_FEATURES

PARAMS_FILE = Path(__file__).with_name("params.json")
SIGNALS = ("best_cosine", "best_sentence", "top_dense", "top_score", "coverage", "unknown", "agreement", "margin",
           "best_late", "top_late", "type_missing", "lift", "missing_rare",
           "weakest", "weak_share", "checker", "detail_missing")
MAX_FALSE_ABSTENTION = 0.03  # the abstention threshold keeps answerable questions' abstentions within this
C = 3.0  # inverse L2 strength of the abstention model
GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # candidate weights for each ranking feature


@dataclass(frozen=True)
class Params:
    """The tuned numbers the pipeline runs on."""

    rank: dict[str, float] = field(default_factory=lambda: {"late": 1.0})
    cosine_weight: float = 1.0  # a sentence's own cosine in its score
    late_weight: float = 0.5  # the sentence's late-interaction score
    passage_weight: float = 2.0  # its passage's ranking score
    checker_weight: float = 0.0  # the answer checker's logit in a checked sentence's score
    quote_words: int = 0  # a quote takes in the following sentences of its paragraph up to this many words
    support: dict[str, float] = field(default_factory=dict)  # logistic weights per signal
    bias: float = 0.0
    threshold: float = 0.5  # abstain when support is below this
    fitted_on: str = ""  # what the numbers were fitted on, for the record

    def rank_score(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """The fused ranking score of each candidate: the weighted mean of its features."""
        total = np.zeros(len(features["late"]), dtype=np.float64)
        for name, weight in self.rank.items():
            if weight:
                total += weight * features[name]
        norm = sum(abs(w) for w in self.rank.values())
        return total / norm if norm else total

    def support_of(self, signals: dict[str, float]) -> float:
        """Estimated probability that the chosen quotes answer the question."""
        z = self.bias + sum(w * float(signals.get(name, 0.0)) for name, w in self.support.items())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


@functools.cache
def shipped() -> Params:
    """The parameters in `rag/search/params.json` (fitted on every development document)."""
    data = json.loads(PARAMS_FILE.read_text("utf-8"))
    return Params(**data)


# --- fitting --------------------------------------------------------------


@dataclass(frozen=True)
class RankCase:
    """One training question for the ranker: each candidate's features and which are relevant."""

    features: dict[str, np.ndarray]
    relevant: np.ndarray  # bool per candidate


def mrr(cases: Sequence[RankCase], weights: dict[str, float], depth: int = 10) -> float:
    """Mean reciprocal rank of the first relevant candidate under `weights` (0 past `depth`)."""
    params = Params(rank=weights)
    total = 0.0
    for case in cases:
        if not case.relevant.any():
            continue
        score = params.rank_score(case.features)
        best = score[case.relevant].max()
        rank = 1 + int(np.sum(score > best))
        total += 1.0 / rank if rank <= depth else 0.0
    n = sum(1 for c in cases if c.relevant.any())
    return total / n if n else 0.0


def fit_rank(cases: Sequence[RankCase], rounds: int = 3) -> dict[str, float]:
    """Ranking weights with the best MRR@10 on `cases`, by coordinate ascent over `GRID`.

    Starts from late interaction alone; each round tries every grid value of
    each feature with the others held, and keeps a change only when it
    raises MRR, so ties keep the simpler weights.
    """
    weights = {name: (1.0 if name == "late" else 0.0) for name in RANK_FEATURES}
    best = mrr(cases, weights)
    for _ in range(rounds):
        improved = False
        for name in RANK_FEATURES:
            for value in GRID:
                trial = {**weights, name: value}
                if not any(trial.values()):
                    continue
                score = mrr(cases, trial)
                if score > best + 1e-9:
                    best, weights, improved = score, trial, True
        if not improved:
            break
    return weights


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = C, steps: int = 100) -> tuple[np.ndarray, float]:
    """Weights and bias minimising sum(log loss) + |w|^2 / (2c), by Newton's method."""
    a = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(a.shape[1])
    penalty = np.eye(a.shape[1]) / c
    penalty[-1, -1] = 0.0  # the intercept is not penalised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -50, 50)))
        grad = a.T @ (p - y) + penalty @ w
        hess = (a * (p * (1 - p))[:, None]).T @ a + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w[:-1], float(w[-1])


def choose_threshold(support: np.ndarray, answerable: np.ndarray, limit: float = MAX_FALSE_ABSTENTION) -> float:
    """The highest threshold whose false abstention on answerable questions stays within `limit`."""
    candidates = np.unique(np.round(np.concatenate([support, [0.0]]), 6))
    best = 0.0
    pos = support[answerable]
    for t in candidates:
        if pos.size == 0 or float(np.mean(pos < t)) <= limit:
            best = max(best, float(t))
    return best


def fit_abstention(signals: Sequence[dict[str, float]], answerable: Sequence[bool]) -> tuple[dict[str, float], float, float]:
    """Logistic weights, bias and threshold from each training question's signals."""
    x = np.array([[float(s.get(n, 0.0)) for n in SIGNALS] for s in signals])
    y = np.array(answerable, dtype=float)
    if len(set(y.tolist())) < 2:
        # One class only: nothing separates; answer everything if all were answerable, else abstain.
        return {n: 0.0 for n in SIGNALS}, 0.0, 0.0 if y.all() else 1.0
    w, b = fit_logistic(x, y)
    support = 1.0 / (1.0 + np.exp(-np.clip(x @ w + b, -50, 50)))
    threshold = choose_threshold(support, y.astype(bool))
    return {n: round(float(v), 4) for n, v in zip(SIGNALS, w, strict=True)}, round(b, 4), round(threshold, 4)


def with_abstention(params: Params, signals: Sequence[dict[str, float]], answerable: Sequence[bool]) -> Params:
    weights, bias, threshold = fit_abstention(signals, answerable)
    return replace(params, support=weights, bias=bias, threshold=threshold)
