"""The JSON API against the library, in one run: what HTTP adds to an answer, and 50 clients asking at once.

Opens the default index (seeds/ -> index/, or $RAG_SEEDS/$RAG_INDEX; built if needed; with --model-free, seeds/
indexed with the hash embedder in a temporary folder, no model) here for the library calls, and serves the same
index folder from a server process of its own on 127.0.0.1 (free port), as `rag serve` would, then:

1. Latency: each question of tests/gold/japan-nato-alignment.jsonl asked `--rounds` times, alternately through the
   library (`index.answer(q, 5)`) and through `POST /api/v1/answer` on one kept-alive connection; prints the p50
   of both and their difference (the API's own cost), and checks every API answer equals the library's.
2. Concurrency: `--clients` threads, each with its own connection, released together, each asking `--asks`
   questions; prints answered, errors, mismatches, p50/p95 latency and wall time.

    .venv/bin/python bench/bench_api.py [--model-free] [--rounds 3] [--clients 50] [--asks 4]

Exit code 1 on any error or mismatch. A measurement, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tests" / "gold" / "japan-nato-alignment.jsonl"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest-rank
    return ordered[rank]


def open_index(model_free: bool, scratch: Path):
    import rag

    if model_free:
        from rag.embed.model import HashEmbedder

        return rag.build_index(ROOT / "seeds", scratch / "index", embedder=HashEmbedder(), log=lambda line: None)
    from rag.service.default import default_paths
    from rag.service.loading import open_index as open_default

    seeds, index_dir = default_paths()
    return open_default(ROOT / seeds if not seeds.is_absolute() else seeds,
                        ROOT / index_dir if not index_dir.is_absolute() else index_dir, progress=False)


SERVER = """
import sys, time
import rag
from ui.server import start
demo, url = start(rag.load_index(sys.argv[1]), host="127.0.0.1", port=None)
print(url, flush=True)
sys.stdin.read()  # until the benchmark closes the pipe
demo.close()
"""


@contextlib.contextmanager
def serving(index_dir: Path):
    """A server process over `index_dir`; yields its URL, stops it at the end."""
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(index_dir)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise SystemExit("the server did not start; run it alone to see why")
        yield url
    finally:
        process.terminate()
        process.wait(30)


def latency(url: str, index, questions: list[str], rounds: int) -> list[str]:
    import httpx

    library, api, problems = [], [], []
    with httpx.Client(base_url=url, timeout=60) as client:
        for q in questions[:3]:  # warm both paths
            index.answer(q, 5)
            client.post("/api/v1/answer", json={"question": q})
        for _ in range(rounds):
            for q in questions:
                began = time.perf_counter()
                expected = dataclasses.asdict(index.answer(q, 5))
                library.append(time.perf_counter() - began)
                began = time.perf_counter()
                reply = client.post("/api/v1/answer", json={"question": q, "k": 5})
                api.append(time.perf_counter() - began)
                if reply.status_code != 200 or reply.json() != json.loads(json.dumps(expected)):
                    problems.append(f"{q!r}: {reply.status_code}, not the library's answer")
    lib50, api50 = percentile(library, 50) * 1000, percentile(api, 50) * 1000
    print(f"library answer p50 {lib50:.1f} ms, p95 {percentile(library, 95) * 1000:.1f} ms (n={len(library)})")
    print(f"API answer     p50 {api50:.1f} ms, p95 {percentile(api, 95) * 1000:.1f} ms (n={len(api)})")
    print(f"API p50 minus library p50: {api50 - lib50:+.1f} ms")
    return problems


def concurrency(url: str, index, questions: list[str], clients: int, asks: int, timeout: float) -> list[str]:
    import httpx

    plan = [[questions[(c * asks + r) % len(questions)] for r in range(asks)] for c in range(clients)]
    expected = {q: json.loads(json.dumps(dataclasses.asdict(index.answer(q, 5)))) for row in plan for q in row}
    connections = [httpx.Client(base_url=url, timeout=timeout) for _ in range(clients)]
    go = threading.Barrier(clients)
    took: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()

    def user(n: int) -> None:
        try:
            go.wait(timeout=timeout)
            for q in plan[n]:
                began = time.perf_counter()
                reply = connections[n].post("/api/v1/answer", json={"question": q})
                with lock:
                    took.append(time.perf_counter() - began)
                    if reply.status_code != 200:
                        problems.append(f"client {n}: {reply.status_code} {reply.text[:120]}")
                    elif reply.json() != expected[q]:
                        problems.append(f"client {n}: the answer to {q!r} is not the library's")
        except Exception as err:  # noqa: BLE001 - every failure is reported, none stops the others
            with lock:
                problems.append(f"client {n}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, started + timeout - time.perf_counter()))
    wall = time.perf_counter() - started
    for c in connections:
        c.close()
    print(f"{clients} clients x {asks} asks: answered {len(took)} of {clients * asks}, errors {len(problems)}")
    if took:
        print(f"latency per ask under load: p50 {percentile(took, 50) * 1000:.0f} ms, "
              f"p95 {percentile(took, 95) * 1000:.0f} ms; wall {wall:.2f} s ({len(took) / wall:.1f} answers/s)")
    if len(took) < clients * asks:
        problems.append(f"{clients * asks - len(took)} asks unanswered after {timeout:.0f} s")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-free", action="store_true", help="index seeds/ with the hash embedder (no model)")
    parser.add_argument("--rounds", type=int, default=3, help="times each gold question is asked each way")
    parser.add_argument("--clients", type=int, default=50, help="concurrent API clients (at most 200)")
    parser.add_argument("--asks", type=int, default=4, help="questions each client asks, one after another")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on the concurrent run after this")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    questions = list(dict.fromkeys(json.loads(line)["question"] for line in GOLD.read_text("utf-8").splitlines()
                                   if line.strip()))
    with tempfile.TemporaryDirectory() as scratch:
        index = open_index(args.model_free, Path(scratch))
        with serving(index.index_dir) as url:
            print(f"server {url}  index {index!r}")
            problems = latency(url, index, questions, max(1, min(args.rounds, 20)))
            problems += concurrency(url, index, questions, max(1, min(args.clients, 200)), max(1, args.asks),
                                    args.timeout)
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
