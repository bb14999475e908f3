"""Cold start and build rate: the packaged model on ONNX Runtime against sentence-transformers (torch).

Two figures, each taken both ways back to back in the same run, so a load that
comes and goes weighs on both alike:
- `rag ask` from a fresh process to its first answer (process start to exit,
  page cache warm: one unmeasured run each first), with the process's CPU time
  and peak RSS (from `os.wait4` in a small launcher), alternating RAG_RUNTIME=auto (ONNX Runtime)
  and RAG_RUNTIME=torch, `--rounds` times each; medians and the ratio;
- a build of the same text (about `--passages` passages of /usr/share/doc
  prose, `bench/corpus.py`) with each embedder, models loaded beforehand:
  passages per second and per CPU-second, and the ratio.

Prints figures; asserts nothing. Run: `python bench/bench_coldstart.py [--rounds N] [--passages N]`
(`make bench` runs it with the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUESTION = "Why does Taiwan matter to Japan?"
RUNTIMES = {"onnx": "auto", "torch": "torch"}  # RAG_RUNTIME for each path


# Linux counts a process's peak RSS from its parent's at the fork, so `rag ask` is started by this small
# launcher, not by the benchmark process (which holds a model): its figures are the command's own.
LAUNCHER = ("import json, os, subprocess, sys, time; started = time.perf_counter(); "
            "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); _, status, usage = os.wait4(child.pid, 0); "
            "print(json.dumps([time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, "
            "os.waitstatus_to_exitcode(status)]))")


def ask_once(index: Path, runtime: str) -> tuple[float, float, float]:
    """Seconds from process start to exit of `rag ask`, its CPU seconds and its peak RSS in MiB."""
    env = {**os.environ, "RAG_RUNTIME": runtime, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-m", "rag.cli", "ask", QUESTION,
                           "--index", str(index)], capture_output=True, text=True, env=env, cwd=ROOT)
    wall, cpu, rss, code = json.loads(done.stdout.strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"rag ask failed with RAG_RUNTIME={runtime}: {done.stderr.strip()[-300:]}")
    return wall, cpu, rss / 1024


def cold_start(index: Path, rounds: int) -> None:
    for runtime in RUNTIMES.values():  # warm the page cache (and the ONNX export) unmeasured
        ask_once(index, runtime)
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in RUNTIMES}
    for _ in range(rounds):
        for name, runtime in RUNTIMES.items():
            runs[name].append(ask_once(index, runtime))
    medians = {name: [statistics.median(r[i] for r in rows) for i in range(3)] for name, rows in runs.items()}
    for name, (wall, cpu, rss) in medians.items():
        label = "ONNX Runtime" if name == "onnx" else "sentence-transformers"
        print(f"  rag ask, first answer ({label}): {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MiB "
              f"(median of {rounds})")
    (ow, oc, orss), (tw, tc, trss) = medians["onnx"], medians["torch"]
    print(f"  ONNX / sentence-transformers: {ow / tw:.2f}x the wall time, {oc / tc:.2f}x the CPU time, "
          f"{orss / trss:.2f}x the peak RSS")


def build_rate(passages: int) -> None:
    from corpus import real_corpus

    import rag
    from rag.embed.model import SentenceTransformerEmbedder
    from rag.embed.onnx import OnnxEmbedder

    embedders = {"ONNX Runtime": OnnxEmbedder(), "sentence-transformers": SentenceTransformerEmbedder()}
    for embedder in embedders.values():
        embedder.encode(["warm up"])
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        real_corpus(Path(tmp) / "docs", passages)
        for name, embedder in embedders.items():
            cpu, started = time.process_time(), time.perf_counter()
            index = rag.build_index(Path(tmp) / "docs", Path(tmp) / name.replace(" ", "-"), embedder=embedder,
                                    log=lambda _line: None, reuse=False)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            n = len(index.passages)
            rates[name] = n / seconds
            print(f"  build, {name} ({getattr(embedder, 'precision', '?')}): {n} passages in {seconds:.1f} s = "
                  f"{n / seconds:.1f} passages/s, {n / cpu:.1f} per CPU-second")
    print(f"  ONNX / sentence-transformers: {rates['ONNX Runtime'] / rates['sentence-transformers']:.2f}x the "
          "passages per second")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh `rag ask` processes per runtime")
    parser.add_argument("--passages", type=int, default=200, help="passages of real text each build reads")
    args = parser.parse_args(argv)
    import rag

    print(f"  load average at the start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        rag.build_index(ROOT / "seeds", Path(tmp) / "index", log=lambda _line: None)
        cold_start(Path(tmp) / "index", args.rounds)
    build_rate(args.passages)
    print(f"  load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
