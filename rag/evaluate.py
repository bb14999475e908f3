"""`rag eval`: run a gold set through the library calls users make, and report.

Prints retrieval metrics (hit@1, hit@5, MRR@10, nDCG@10), answer metrics
(evidence in the first three quotes, token F1, quote exactness, abstention and
false abstention), latency, ablations (dense only, BM25 only, both fusions),
the abstention trade-off, and a table of failures. Every figure carries its n.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .answering import SUPPORT_THRESHOLD, explain
from .errors import InputError
from .gold import GoldQuestion, evidence_hit, load_gold, overlaps
from .index import Index
from .metrics import percentile, retrieval_metrics, token_f1, tradeoff
from .query import check_question

ABLATIONS = ("dense", "bm25", "rrf", "blend", "late")
METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "evidence_in_top3_quotes", "quote_f1", "quote_exactness",
           "abstention", "false_abstention", "latency_p50_ms", "latency_p95_ms")


@dataclass
class Report:
    gold: str
    k: int
    n_answerable: int
    n_unanswerable: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    ablations: dict[str, dict[str, float]] = field(default_factory=dict)
    tradeoff: list[dict[str, float]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)


def evaluate(index: Index, gold: list[GoldQuestion], *, k: int = 5, gold_name: str = "",
             ablations: bool = True, progress: bool = True) -> Report:
    from tqdm import tqdm

    answerable = [q for q in gold if q.answerable]
    report = Report(gold_name, k, len(answerable), len(gold) - len(answerable))
    relevant: dict[str, set[str]] = {}
    ranked: dict[str, dict[str, list[str]]] = {name: {} for name in ABLATIONS}
    latencies: list[float] = []
    for q in tqdm(gold, desc="questions", disable=not progress, file=sys.stderr):
        query = check_question(q.question, k)
        encoded, _ = index.encode_query(query)
        relevant[q.id] = {c.passage.id for c in index.chunks
                          if overlaps(c.passage.citation.source, c.passage.citation.start, c.passage.citation.end, q)}
        for name in ABLATIONS if ablations else (index.fusion,):
            hits = index.search(query, 10, fusion=name, encoded=encoded)
            ranked[name][q.id] = [index.chunks[h.index].passage.id for h in hits]
        started = time.perf_counter()
        result, signals = explain(index, q.question, k=k)
        latencies.append((time.perf_counter() - started) * 1000)
        report.questions.append(_judge(index, q, result, signals, ranked[index.fusion][q.id], relevant[q.id]))

    main = retrieval_metrics({q.id: relevant[q.id] for q in answerable}, ranked[index.fusion])
    report.metrics.update(main)
    rows = report.questions
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    answered = [r for r in ans if not r["abstained"]]
    report.metrics.update({
        "evidence_in_top3_quotes": float(np.mean([r["evidence_in_quotes"] for r in ans])) if ans else None,
        "quote_f1": float(np.mean([r["quote_f1"] for r in answered])) if answered else None,
        "quote_exactness": float(np.mean([r["exact"] for r in rows if r["quotes"]])) if any(r["quotes"] for r in rows) else 1.0,
        "abstention": float(np.mean([r["abstained"] for r in una])) if una else None,
        "false_abstention": float(np.mean([r["abstained"] for r in ans])) if ans else None,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    })
    if ablations:
        for name in ABLATIONS:
            report.ablations[name] = retrieval_metrics({q.id: relevant[q.id] for q in answerable}, ranked[name])
    support_a = [r["support"] for r in ans]
    support_u = [r["support"] for r in una]
    thresholds = sorted({round(float(t), 2) for t in np.arange(0.20, 0.96, 0.025)} | {SUPPORT_THRESHOLD})
    report.tradeoff = tradeoff(support_a, support_u, thresholds)
    report.failures = [r for r in rows if r["failure"]]
    return report


def _judge(index: Index, q: GoldQuestion, result: Any, signals: Any, ranked: list[str], relevant: set[str]) -> dict[str, Any]:
    quotes = result.quotes[:3]
    covered: set[int] = set()
    for quote in quotes:
        c = quote.citation
        covered |= evidence_hit(c.source, c.start, c.end, q)
    gold_texts = q.texts(index.text_of)
    first_relevant = next((n for n, pid in enumerate(ranked, start=1) if pid in relevant), None)
    row: dict[str, Any] = {
        "id": q.id,
        "question": q.question,
        "kind": q.kind,
        "answerable": q.answerable,
        "abstained": result.abstained,
        "support": round(signals.support(), 4),
        "first_relevant_rank": first_relevant,
        "quotes": [quote.text for quote in result.quotes],
        "citations": [quote.citation.label() for quote in result.quotes],
        "evidence": gold_texts,
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


# --- presentation ---------------------------------------------------------


def format_report(report: Report, previous: dict[str, Any] | None = None) -> str:
    m = report.metrics
    prev = (previous or {}).get("metrics", {})
    na, nu = report.n_answerable, report.n_unanswerable

    def line(name: str, n: int, fmt: str = "{:.3f}") -> str:
        value = m.get(name)
        text = "n/a" if value is None or value != value else fmt.format(value)
        delta = ""
        if name in prev and value is not None and prev[name] is not None:
            diff = value - prev[name]
            delta = f"  ({'+' if diff >= 0 else ''}{fmt.format(diff)})"
        return f"  {name:<26}{text:>9}  n={n}{delta}"

    out = [f"Gold set {report.gold}: {na} answerable, {nu} unanswerable; k={report.k}", "", "Retrieval"]
    out += [line(name, na) for name in ("hit@1", "hit@5", "mrr@10", "ndcg@10")]
    out += ["", "Answers"]
    out += [line("evidence_in_top3_quotes", na), line("quote_f1", na - round((m.get("false_abstention") or 0) * na)),
            line("quote_exactness", sum(bool(r["quotes"]) for r in report.questions)),
            line("abstention", nu), line("false_abstention", na)]
    out += ["", "Latency per question (answer)"]
    out += [line("latency_p50_ms", na + nu, "{:.1f}"), line("latency_p95_ms", na + nu, "{:.1f}")]
    if report.ablations:
        out += ["", f"Ablations (retrieval, n={na})", f"  {'':<8}{'hit@1':>8}{'hit@5':>8}{'mrr@10':>8}{'ndcg@10':>9}"]
        for name, scores in report.ablations.items():
            out.append(f"  {name:<8}" + "".join(f"{scores[s]:>8.3f}" for s in ("hit@1", "hit@5", "mrr@10"))
                       + f"{scores['ndcg@10']:>9.3f}")
    out += ["", f"Abstention trade-off (abstain when support < threshold; in use: {SUPPORT_THRESHOLD})",
            f"  {'threshold':>9}{'abstention':>12}{'false abst.':>13}"]
    for row in report.tradeoff:
        mark = "  <- in use" if row["threshold"] == SUPPORT_THRESHOLD else ""
        out.append(f"  {row['threshold']:>9.3f}{row['abstention']:>12.3f}{row['false_abstention']:>13.3f}{mark}")
    out += ["", f"Failures ({len(report.failures)})"]
    for r in report.failures:
        got = r["quotes"][0] if r["quotes"] else "(abstained)"
        out.append(f"  {r['id']} [{r['kind']}] {r['question']}")
        out.append(f"      problem:  {r['failure']}")
        if r["evidence"]:
            out.append(f"      expected: {_short(r['evidence'][0])}")
        out.append(f"      got:      {_short(got)}")
    return "\n".join(out)


def _value(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def save_chart(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.tradeoff
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    xs = [r["threshold"] for r in rows]
    ax.plot(xs, [r["abstention"] for r in rows], marker="o", label=f"abstained, unanswerable (n={report.n_unanswerable})")
    ax.plot(xs, [r["false_abstention"] for r in rows], marker="s", label=f"abstained, answerable (n={report.n_answerable})")
    ax.axvline(SUPPORT_THRESHOLD, color="grey", linestyle="--", label=f"threshold in use ({SUPPORT_THRESHOLD})")
    ax.set_xlabel("support threshold (abstain below)")
    ax.set_ylabel("share of questions")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Abstention trade-off on the gold set")
    ax.grid(alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _parse_limits(items: list[str], flag: str) -> dict[str, float]:
    limits = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            limits[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"{flag} {item!r}: write METRIC=VALUE, e.g. {flag} hit@5=0.95.") from None
        if not sep:
            raise InputError(f"{flag} {item!r}: write METRIC=VALUE, e.g. {flag} hit@5=0.95.")
    return limits


def run_cli(args: Any, index: Index) -> int:
    minimums = _parse_limits(args.minimums, "--min")
    maximums = _parse_limits(args.maximums, "--max")
    unknown = sorted((set(minimums) | set(maximums)) - set(METRICS))
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}.")
    gold = load_gold(args.gold, index.source_text)
    previous = None
    if args.compare:
        try:
            previous = json.loads(Path(args.compare).read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"--compare {args.compare}: cannot read a saved run ({err}).") from None
    report = evaluate(index, gold, k=args.k, gold_name=str(args.gold), ablations=args.ablations)
    print(format_report(report, previous))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report.__dict__, indent=2, ensure_ascii=False) + "\n", "utf-8")
    if args.chart:
        save_chart(report, args.chart)
        print(f"\nTrade-off chart saved to {args.chart}")
    short = []
    for name, value in minimums.items():
        got = report.metrics.get(name)
        if got is None or got != got or got < value:
            short.append(f"{name} {_value(got)} < {value}")
    for name, value in maximums.items():
        got = report.metrics.get(name)
        if got is None or got != got or got > value:
            short.append(f"{name} {_value(got)} > {value}")
    if short:
        print("\nBelow the bar: " + "; ".join(short), file=sys.stderr)
        return 1
    return 0
