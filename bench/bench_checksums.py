"""Benchmark: what checking the data files' sha256 adds to loading an index.

Builds a synthetic ~1,000-passage index with the fast HashEmbedder (and, with
`--dimension 384`, vectors the size the real model writes), then times
`rag.load_index` three ways: with no checksum check at all, with the shipped,
bounded check (see `rag.checksums`), and with every file hashed in full.
Prints figures; asserts nothing.

    python bench/bench_checksums.py [--passages 1000] [--dimension 64] [--repeat 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import rag
import rag.store
from rag import checksums
from rag.checksums import data_files
from rag.embed import HashEmbedder

WORDS = ["harbour", "ship", "grid", "power", "cost", "planner", "terminal", "cargo", "diesel", "berth", "colony",
         "pollen", "flower", "hive", "shade", "opening", "pawn", "king", "queen", "endgame", "patience", "river",
         "bridge", "market", "ledger", "archive", "signal", "orbit", "valley"]


def corpus(folder: Path, passages: int) -> None:
    """Documents of short paragraphs; each paragraph of ~3 sentences becomes one passage."""
    rng = random.Random(1)
    per_doc = 50
    for d in range(max(1, passages // per_doc)):
        paragraphs = [f"Document {d}"]
        for _ in range(per_doc):
            sentences = [" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(3)]
            paragraphs.append(" ".join(sentences))
        (folder / f"doc{d:03}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


MODES = ("no check", "bounded check (shipped)", "every file hashed")


def timed(index_dir: Path, embedder: HashEmbedder, repeat: int) -> dict[str, float]:
    """Median load time per mode; the modes take turns, so drift in the machine's speed hits each alike."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    limit, mismatch = rag.store.HASH_LIMIT, checksums.mismatch
    try:
        for _ in range(repeat):
            for mode in MODES:
                rag.store.HASH_LIMIT = 1 << 62 if mode == "every file hashed" else limit
                checksums.mismatch = (lambda *_args: "") if mode == "no check" else mismatch  # type: ignore[assignment]
                start = time.perf_counter()
                rag.load_index(index_dir, embedder=embedder)
                times[mode].append(time.perf_counter() - start)
    finally:
        rag.store.HASH_LIMIT, checksums.mismatch = limit, mismatch
    return {mode: statistics.median(values) for mode, values in times.items()}


def check_alone(index_dir: Path, manifest: rag.store.Manifest, repeat: int) -> float:
    """Median time of the check by itself (what `store.read` adds), for a figure free of load-time noise."""
    times = []
    for _ in range(repeat * 5):
        start = time.perf_counter()
        checksums.data_files(index_dir, manifest.files.values())
        checksums.mismatch(index_dir, manifest.checksums)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--dimension", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    embedder = HashEmbedder(dimension=args.dimension)
    with tempfile.TemporaryDirectory() as tmp:
        seeds, index_dir = Path(tmp) / "seeds", Path(tmp) / "index"
        seeds.mkdir()
        corpus(seeds, args.passages)
        index = rag.build_index(seeds, index_dir, embedder=embedder, log=lambda _line: None)
        files = data_files(index_dir, index.manifest.files.values())
        size = sum(p.stat().st_size for p in files)
        rag.load_index(index_dir, embedder=embedder)  # warm the page cache and imports
        medians = timed(index_dir, embedder, args.repeat)
        bare = medians["no check"]
        print(f"{len(index.passages)} passages, {len(files)} data files, {size / 1e6:.1f} MB, "
              f"{args.dimension}-d vectors; load_index, median of {args.repeat}:")
        for mode, seconds in medians.items():
            print(f"  {mode:24} {1000 * seconds:6.1f} ms  ({1000 * (seconds - bare):+.1f} ms, "
                  f"{100 * (seconds - bare) / bare:+.1f}%)")
        alone = check_alone(index_dir, index.manifest, args.repeat)
        print(f"  the shipped check alone: {1000 * alone:.2f} ms, {100 * alone / bare:.1f}% of the unchecked load")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
