"""Scale benchmark: build rate and peak memory, disk per passage by file kind, load time, query latency.

Prints figures and ratios to floors measured in the same run; asserts nothing.
- real text (README and other documentation under /usr/share/doc) with the
  real model: build rate and the build's peak RSS beyond the loaded model;
- a model-free build (`hash-embedder:384`, the real model's width) of the
  development documents repeated with shuffled words: build, disk, cold load,
  and query latency beside bare question encoding;
- changing one document of each model-free corpus and building again: only it is embedded;
- ingestion time against document size (pull quotes and every other rule).

Each build runs in its own process so its peak RSS is its own.

Run: `python bench/bench_scale.py [--real N] [--synthetic N ...]` (`make bench` runs it with the defaults,
1k real-model and 1k and 10k model-free passages; `--synthetic 100000 1000000` for the large sizes; `--keep DIR`
builds in DIR and leaves the corpora and indexes there, e.g. to profile loading a 1M-passage index again).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
import rag
from rag.embed.runtime import load_embedder
seeds, target, model = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
embedder = load_embedder(model)
embedder.encode_query("warm up")
floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
index = rag.build_index(seeds, target, model=model, log=lambda _line: None)
build = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"passages": len(index.passages), "seconds": build, "floor_kb": floor, "peak_kb": peak}))
"""

CHANGE = r"""
import json, resource, sys, time
from pathlib import Path
import rag
from rag.embed.runtime import load_embedder
seeds, target, model = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
load_embedder(model).encode_query("warm up")
first = sorted(p for p in seeds.iterdir() if p.is_file())[0]
first.write_text(first.read_text("utf-8") + "\n\nA paragraph added to one document about lighthouse keepers.\n", "utf-8")
started = time.perf_counter()
rag.build_index(seeds, target, model=model, log=lambda _line: None)
seconds = time.perf_counter() - started
counts = json.loads((target / "manifest.json").read_text("utf-8"))["build"]
print(json.dumps({"seconds": seconds, **counts, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

QUERY = r"""
import json, resource, statistics, sys, time
from pathlib import Path
started = time.perf_counter()
import rag
from rag.embed.runtime import load_embedder
load_embedder(sys.argv[2])
loaded_model = time.perf_counter()
index = rag.load_index(Path(sys.argv[1]))
load = time.perf_counter() - loaded_model
questions = json.loads(sys.argv[3])
for q in ("What is this about?", "Who wrote it?", "When was it changed?"):  # none of the questions timed
    index.answer(q)
def p50(fn):
    times = []
    for q in questions:
        t = time.perf_counter(); fn(q); times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
