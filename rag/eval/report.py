"""How `rag eval` prints, saves and gates a report.

A table with a row per gold set and the mean over sets, the ablations, the
abstention trade-off and the failures; `--json` saves the whole report,
`--chart` the trade-off, and `--min`/`--max` turn it into a gate.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.eval.evaluate import METRICS, Report, evaluate
from rag.eval.gold import load_gold

COLUMNS = (("mrr@10", "MRR@10"), ("naive", "naive"), ("hit@5", "hit@5"), ("evidence_in_first_quote", "1st quote"),
           ("evidence_in_top3_quotes", "top-3 quotes"), ("abstention", "abstain"), ("false_abstention", "false abst."))


def _cell(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _row(label: str, n: str, metrics: dict[str, Any], naive: float | None) -> str:
    cells = [_cell(naive if key == "naive" else metrics.get(key)) for key, _ in COLUMNS]
    return f"  {label:<30}{n:>8}" + "".join(f"{c:>13}" for c in cells)


def format_report(report: Report, previous: dict[str, Any] | None = None) -> str:
    m = report.metrics
    how = ("held out: each set scored with parameters fitted on the other sets (leave-one-document-out)"
           if report.held_out else "parameters as shipped (rag/search/params.json)")
    out = [f"Gold {report.gold}: {len(report.sets)} set(s), {report.n_answerable} answerable, "
           f"{report.n_unanswerable} unanswerable; k={report.k}", f"Scoring: {how}", ""]
    out.append(f"  {'set':<30}{'n (a/u)':>8}" + "".join(f"{title:>13}" for _, title in COLUMNS))
    for s in report.sets:
        naive = s.ablations.get("naive", {}).get("mrr@10")
        out.append(_row(s.name, f"{s.n_answerable}/{s.n_unanswerable}", s.metrics, naive))
    naive_mean = report.ablations.get("naive", {}).get("mrr@10")
    out.append(_row("mean over sets", f"{report.n_answerable}/{report.n_unanswerable}", m, naive_mean))
    prev = (previous or {}).get("metrics", {})
    out += ["", "Mean over sets"]
    for name in METRICS:
        value = m.get(name)
        delta = ""
        if prev.get(name) is not None and value is not None:
            delta = f"  ({value - prev[name]:+.3f})"
        out.append(f"  {name:<26}{_cell(value):>9}{delta}")
    if report.ablations:
        out += ["", "Ablations (retrieval, mean over sets)", f"  {'':<8}{'hit@1':>8}{'hit@5':>8}{'mrr@10':>8}{'ndcg@10':>9}"]
        for name, scores in report.ablations.items():
            out.append(f"  {name:<8}" + "".join(f"{scores[s]:>8.3f}" for s in ("hit@1", "hit@5", "mrr@10"))
                       + f"{scores['ndcg@10']:>9.3f}")
    out += ["", "Abstention trade-off (threshold moved from the one in use by the offset)",
            f"  {'offset':>9}{'abstention':>12}{'false abst.':>13}"]
    for row in report.tradeoff:
        mark = "  <- in use" if row["threshold"] == 0 else ""
        out.append(f"  {row['threshold']:>+9.2f}{row['abstention']:>12.3f}{row['false_abstention']:>13.3f}{mark}")
    out += ["", f"Failures ({len(report.failures)})"]
    for r in report.failures:
        got = r["quotes"][0] if r["quotes"] else "(abstained)"
        out.append(f"  {r['set']}/{r['id']} [{r['kind']}] {r['question']}")
        out.append(f"      problem:  {r['failure']}")
        if r["evidence"]:
            out.append(f"      expected: {_short(r['evidence'][0])}")
        out.append(f"      got:      {_short(got)}")
    return "\n".join(out)


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
    ax.axvline(0.0, color="grey", linestyle="--", label="threshold in use")
    ax.set_xlabel("offset from the support threshold in use (abstain below)")
    ax.set_ylabel("share of questions")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Abstention trade-off" + (" (held out by document)" if report.held_out else ""))
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


def gold_files(paths: list[Path]) -> list[Path]:
    """The gold files named, a folder standing for every .jsonl file in it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise InputError(f"{path} holds no .jsonl gold sets; pass gold files or a folder of them.")
            files += found
        else:
            files.append(path)
    return files


def run_cli(args: Any, index: Any) -> int:
    minimums = _parse_limits(args.minimums, "--min")
    maximums = _parse_limits(args.maximums, "--max")
    unknown = sorted((set(minimums) | set(maximums)) - set(METRICS))
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}.")
    files = gold_files(args.gold)
    sets = {f.stem: load_gold(f, index.source_text) for f in files}
    previous = None
    if args.compare:
        try:
            previous = json.loads(Path(args.compare).read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"--compare {args.compare}: cannot read a saved run ({err}).") from None
    name = str(files[0]) if len(files) == 1 else f"{len(files)} files"
    report = evaluate(index, sets, k=args.k, gold_name=name, ablations=args.ablations, held_out=not args.shipped)
    print(format_report(report, previous))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n", "utf-8")
    if args.chart:
        save_chart(report, args.chart)
        print(f"\nTrade-off chart saved to {args.chart}")
    short = []
    for metric, value in minimums.items():
        got = report.metrics.get(metric)
        if got is None or got != got or got < value:
            short.append(f"{metric} {_cell(got)} < {value}")
    for metric, value in maximums.items():
        got = report.metrics.get(metric)
        if got is None or got != got or got > value:
            short.append(f"{metric} {_cell(got)} > {value}")
    if short:
        print("\nBelow the bar: " + "; ".join(short), file=sys.stderr)
        return 1
    return 0
