"""Fit rag/params.json on every development gold set (`make calibrate`).

Builds (or reuses) the index of tests/gold/docs, fits the ranking weights and
the abstention model on all of tests/gold/*.jsonl with the same procedure
`rag eval` uses per held-out document (`rag.heldout.fit_params`), prints
them beside the numbers in use, and writes them to rag/params.json. The
held-out figures of the result come from `make eval`.

    python bench/calibrate.py [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "tests/gold/docs"
CACHE = ROOT / ".rag-cache/dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the fit without writing rag/params.json")
    args = parser.parse_args()

    from rag.gold import load_gold
    from rag.heldout import fit_params, prepare
    from rag.loading import open_index
    from rag.tuning import PARAMS_FILE, shipped

    index = open_index(DOCS, CACHE)
    sets = {f.stem: load_gold(f, index.source_text) for f in sorted((ROOT / "tests/gold").glob("*.jsonl"))}
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
        print(f"written to {PARAMS_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
