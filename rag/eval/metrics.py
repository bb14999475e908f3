"""Metrics for `rag eval`: IR metrics via ranx, token F1, percentiles, trade-offs.

Retrieval metrics come from ranx (a maintained IR-metrics library) rather
than our own arithmetic; tests check them against hand-computed values.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from rag.ingest.text import words

RETRIEVAL_METRICS = {"hit@1": "hit_rate@1", "hit@5": "hit_rate@5", "mrr@10": "mrr@10", "ndcg@10": "ndcg@10"}


def retrieval_metrics(relevant: dict[str, set[str]], ranked: dict[str, list[str]]) -> dict[str, float]:
    """hit@1, hit@5, MRR@10 and nDCG@10 (binary relevance), averaged over questions.

    `relevant[qid]` is the set of relevant passage ids, `ranked[qid]` the
    retrieved ids best first. Questions with nothing relevant are left out.
    """
    from ranx import Qrels, Run, evaluate

    qids = [q for q in relevant if relevant[q]]
    if not qids:
        return {name: float("nan") for name in RETRIEVAL_METRICS}
    qrels = Qrels({q: {doc: 1 for doc in relevant[q]} for q in qids})
    # Scores by rank keep our order exactly (ranx sorts by score).
    run = Run({q: ({doc: 1.0 / (n + 1) for n, doc in enumerate(ranked.get(q, []))} or {"\u2205": 0.0}) for q in qids})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = evaluate(qrels, run, list(RETRIEVAL_METRICS.values()), make_comparable=True)
    return {name: float(scores[metric]) for name, metric in RETRIEVAL_METRICS.items()}


def token_f1(predicted: str, gold: str) -> float:
    """SQuAD-style token F1 between two texts (lower-cased words)."""
    p, g = Counter(words(predicted)), Counter(words(gold))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision = common / sum(p.values())
    recall = common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def tradeoff(answerable: list[float], unanswerable: list[float], thresholds: list[float]) -> list[dict[str, float]]:
    """For each threshold on a support score (abstain when below it): the two error rates.

    Returns rows of threshold, abstention (share of unanswerable questions
    abstained, higher is better) and false_abstention (share of answerable
    questions abstained, lower is better).
    """
    rows = []
    for t in thresholds:
        rows.append({
            "threshold": round(float(t), 4),
            "abstention": float(np.mean([s < t for s in unanswerable])) if unanswerable else float("nan"),
            "false_abstention": float(np.mean([s < t for s in answerable])) if answerable else float("nan"),
        })
    return rows
