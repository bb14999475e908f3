"""`make train-checker`: the answer checker's folds and shipped weights from the recorded pairs.

    python -m rag.training.run [--epochs N] [--limit N] [--out DIR]

Reads `rag/training/data/gold_pairs.jsonl` (written by `make checker-pairs`
from the development gold sets) and `mined_pairs.jsonl`, trains one checker
per fold of development documents (each without its fold's documents) and
one on every document, and writes them to `rag/checker/weights/`. Prints
each document's held-out AUC and how often the checker's first choice
holds the evidence, against the pipeline's own order.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.checker.model import SHIPPED, WEIGHTS_DIR
from rag.training.checker import EPOCHS, States, auc, folds, frozen_states, save, score, train
from rag.training.pairs import Pair, mined_pairs, read_pairs

DATA = Path(__file__).with_name("data")
GOLD_PAIRS = DATA / "gold_pairs.jsonl"


def first_choice(pairs: Sequence[Pair], rows: Sequence[int], scores: np.ndarray) -> tuple[float, float, int]:
    """Over answerable questions in `rows`: share whose best-scored pair is a positive, under the checker
    and under the pairs' own order (the pipeline's), and how many questions."""
    by_q: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r, s in zip(rows, scores, strict=True):
        by_q.setdefault((pairs[r].doc, pairs[r].question), []).append((r, float(s)))
    checker = pipeline = n = 0
    for items in by_q.values():
        if not any(pairs[r].label for r, _ in items):
            continue
        n += 1
        checker += pairs[max(items, key=lambda x: x[1])[0]].label
        pipeline += pairs[items[0][0]].label
    return (checker / n if n else float("nan")), (pipeline / n if n else float("nan")), n


def _first(pairs: list[Pair], n: int) -> list[Pair]:
    counts: dict[str, int] = {}
    kept = []
    for p in pairs:
        counts[p.doc] = counts.get(p.doc, 0) + 1
        if counts[p.doc] <= n:
            kept.append(p)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.training.run", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--per-document", type=int, default=0,
                        help="train on each document's first N pairs only (a quick check of the whole procedure)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--folds-only", action="store_true", help="skip the checker trained on every document")
    parser.add_argument("--cache", type=Path, default=Path(".rag-cache/checker"))
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    gold = read_pairs(GOLD_PAIRS)
    mined = mined_pairs()
    pairs = gold + mined
    if args.per_document:
        gold, mined = (_first(part, args.per_document) for part in (gold, mined))
        pairs = gold + mined
    say(f"{len(gold)} gold pairs, {len(mined)} mined pairs from {len({p.doc for p in mined})} documents")
    # Each part run once through the frozen layers and remembered on its own: new mined pairs leave the
    # gold pairs' states as they are.
    parts = [part for part in (pairs[: len(gold)], pairs[len(gold):]) if part]
    done = [frozen_states(part, cache=args.cache, progress=say) for part in parts]
    states = States([h for d in done for h in d.hidden], np.concatenate([d.labels for d in done]))
    gold_docs = sorted({p.doc for p in pairs if p.doc in {g.doc for g in gold}})
    all_docs = sorted({p.doc for p in pairs})
    labels = states.labels
    rows_table = []
    for n, held in enumerate(folds(gold_docs), start=1):
        train_rows = [i for i, p in enumerate(pairs) if p.doc not in held]
        say(f"fold {n}: without {', '.join(held)} ({len(train_rows)} pairs)")
        top = train(states, train_rows, epochs=args.epochs, progress=say)
        figures = {}
        for doc in held:
            rows = [i for i, p in enumerate(pairs) if p.doc == doc]
            s = score(top, states, rows)
            ours, order, count = first_choice(pairs, rows, s)
            figures[doc] = {"auc": round(auc(s, labels[rows]), 4), "first_checker": round(ours, 4),
                            "first_pipeline": round(order, 4), "questions": count}
            rows_table.append((doc, figures[doc]))
            say(f"  {doc}: AUC {figures[doc]['auc']:.3f}, first choice {ours:.3f} (pipeline {order:.3f}, {count} q)")
        save(top, args.out / f"fold-{n}.npz", trained_on=[d for d in all_docs if d not in held], pairs=len(train_rows),
             figures=figures)
    if rows_table:
        mean = {k: float(np.mean([f[k] for _, f in rows_table])) for k in ("auc", "first_checker", "first_pipeline")}
        say(f"held out, mean over documents: AUC {mean['auc']:.3f}, first choice {mean['first_checker']:.3f} "
            f"(pipeline {mean['first_pipeline']:.3f})")
    if not args.folds_only:
        say("every document")
        top = train(states, list(range(len(pairs))), epochs=args.epochs, progress=say)
        target = args.out / SHIPPED.name
        save(top, target, trained_on=all_docs, pairs=len(pairs), figures=dict(rows_table))
        say(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
