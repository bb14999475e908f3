"""Concurrency check of the web app: 20 users ask at once, each must get its own answer.

Starts the app on 127.0.0.1 (free port) over the default index (seeds/ →
index/, or $RAG_SEEDS/$RAG_INDEX; built if needed), then fires CLIENTS
threads, each with its own gradio_client.Client, asking different questions
from tests/gold/japan-nato-alignment.jsonl through `/ask`, all released at the
same moment. Checks every reply is the answer to the question that thread
asked (same "question", same quotes as asking the library directly), prints
p50/p95/max latency and wall time, stops the server. Exit code 1 on any
mismatch or error.

    .venv/bin/python bench/bench_concurrency.py [--clients 20] [--rounds 3] [--timeout 120]

With `--rebuild`, the same users ask through the live index while a seed is
edited under it (see bench/bench_rebuild.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tests" / "gold" / "japan-nato-alignment.jsonl"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest-rank
    return ordered[rank]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent users (default 20, at most 100)")
    parser.add_argument("--rounds", type=int, default=3, help="questions each user asks, one after another")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    parser.add_argument("--rebuild", action="store_true", help="edit a seed while users ask, so the index is "
                        "rebuilt in the background; compare latency during the rebuild with idle latency")
    args = parser.parse_args(argv)
    if args.rebuild:
        sys.path.insert(0, str(ROOT))
        from bench_rebuild import run

        return run(clients=max(1, min(args.clients, 100)), timeout=args.timeout)
    clients = max(1, min(args.clients, 100))
    rounds = max(1, min(args.rounds, 10))

    sys.path.insert(0, str(ROOT))
    from gradio_client import Client

    from rag.service.default import default_paths
    from rag.service.loading import open_index
    from ui.app import CONCURRENCY
    from ui.server import start

    questions = [json.loads(line)["question"] for line in GOLD.read_text("utf-8").splitlines() if line.strip()]
    needed = clients * rounds
    if len(set(questions)) < needed:
        print(f"note: {needed} asks but only {len(set(questions))} distinct questions; some repeat",
              file=sys.stderr)
    asks = [[questions[(c * rounds + r) % len(questions)] for r in range(rounds)] for c in range(clients)]

    seeds, index_dir = default_paths()
    index = open_index(ROOT / seeds if not seeds.is_absolute() else seeds,
                       ROOT / index_dir if not index_dir.is_absolute() else index_dir, progress=False)
    expected = {q: dataclasses.asdict(index.answer(q, 5)) for row in asks for q in row}

    demo, url = start(index, host="127.0.0.1", port=None)
    print(f"server {url}  concurrency_limit={CONCURRENCY}  clients={clients}  rounds={rounds}")
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()
    try:
        connections = [Client(url, verbose=False) for _ in range(clients)]  # connect first: measure asking only
        go = threading.Barrier(clients)

        def user(n: int) -> None:
            go.wait(timeout=args.timeout)
            for question in asks[n]:
                began = time.perf_counter()
                try:
                    got = connections[n].predict(question, 5, None, api_name="/ask")
                except Exception as err:  # noqa: BLE001 - every failure is reported, none stops the others
                    with lock:
                        problems.append(f"user {n}: {question!r}: {type(err).__name__}: {err}")
                    continue
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    if got.get("question") != question:
                        problems.append(f"user {n} asked {question!r} but got the answer to {got.get('question')!r}")
                    elif got != expected[question]:
                        problems.append(f"user {n}: answer to {question!r} differs from the library's")

        def guarded(n: int) -> None:
            try:
                user(n)
            except Exception as err:  # noqa: BLE001 - e.g. the start barrier timed out
                with lock:
                    problems.append(f"user {n} failed: {type(err).__name__}: {err}")

        # Daemon threads joined against one deadline: a hung request cannot keep the bench running.
        threads = [threading.Thread(target=guarded, args=(n,), daemon=True) for n in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        deadline = started + args.timeout
        for t in threads:
            t.join(max(0.0, deadline - time.perf_counter()))
        stuck = sum(t.is_alive() for t in threads)
        if stuck:
            with lock:
                problems.append(f"{stuck} users still waiting after {args.timeout:.0f} s")
        wall = time.perf_counter() - started
    finally:
        demo.close()

    answered = len(latencies)
    print(f"asked {needed}, answered {answered}, problems {len(problems)}")
    if latencies:
        print(f"latency per ask: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
              f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
              f"mean {statistics.fmean(latencies) * 1000:.0f} ms")
    print(f"wall time {wall:.2f} s for {needed} asks ({answered / wall:.1f} answers/s)")
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    return 0 if not problems and answered == needed else 1


if __name__ == "__main__":
    raise SystemExit(main())