encode = p50(lambda q: index.embedder.encode_query(q))
answer = p50(lambda q: index.answer(q, 5))  # each question's first time: its rows' pages are read then
retrieve = p50(lambda q: index.retrieve(q, 5))
again = p50(lambda q: index.answer(q, 5))
print(json.dumps({"load_s": load, "encode_ms": encode, "retrieve_ms": retrieve, "answer_ms": answer,
                  "again_ms": again, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

KINDS = ("tokens", "token_scales", "token_offsets", "sentences", "vectors", "passage_vectors", "passages", "bm25",
         "documents")


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                              # the synthetic corpora are built on purpose past the default corpus limit
                              "RAG_MAX_CORPUS_MB": "100000"}, timeout=7200)
    if out.returncode:
        raise SystemExit(f"benchmark step failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def disk_by_kind(index_dir: Path, passages: int) -> str:
    manifest = json.loads((index_dir / "manifest.json").read_text("utf-8"))
    sizes = {}
    for kind, name in manifest["files"].items():
        path = index_dir / name
        sizes[kind] = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*"))
    total = sum(sizes.values())
    parts = ", ".join(f"{k} {sizes[k] / passages / 1024:.2f}" for k in KINDS if k in sizes)
    return f"disk {total / passages / 1024:.2f} KB per passage ({parts})"


def build(seeds: Path, target: Path, model: str) -> dict:
    result = _run(CHILD, str(seeds), str(target), model)
    n, seconds = result["passages"], result["seconds"]
    extra = (result["peak_kb"] - result["floor_kb"]) / 1024
    print(f"  build: {n} passages in {seconds:.1f} s = {n / seconds:.1f} passages/s; peak RSS "
          f"{result['peak_kb'] / 1024:.0f} MB ({extra:.0f} MB above the loaded model's {result['floor_kb'] / 1024:.0f} MB)")
    print(f"  {disk_by_kind(target, n)}")
    return result


def change_one(seeds: Path, target: Path, model: str, full: dict) -> None:
    """Edit one document and build again into the same folder: only that document is embedded."""
    r = _run(CHANGE, str(seeds), str(target), model)
    print(f"  one document changed: re-used {r['reused']}, embedded {r['embedded']}; build {r['seconds']:.1f} s "
          f"({r['seconds'] / full['seconds']:.2f}x the full build's {full['seconds']:.1f} s); peak RSS "
          f"{r['peak_kb'] / 1024:.0f} MB")


def query(target: Path, model: str) -> None:
    questions = [json.loads(line)["question"] for p in sorted((ROOT / "tests/gold").glob("*.jsonl"))
                 for line in p.read_text("utf-8").splitlines()[:6] if line.strip()]
    r = _run(QUERY, str(target), model, json.dumps(questions))
    print(f"  load {r['load_s']:.2f} s (model already loaded); p50 over {len(questions)} questions: bare encoding "
          f"{r['encode_ms']:.2f} ms, retrieve {r['retrieve_ms']:.2f} ms ({r['retrieve_ms'] / r['encode_ms']:.1f}x), "
          f"answer {r['answer_ms']:.2f} ms the first time a question is asked ({r['answer_ms'] / r['encode_ms']:.1f}x; "
          f"{r['answer_ms'] - r['encode_ms']:.1f} ms beyond encoding), {r['again_ms']:.2f} ms asked again; "
          f"query process peak RSS {r['rss_kb'] / 1024:.0f} MB")


def _timed(parse: Any, text: str) -> float:
    started = time.perf_counter()
    parse(text, "doc.txt")
    return time.perf_counter() - started


def ingestion_doubling() -> None:
    """Parse time (best of 3, after a warm-up) at 1x, 2x and 4x the size: linear rules keep the ratios near 2 and 4."""
    from rag.ingest.parse import parse

    def repeated_quotes(n: int) -> str:  # one short sentence repeated, never inside a longer paragraph
        return "\n\n".join(f"Entry {i}\n\nThis new upstream release fixes the build on every supported "
                           f"architecture.\n\nThe maintainer of package {i} rewrote the parser." for i in range(n))

    changelogs = sorted(Path("/usr/share/doc").glob("*/changelog*.gz"), key=lambda p: -p.stat().st_size)
    cases = [("repeated one-sentence paragraphs", lambda f: repeated_quotes(int(1000 * f)))]
    if changelogs:
        import gzip

        whole = gzip.decompress(changelogs[0].read_bytes()).decode("utf-8", "replace")
        cases.append((f"{changelogs[0].parent.name} changelog", lambda f: whole[: int(len(whole) * f / 4)]))
    for name, make in cases:
        base = None
        parse(make(1), "doc.txt")  # warm up: the first parse also compiles patterns and fills caches
        for factor in (1, 2, 4):
            text = make(factor)
            seconds = min(_timed(parse, text) for _ in range(3))
            base = base or seconds
            lines = text.count("\n") + 1  # a changelog's later entries are denser: compare time per line too
            print(f"  {name}: {len(text) / 1e6:5.2f} MB, {lines:,} lines in {seconds:6.2f} s ({seconds / base:4.1f}x "
                  f"the time for {factor}x the text; {seconds / lines * 1e6:.0f} µs per line)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=int, default=1000, help="passages of real text for the real-model build")
    parser.add_argument("--synthetic", type=int, nargs="*", default=[1000, 10_000],
                        help="passages for each model-free build (e.g. 1000 10000 100000 1000000)")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep the corpora and indexes there")
    args = parser.parse_args(argv)
    from corpus import real_corpus, synthetic_corpus

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        if args.real:
            n = real_corpus(folder / "real", args.real)
            print(f"== Real model, {n} passages of /usr/share/doc text")
            build(folder / "real", folder / "real-index", "all-MiniLM-L6-v2")
            query(folder / "real-index", "all-MiniLM-L6-v2")
        for size in args.synthetic:
            n = synthetic_corpus(folder / f"synthetic-{size}", size, ROOT / "tests/gold/docs")
            print(f"\n== Model-free (hash-embedder:384), about {n} passages")
            seeds, target = folder / f"synthetic-{size}", folder / f"synthetic-{size}-index"
            full = build(seeds, target, "hash-embedder:384")
            change_one(seeds, target, "hash-embedder:384", full)
            if size == args.synthetic[-1]:
                query(target, "hash-embedder:384")
            if not args.keep:
                shutil.rmtree(target)
                shutil.rmtree(seeds)
    print("\n== Ingestion time against document size (parse only)")
    ingestion_doubling()


if __name__ == "__main__":
    main()
