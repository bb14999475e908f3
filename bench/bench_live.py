"""Benchmark: what keeping an index current costs, on the question's path and in the watcher.

Writes a synthetic seeds folder of FILES small text files (default 2,000),
indexes it with the fast HashEmbedder, then times:

- reaching the default index from a question (`rag.service.default.default_index()`,
  what `rag.answer` does before answering), which must not grow with the
  number of files;
- one look of the watcher (`rag.service.watch.seeds_signature`: a stat per file) and
  one full content sweep (`rag.service.watch.HashSweep`, sha256 of every file), which
  run in the watcher thread every `poll_seconds`;
- `Index.verify` of a quote, which re-reads its file at every check, for the
  small files and for one 5 MB file.

Prints figures (median of REPEAT runs); asserts nothing.

    python bench/bench_live.py [--files 2000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WORDS = ["harbour", "ship", "grid", "power", "cost", "planner", "terminal", "cargo", "diesel", "berth", "colony",
         "pollen", "flower", "hive", "shade", "opening", "pawn", "king", "queen", "endgame", "patience", "river"]


def write_corpus(folder: Path, files: int) -> None:
    rng = random.Random(1)
    folder.mkdir(parents=True)
    for n in range(files):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(10)).capitalize() + "." for _ in range(3)]
        (folder / f"note-{n:05d}.txt").write_text(f"Note {n}\n\n{' '.join(sentences)}\n", "utf-8")


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)

    import rag
    import rag.service.default as default
    from rag.embed.model import HashEmbedder
    from rag.service.watch import HashSweep, seeds_signature

    with tempfile.TemporaryDirectory() as tmp:
        seeds, index_dir = Path(tmp) / "seeds", Path(tmp) / "index"
        write_corpus(seeds, args.files)
        big = "Ledger\n\n" + "The archive keeps every ledger of the river market in order. " * 80_000
        (seeds / "ledger.txt").write_text(big, "utf-8")
        index = rag.build_index(seeds, index_dir, embedder=HashEmbedder(), log=lambda _line: None)
        files = len(list(seeds.iterdir()))
        size = sum(p.stat().st_size for p in seeds.iterdir())
        print(f"{files} files, {size / 1e6:.1f} MB, {len(index.passages)} passages")

        os.environ["RAG_SEEDS"], os.environ["RAG_INDEX"] = str(seeds), str(index_dir)
        default.default_index()  # the first use loads the index
        per_question = median_ms(default.default_index, args.repeat * 20)
        print(f"question path: reaching the default index {per_question:.4f} ms")

        look = median_ms(lambda: seeds_signature(seeds), args.repeat)
        print(f"watcher: stat signature {look:.1f} ms per look ({look / files * 1000:.1f} us per file)")

        def full_sweep() -> None:
            sweep = HashSweep(seeds, index.manifest.sources, budget=1 << 40)
            sweep.step()

        sweep_ms = median_ms(full_sweep, max(3, args.repeat // 3))
        print(f"watcher: content sweep of every file {sweep_ms:.1f} ms ({sweep_ms / files * 1000:.1f} us per file)")

        small = next(p for p in index.passages if p.citation.source != "ledger.txt")
        large = next(p for p in index.passages if p.citation.source == "ledger.txt")
        print(f"verify a quote: small file {median_ms(lambda: index.verify(small.citation, small.text), args.repeat * 10):.3f} ms, "
              f"{(seeds / 'ledger.txt').stat().st_size / 1e6:.1f} MB file "
              f"{median_ms(lambda: index.verify(large.citation, large.text), args.repeat):.2f} ms")
        default.default_live().close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
