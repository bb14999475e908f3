"""Benchmark: what checking the data files' sha256 adds to loading an index.

Builds a synthetic ~1,000-passage index with the fast HashEmbedder (and, with
`--dimension 384`, vectors the size the real model writes), then times
`rag.load_index` each way a check could be made, as a ratio to loading with no
check at all: the sampled check of builds before full checksums (size and 64
blocks of each large array), and every file hashed in full on one thread and
on two (loading uses `rag.storage.checksums.WORKERS`). A per-block check made as
a block is first read would load as fast as the sampled one, but a Flat FAISS
search reads every vector, so the first question would still hash the whole
vectors file: its lower bound is the sampled load plus that hash, printed too.
Then times a build after one document changed, and the share of it spent in
sha256. Prints figures; asserts nothing.

    python bench/bench_checksums.py [--passages 1000] [--dimension 64] [--repeat 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import rag
import rag.storage.checksums as checksums
import rag.storage.index_folder
from rag.embed.model import HashEmbedder
from rag.storage.checksums import data_files

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


# mode -> (hash limit, threads) of the check; None: no check
MODES = {"no check": None, "sampled (before)": (checksums.OLD_HASH_LIMIT, 1),
         "full sha256, 1 thread": (checksums.HASH_LIMIT, 1), "full sha256, 2 threads": (checksums.HASH_LIMIT, 2)}


def timed(index_dir: Path, embedder: HashEmbedder, repeat: int) -> dict[str, float]:
    """Median load time per mode; the modes take turns, so drift in the machine's speed hits each alike."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    mismatch = checksums.mismatch
    try:
        for _ in range(repeat):
            for mode, way in MODES.items():
                def check(index_dir: Path, sums: dict, _limit: object = None, way: tuple | None = way) -> str:
                    return "" if way is None else mismatch(index_dir, sums, way[0], workers=way[1])
                checksums.mismatch = check  # type: ignore[assignment]
                start = time.perf_counter()
                rag.load_index(index_dir, embedder=embedder)
                times[mode].append(time.perf_counter() - start)
    finally:
        checksums.mismatch = mismatch
    return {mode: statistics.median(values) for mode, values in times.items()}


def hash_time(path: Path, repeat: int) -> float:
    """Median time to sha256 one file in full."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        checksums._sha256(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check_alone(index_dir: Path, manifest: rag.storage.index_folder.Manifest, repeat: int, limit: int, workers: int) -> float:
    """Median time of one way of checking by itself (what `store.read` adds), free of load-time noise."""
    times = []
    for _ in range(repeat * 3):
        start = time.perf_counter()
        checksums.data_files(index_dir, manifest.files.values())
        checksums.mismatch(index_dir, manifest.checksums, limit, workers=workers)
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
        vectors = index_dir / index.manifest.files["vectors"]
        lazy = medians["sampled (before)"] + hash_time(vectors, args.repeat)
        print(f"{len(index.passages)} passages, {len(files)} data files, {size / 1e6:.1f} MB "
              f"(vectors {vectors.stat().st_size / 1e6:.1f} MB), {args.dimension}-d vectors; load_index, "
              f"median of {args.repeat}, as a ratio to loading with no check:")
        for mode, seconds in [*medians.items(), ("per-block lazy, lower bound", lazy)]:
            print(f"  {mode:28} {seconds / bare:5.2f}x  ({1000 * seconds:7.1f} ms)")
        for mode, way in MODES.items():
            if way is not None:
                alone = check_alone(index_dir, index.manifest, args.repeat, *way)
                print(f"  the check alone, {mode:22} {1000 * alone:7.2f} ms, {alone / bare:.2f}x the unchecked load")
        one_document_changed(seeds, index_dir, embedder, args.repeat)
    return 0


def one_document_changed(seeds: Path, index_dir: Path, embedder: HashEmbedder, repeat: int) -> None:
    """Median time of a build after one document changed, and the share of it spent in sha256 (the earlier
    index checked before its rows are re-used, the new files sealed, the new index read back)."""
    sha256, spent, walls = checksums._sha256, [0.0], []
    lock = threading.Lock()

    def timed_sha256(path: Path) -> str:
        start = time.perf_counter()
        try:
            return sha256(path)
        finally:
            with lock:
                spent[0] += time.perf_counter() - start

    shares = []
    checksums._sha256 = timed_sha256  # type: ignore[assignment]
    try:
        for n in range(max(3, repeat // 3)):
            with open(seeds / "doc000.txt", "a", encoding="utf-8") as handle:
                handle.write(f"\nA new closing paragraph, number {n}, about the harbour archive.\n")
            spent[0] = 0.0
            start = time.perf_counter()
            rag.build_index(seeds, index_dir, embedder=embedder, log=lambda _line: None)
            walls.append(time.perf_counter() - start)
            shares.append(spent[0] / walls[-1])
    finally:
        checksums._sha256 = sha256  # type: ignore[assignment]
    print(f"  one document changed: build {1000 * statistics.median(walls):.0f} ms (median of {len(walls)}), "
          f"sha256 {statistics.median(shares):.2f}x of it (thread time, summed over threads)")


if __name__ == "__main__":
    raise SystemExit(main())
