"""Store benchmark: the same index as a folder (FAISS + bm25s) and in Milvus (milvus-lite), query latency.

A model-free build (`hash-embedder:384`, the real model's width) of the
development documents repeated with shuffled words, ~10k passages, is
uploaded to a milvus-lite file; the development gold questions are then
answered from both stores, alternating, and the Milvus figures are printed
as ratios to the folder's (FAISS) from the same run. Also the upload time and
the size on disk of each. Asserts nothing.

Run: `python bench/bench_stores.py [--passages N] [--questions N]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

MODEL = "hash-embedder:384"


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def questions(limit: int) -> list[str]:
    asked = []
    for gold in sorted((ROOT / "tests" / "gold").glob("*.jsonl")):
        asked += [json.loads(line)["question"] for line in gold.read_text("utf-8").splitlines() if line.strip()]
    return asked[:: max(1, len(asked) // limit)][:limit]


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()

    from corpus import synthetic_corpus

    import rag
    from rag.search.query import check_question
    from rag.stores.milvus_build import upload

    with tempfile.TemporaryDirectory(prefix="bench-stores-") as tmp:
        root = Path(tmp)
        synthetic_corpus(root / "seeds", args.passages, ROOT / "tests" / "gold" / "docs")
        started = time.perf_counter()
        folder = rag.build_index(root / "seeds", root / "index", model=MODEL, log=lambda _line: None)
        built = time.perf_counter() - started
        uri = f"milvus-lite:{root}/store.db/bench"
        started = time.perf_counter()
        upload(folder.store, uri, log=lambda _line: None)  # type: ignore[arg-type]
        uploaded = time.perf_counter() - started
        started = time.perf_counter()
        milvus = rag.open_store(uri, embedder=folder.embedder)
        opened = time.perf_counter() - started
        n = len(folder.chunks)
        print(f"{n:,} passages: folder build {built:.1f} s, {size_mb(root / 'index'):.0f} MB; "
              f"upload to milvus-lite {uploaded:.1f} s ({n / uploaded:.0f} passages/s), "
              f"open {opened * 1000:.0f} ms")
        asked = questions(args.questions)
        for q in asked[:3]:  # warm both
            folder.answer(q)
            milvus.answer(q)
        timings: dict[str, dict[str, list[float]]] = {"folder": {"candidates": [], "answer": []},
                                                      "milvus": {"candidates": [], "answer": []}}
        same = words = 0
        for q in asked:
            query = check_question(q, 5)
            results = {}
            for name, index in (("folder", folder), ("milvus", milvus)):
                encoded, _ = index.encode_query(query)
                t = time.perf_counter()
                index.candidates(query, 5, encoded=encoded)
                timings[name]["candidates"].append(time.perf_counter() - t)
                t = time.perf_counter()
                results[name] = index.answer(q)
                timings[name]["answer"].append(time.perf_counter() - t)
            same += results["folder"] == results["milvus"]
            words += [q.text for q in results["folder"].quotes] == [q.text for q in results["milvus"].quotes]
        # The synthetic copies share their words, so ties between copies are broken by each store its own way.
        print(f"{len(asked)} questions: the same answer from both stores for {same}, the same quoted words "
              f"(perhaps from another copy) for {words}")
        print(f"{'':24}{'folder p50':>12}{'p95':>8}{'milvus p50':>12}{'p95':>8}{'ratio p50':>11}{'p95':>7}")
        for stage in ("candidates", "answer"):
            f, m = timings["folder"][stage], timings["milvus"][stage]
            print(f"{stage:24}{percentile(f, 0.5):10.1f}ms{percentile(f, 0.95):6.1f}ms"
                  f"{percentile(m, 0.5):10.1f}ms{percentile(m, 0.95):6.1f}ms"
                  f"{percentile(m, 0.5) / percentile(f, 0.5):10.1f}x{percentile(m, 0.95) / percentile(f, 0.95):6.1f}x")
        print(f"mean answer: folder {statistics.mean(timings['folder']['answer']) * 1000:.1f} ms, "
              f"milvus {statistics.mean(timings['milvus']['answer']) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
