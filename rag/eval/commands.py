"""The evaluators' and maintainers' subcommands: `rag eval`, `rag followups` and `rag calibrate`.

Registers their options on the `rag` parser and runs them. The scoring
itself lives in `rag.eval.evaluate`, `rag.eval.report`, `rag.eval.conversations` and
`rag.eval.heldout`; this module only wires arguments to them. It does not import
the evaluation extra (ranx, matplotlib) until a command needs it, and says
how to install it when it is missing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import InputError

EXTRA = "pip install 'rag[eval]'"  # ranx for the IR metrics, matplotlib for the trade-off chart


def add_commands(sub: Any, index: Path, index_option: Callable[[Any, Path], None],
                 opener: Callable[[argparse.Namespace], Any]) -> None:
    """Add `eval`, `followups` and `calibrate` to the `rag` subparsers `sub`.

    `index_option` adds the shared --index/--store options; `opener` opens the
    index those options name (the CLI's own rule, so `rag eval` reads the same
    index as `rag ask`).
    """
    p = sub.add_parser("eval", help="run gold-question sets and print retrieval and answer metrics")
    p.add_argument("gold", type=Path, nargs="+", help="gold sets (JSONL, one per document; format in README), "
                   "or folders of them")
    index_option(p, index)
    p.add_argument("--seeds", type=Path, default=None, help="documents folder: build (or reuse) an index of it "
                   "in --index (default: .rag-cache/NAME)")
    p.add_argument("-k", type=int, default=5, help="passages per question (default: 5)")
    p.add_argument("--json", dest="json_out", type=Path, help="write the full results to this JSON file")
    p.add_argument("--min", dest="minimums", action="append", default=[], metavar="METRIC=VALUE",
                   help="exit 1 if METRIC is below VALUE (repeatable), e.g. --min hit@5=0.95")
    p.add_argument("--max", dest="maximums", action="append", default=[], metavar="METRIC=VALUE",
                   help="exit 1 if METRIC is above VALUE (repeatable), e.g. --max false_abstention=0.04")
    p.add_argument("--compare", type=Path, help="show deltas against a saved --json run")
    p.add_argument("--ablations", action="store_true",
                   help="also rank by the naive baseline, dense only, BM25 only, RRF and late interaction")
    p.add_argument("--shipped", action="store_true", help="score every set with the shipped rag/search/params.json "
                   "instead of fitting without each document (for documents the parameters never saw)")
    p.add_argument("--chart", type=Path, help="save the abstention trade-off chart (PNG) here")
    p.set_defaults(func=lambda args: cmd_eval(args, opener))

    p = sub.add_parser("followups", help="score follow-up conversations answered with their history and alone")
    p.add_argument("gold", type=Path, help="conversation gold set (JSONL with a history field)")
    p.add_argument("--seeds", type=Path, required=True, help="the documents folder")
    p.add_argument("--index", required=True, help="index folder (built or reused)")
    p.add_argument("-k", type=int, default=5, help="passages per question (default: 5)")
    p.set_defaults(func=cmd_followups)

    p = sub.add_parser("calibrate", help="refit rag/search/params.json on every development gold set")
    p.add_argument("--gold", type=Path, default=Path("tests/gold"), help="folder of gold sets (default: tests/gold)")
    p.add_argument("--seeds", type=Path, default=None, help="their documents (default: GOLD/docs)")
    p.add_argument("--index", default=".rag-cache/dev",
                   help="index folder, built or reused (default: .rag-cache/dev)")
    p.add_argument("--dry-run", action="store_true", help="print the fit without writing rag/search/params.json")
    p.set_defaults(func=cmd_calibrate)


def _need_extra() -> None:
    """Raise a one-line error naming the extra when ranx is not installed."""
    try:
        import ranx  # noqa: F401 - only checking that the extra is there
    except ImportError:
        raise InputError(f"evaluation needs the eval extra (ranx, matplotlib): {EXTRA}") from None


def cmd_eval(args: argparse.Namespace, opener: Callable[[argparse.Namespace], Any]) -> int:
    from rag.service.loading import open_index

    _need_extra()
    from rag.eval.report import run_cli

    if args.seeds is not None and not args.store:
        target = args.index or Path(".rag-cache") / args.seeds.resolve().name
        return run_cli(args, open_index(args.seeds, target))
    return run_cli(args, opener(args))


def cmd_followups(args: argparse.Namespace) -> int:
    from rag.eval.conversations import format_report, score
    from rag.service.loading import open_index

    _need_extra()
    print(format_report(score(open_index(args.seeds, args.index), args.gold, k=args.k)))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    _need_extra()
    from rag.eval.gold import load_gold
    from rag.eval.heldout import fit_params, prepare
    from rag.search.tuning import PARAMS_FILE, shipped
    from rag.service.loading import open_index

    files = sorted(args.gold.glob("*.jsonl"))
    if not files:
        raise InputError(f"no gold sets (*.jsonl) in {args.gold}; name the folder with --gold")
    index = open_index(args.seeds or args.gold / "docs", args.index)
    sets = {f.stem: load_gold(f, index.source_text) for f in files}
    before = shipped()
    fitted = fit_params(index, prepare(index, sets, progress=True), list(sets), before)
    print(f"fitted on {len(sets)} sets, {sum(len(q) for q in sets.values())} questions")
    print(f"ranking weights: {fitted.rank}  (in use: {before.rank})")
    print(f"{'signal':<14} {'fitted':>8} {'in use':>8}")
    for name, value in fitted.support.items():
        print(f"{name:<14} {value:8.3f} {before.support.get(name, 0.0):8.3f}")
    print(f"{'bias':<14} {fitted.bias:8.3f} {before.bias:8.3f}")
    print(f"{'threshold':<14} {fitted.threshold:8.3f} {before.threshold:8.3f}")
    if not args.dry_run:
        PARAMS_FILE.write_text(fitted.to_json(), "utf-8")
        print(f"written to {PARAMS_FILE}")
    return 0
