"""`rag eval`: run gold sets through the library calls users make, and score them.

Each gold file is one document's set. Every set is scored on its own (hit@1,
hit@5, MRR@10, nDCG@10, evidence in the first quote and in the first three,
token F1, quote exactness, abstention and false abstention) and the sets are
averaged. With several sets, `held_out` scores each with parameters fitted
on the others (leave-one-document-out, `rag.eval.heldout`), so no figure is
scored with numbers fitted on its own questions. Ablations rank by each
signal alone and by the naive baseline (`rag.eval.baseline`).

Presentation is in `rag.eval.report`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rag.answers.index import Index
from rag.answers.pipeline import explain
from rag.eval.baseline import NaiveRanker
from rag.eval.gold import GoldQuestion, evidence_hit, overlaps
from rag.eval.heldout import Prepared, fit_params, prepare
from rag.eval.metrics import percentile, retrieval_metrics, token_f1, tradeoff
from rag.search.query import check_question
from rag.search.ranking import rank
from rag.search.tuning import Params, shipped

ABLATIONS = ("naive", "dense", "bm25", "rrf", "late", "fused")
METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "evidence_in_first_quote", "evidence_in_top3_quotes", "quote_f1",
           "quote_exactness", "abstention", "false_abstention", "latency_p50_ms", "latency_p95_ms",
           "min_mrr@10", "min_naive_margin")


@dataclass
class SetReport:
    """One document's gold set, scored."""

    name: str
    n_answerable: int
    n_unanswerable: int
    params: dict[str, Any]
    metrics: dict[str, float | None] = field(default_factory=dict)
    ablations: dict[str, dict[str, float]] = field(default_factory=dict)
    questions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    gold: str
    k: int
    held_out: bool
    n_answerable: int = 0
    n_unanswerable: int = 0
    metrics: dict[str, float | None] = field(default_factory=dict)  # averaged over sets
    ablations: dict[str, dict[str, float]] = field(default_factory=dict)
    sets: list[SetReport] = field(default_factory=list)
    tradeoff: list[dict[str, float]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


def evaluate(index: Index, sets: dict[str, list[GoldQuestion]], *, k: int = 5, gold_name: str = "",
             held_out: bool = True, ablations: bool = True, progress: bool = True,
             params: Params | None = None) -> Report:
    """Score every gold set; with `held_out` and two or more sets, each under parameters fitted without it."""
    from tqdm import tqdm

    base = params or shipped()
    loo = held_out and len(sets) > 1
    report = Report(gold_name, k, loo)
    prepared = prepare(index, sets, progress=progress)
    naive = NaiveRanker({s: index.text_of(s) for s in index.sources}, index.embedder) if ablations else None
    for name in tqdm(list(sets), desc="documents", disable=not progress, file=sys.stderr):
        used = fit_params(index, prepared, [n for n in sets if n != name], base, k=k) if loo else base
        report.sets.append(_score_set(index, prepared, name, used, k, naive))
    _aggregate(report)
    return report


def _score_set(index: Index, prepared: Prepared, name: str, params: Params, k: int,
               naive: NaiveRanker | None) -> SetReport:
    gold = prepared.sets[name]
    answerable = [q for q in gold if q.answerable]
    out = SetReport(name, len(answerable), len(gold) - len(answerable), asdict(params))
    relevant: dict[str, set[str]] = {}
    ranked: dict[str, dict[str, list[str]]] = {a: {} for a in ABLATIONS}
    latencies: list[float] = []
    for q in gold:
        query = check_question(q.question, k)
        encoded = prepared.encoded[(name, q.id)]
        evidence = dict.fromkeys(s.source for spans in q.evidence for s in spans)  # only their passages can overlap
        relevant[q.id] = {p.id for source in evidence for p in index.passages_of(source)
                          if overlaps(p.citation.source, p.citation.start, p.citation.end, q)}
        found = index.candidates(query, 10, encoded=encoded[0])
        for fusion in ABLATIONS[1:] if naive is not None else ("fused",):
            weights = params.rank if fusion == "fused" else None
            hits = rank(found, k=10, fusion=fusion, weights=weights)
            ranked[fusion][q.id] = [index.chunks[h.index].passage.id for h in hits]
        if naive is not None:
            pieces = [naive.pieces[i] for i in naive.rank(encoded[0].vector)]
            ranked["naive"][q.id] = [f"{p.source}@{p.start}" for p in pieces]
            relevant[f"naive:{q.id}"] = {f"{p.source}@{p.start}" for p in naive.pieces if overlaps(p.source, p.start, p.end, q)}
        started = time.perf_counter()
        result, signals = explain(index, q.question, k=k, params=params, encoded=encoded,
                                  checker=prepared.checkers.get(name))
        latencies.append((time.perf_counter() - started) * 1000)
        out.questions.append(_judge(index, q, result, params.support_of(signals.values()), params.threshold,
                                    ranked["fused"][q.id], relevant[q.id]))
    out.metrics.update(retrieval_metrics({q.id: relevant[q.id] for q in answerable}, ranked["fused"]))
    rows = out.questions
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    answered = [r for r in ans if not r["abstained"]]
    with_quotes = [r for r in rows if r["quotes"]]
    out.metrics.update({
        "evidence_in_first_quote": _mean([r["evidence_in_first_quote"] for r in ans]),
        "evidence_in_top3_quotes": _mean([r["evidence_in_quotes"] for r in ans]),
        "quote_f1": _mean([r["quote_f1"] for r in answered]),
        "quote_exactness": _mean([r["exact"] for r in with_quotes]) if with_quotes else 1.0,
        "abstention": _mean([r["abstained"] for r in una]),
        "false_abstention": _mean([r["abstained"] for r in ans]),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    })
    if naive is not None:
        for fusion in ABLATIONS:
            rel = {q.id: relevant[f"naive:{q.id}"] if fusion == "naive" else relevant[q.id] for q in answerable}
            out.ablations[fusion] = retrieval_metrics(rel, ranked[fusion])
    return out


def _mean(values: list[Any]) -> float | None:
    return float(np.mean(values)) if values else None


def _aggregate(report: Report) -> None:
    sets = report.sets
    report.n_answerable = sum(s.n_answerable for s in sets)
    report.n_unanswerable = sum(s.n_unanswerable for s in sets)
    for name in METRICS:
        values = [float(v) for s in sets if (v := s.metrics.get(name)) is not None and v == v]  # no NaN
        report.metrics[name] = float(np.mean(values)) if values else None
    mrrs = [s.metrics["mrr@10"] for s in sets if s.metrics.get("mrr@10") == s.metrics.get("mrr@10")]
    report.metrics["min_mrr@10"] = min(mrrs) if mrrs else None  # type: ignore[type-var]
    if all(s.ablations for s in sets) and sets:
        for name in ABLATIONS:
            report.ablations[name] = {m: float(np.nanmean([s.ablations[name][m] for s in sets]))
                                      for m in sets[0].ablations[name]}
        margins = [m for s in sets if (m := s.metrics["mrr@10"] - s.ablations["naive"]["mrr@10"]) == m]  # type: ignore[operator]
        report.metrics["min_naive_margin"] = min(margins) if margins else None
    rows = [r for s in sets for r in s.questions]
    support_a = [r["support"] - r["threshold"] for r in rows if r["answerable"]]
    support_u = [r["support"] - r["threshold"] for r in rows if not r["answerable"]]
    offsets = sorted({round(float(t), 3) for t in np.arange(-0.4, 0.41, 0.05)} | {0.0})
    report.tradeoff = tradeoff(support_a, support_u, offsets)
    report.failures = [dict(r, set=s.name) for s in sets for r in s.questions if r["failure"]]


def _judge(index: Index, q: GoldQuestion, result: Any, support: float, threshold: float, ranked: list[str],
           relevant: set[str]) -> dict[str, Any]:
    quotes = result.quotes[:3]
    covered: set[int] = set()
    first: set[int] = set()
    for n, quote in enumerate(quotes):
        c = quote.citation
        hit = evidence_hit(c.source, c.start, c.end, q)
        covered |= hit
        if n == 0:
            first = hit
    gold_texts = q.texts(index.text_of)
    first_relevant = next((n for n, pid in enumerate(ranked, start=1) if pid in relevant), None)
    row: dict[str, Any] = {
        "id": q.id,
        "question": q.question,
        "kind": q.kind,
        "answerable": q.answerable,
        "abstained": result.abstained,
        "support": round(support, 4),
        "threshold": threshold,
        "first_relevant_rank": first_relevant,
        "quotes": [quote.text for quote in result.quotes],
        "citations": [quote.citation.label() for quote in result.quotes],
        "evidence": gold_texts,
        "evidence_in_first_quote": bool(first),
        "evidence_in_quotes": bool(covered),
        "quote_f1": token_f1(" ".join(quote.text for quote in quotes), " ".join(gold_texts)) if q.answerable else 0.0,
        "exact": all(index.verify(quote.citation, quote.text) for quote in result.quotes),
    }
    if q.answerable:
        problems = []
        if first_relevant is None or first_relevant > 5:
            problems.append("evidence not retrieved in top 5" if first_relevant is None or first_relevant > 10
                            else f"evidence retrieved only at rank {first_relevant}")
        if result.abstained:
            problems.append("abstained")
        elif not covered:
            problems.append("quotes miss the evidence")
        row["failure"] = "; ".join(problems)
    else:
        row["failure"] = "" if result.abstained else "answered an unanswerable question"
    if not row["exact"]:
        row["failure"] = (row["failure"] + "; quote not exact").strip("; ")
    return row
