"""BM25 benchmark: `rag.storage.bm25` beside bm25s on the same passages, as ratios measured in the same run.

Passages are the development documents' paragraphs with their words shuffled, as many as asked for
(100,000 by default). For each: building from scratch (tokenising included), re-using 99% of an earlier
index and adding 1% (bm25s can only build again from scratch), saving and loading, one question's scores
(p50 over the gold questions), and the memory a build allocates at its peak (tracemalloc, a run of its
own). Asserts nothing; the scores' equality is tests/storage/test_lexical.py's job.

Run: `python bench/bench_lexical.py [--passages N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rag.storage.bm25 as lexical  # noqa: E402
from rag.ingest.text import tokens  # noqa: E402
from rag.storage.bm25 import EMPTY, LexicalWriter  # noqa: E402

BATCH = 2048  # passages added at once, as a build adds a batch of new documents
DOCUMENT = 100  # passages per re-used document


def passages(n: int) -> list[str]:
    rng = random.Random(7)
    paragraphs = [p.split() for path in sorted((ROOT / "tests/gold/docs").iterdir())
                  for p in path.read_text("utf-8").split("\n\n") if p.strip()]
    out = []
    while len(out) < n:
        words = list(paragraphs[len(out) % len(paragraphs)])
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def questions() -> list[str]:
    return [json.loads(line)["question"] for path in sorted((ROOT / "tests/gold").glob("*.jsonl"))
            for line in path.read_text("utf-8").splitlines() if line.strip()]


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def peak_mb(run: Callable[[], Any]) -> float:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def bm25s_build(texts: list[str], folder: Path) -> Any:
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([tokens(t) or [EMPTY] for t in texts], show_progress=False)
    bm25.save(str(folder))
    return bm25


def bm25s_scores(bm25: Any, question: str) -> np.ndarray:
    query = [t for t in tokens(question) if t in bm25.vocab_dict]
    return bm25.get_scores(query) if query else np.zeros(bm25.scores["num_docs"], np.float32)


def lexical_build(texts: list[str], folder: Path) -> None:
    writer = LexicalWriter()
    for start in range(0, len(texts), BATCH):
        writer.add(texts[start : start + BATCH])
    writer.save(folder)


def lexical_reuse(old: lexical.Lexical, kept: int, new: list[str], folder: Path) -> None:
    writer = LexicalWriter()
    for start in range(0, kept, DOCUMENT):
        writer.reuse(old, start, min(kept, start + DOCUMENT))
    writer.add(new)
    writer.save(folder)


def p50_ms(score: Callable[[str], Any], asked: list[str]) -> float:
    for q in asked[:5]:
        score(q)
    times = []
    for q in asked:
        started = time.perf_counter()
        score(q)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    n = parser.parse_args().passages
    texts, asked = passages(n), questions()
    kept = n - n // 100
    changed = [f"{t} lighthouse keepers" for t in texts[kept:]]
    print(f"== BM25, {n} passages (load average {os.getloadavg()[0]:.2f})")
    for t in texts:  # the word cache warmed for both (rag.ingest.text caches each written word's tokens)
        tokens(t)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        theirs_build, bm25 = timed(lambda: bm25s_build(texts, work / "bm25s"))
        ours_build, _ = timed(lambda: lexical_build(texts, work / "ours"))
        print(f"  build from scratch: bm25s {theirs_build:.2f} s, rag.storage.bm25 {ours_build:.2f} s "
              f"({ours_build / theirs_build:.2f}x)")
        old = lexical.load(work / "ours")
        theirs_change, _ = timed(lambda: bm25s_build(texts[:kept] + changed, work / "bm25s-2"))
        ours_change, _ = timed(lambda: lexical_reuse(old, kept, changed, work / "ours-2"))
        print(f"  re-use {kept} + add {n - kept}: bm25s (builds all again) {theirs_change:.2f} s, "
              f"rag.storage.bm25 {ours_change:.2f} s ({ours_change / theirs_change:.2f}x)")
        import bm25s

        theirs_load, _ = timed(lambda: bm25s.BM25.load(str(work / "bm25s"), show_progress=False))
        ours_load, ours = timed(lambda: lexical.load(work / "ours"))
        print(f"  load: bm25s {theirs_load * 1000:.1f} ms, rag.storage.bm25 (memory-mapped) {ours_load * 1000:.1f} ms "
              f"({ours_load / theirs_load:.2f}x)")
        theirs_q = p50_ms(lambda q: bm25s_scores(bm25, q), asked)
        ours_q = p50_ms(ours.scores, asked)
        print(f"  one question's scores, p50 over {len(asked)}: bm25s {theirs_q:.2f} ms, rag.storage.bm25 {ours_q:.2f} ms "
              f"({ours_q / theirs_q:.2f}x)")
        disk = {name: sum(p.stat().st_size for p in (work / name).iterdir()) / n for name in ("bm25s", "ours")}
        print(f"  disk per passage: bm25s {disk['bm25s']:.0f} B, rag.storage.bm25 {disk['ours']:.0f} B "
              f"(with each passage's token ids and counts, for re-use)")
        bm25 = old = ours = None  # freed before memory is measured
        for name in ("bm25s-2", "ours-2"):
            shutil.rmtree(work / name)
        theirs_mem = peak_mb(lambda: bm25s_build(texts, work / "bm25s-2"))
        ours_mem = peak_mb(lambda: lexical_build(texts, work / "ours-2"))
        old = lexical.load(work / "ours")
        reuse_mem = peak_mb(lambda: lexical_reuse(old, kept, changed, work / "ours-3"))
        print(f"  peak memory allocated while building (tracemalloc): bm25s {theirs_mem:.0f} MB, rag.storage.bm25 "
              f"{ours_mem:.0f} MB ({ours_mem / theirs_mem:.2f}x), re-using 99% {reuse_mem:.0f} MB "
              f"({reuse_mem / theirs_mem:.2f}x)")
    print(f"  load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
