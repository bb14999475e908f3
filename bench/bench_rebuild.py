"""Answers during a background rebuild: `bench/bench_concurrency.py --rebuild`.

Copies four of the development documents (tests/gold/docs: the report and
three READMEs or manuals, ~57 KB) into a temporary seeds folder, serves them through the web app over a `rag.service.live.LiveIndex` (real
model, watcher polling every second), and lets CLIENTS users, each with its
own gradio_client.Client, ask gold questions through `/ask` in a loop:

1. idle: 20 s with nothing changing (the first 5 s, while connections warm
   up, are reported apart as "warmup");
2. rebuild: one sentence of the report is edited keeping the file's size and
   modification time (so only the content sweep can notice), the watcher
   starts a rebuild, and the users keep asking until the new index is swapped in;
3. after: the first `/ask` about the edited sentence must quote the new text.

Every answer must be the answer to its own question (0 crossed), equal to
what the old or the new index gives for it, and never quote the old text
after the edit. Prints p50/p95 latency idle and during the rebuild, their
ratio (target: p95 under 2x idle) and the rebuild's duration. Exit code 1 on
any problem.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "tests" / "gold" / "docs"
GOLD = ROOT / "tests" / "gold" / "japan-nato-alignment.jsonl"
REPORT = "japan-nato-alignment.txt"
OLD, NEW = "175 to 200 per cent", "975 to 900 per cent"
EDITED_QUESTION = "How much more expensive did shipping get when ships avoided the Red Sea?"
USED = ["japan-nato-alignment.txt", "apt-readme.md", "gnupg-readme.txt", "bash-posix-mode.txt"]
WARMUP_SECONDS, IDLE_SECONDS = 5.0, 20.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest-rank
    return ordered[rank]


def _edit_keeping_size_and_time(path: Path) -> None:
    before = path.stat()
    text = path.read_text("utf-8")
    assert OLD in text and len(OLD) == len(NEW)
    path.write_text(text.replace(OLD, NEW), "utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def run(*, clients: int, timeout: float) -> int:
    from gradio_client import Client

    from rag.service.live import LiveIndex
    from ui.app import CONCURRENCY
    from ui.server import start

    questions = [json.loads(line)["question"] for line in GOLD.read_text("utf-8").splitlines() if line.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="rag-rebuild-"))
    seeds = tmp / "seeds"
    seeds.mkdir()
    for name in USED:
        shutil.copy(DOCS / name, seeds / name)
    live = LiveIndex(seeds, tmp / "index", poll_seconds=1.0)
    began = time.perf_counter()
    old = live.current()
    print(f"index of {len(old.sources)} documents, {len(old.passages)} passages, built in "
          f"{time.perf_counter() - began:.1f} s")
    before = {q: dataclasses.asdict(old.answer(q, 5)) for q in questions}  # what idle answers must be
    demo, url = start(live, host="127.0.0.1", port=None)
    print(f"server {url}  concurrency_limit={CONCURRENCY}  clients={clients}")
    records: list[tuple[str, float, float, dict | None, str]] = []  # phase, started, took, answer, error
    lock, stop = threading.Lock(), threading.Event()
    phase = {"now": "warmup"}
    try:
        connections = [Client(url, verbose=False) for _ in range(clients)]
        go = threading.Barrier(clients + 1)

        def user(n: int) -> None:
            go.wait(timeout=timeout)
            turn = 0
            while not stop.is_set():
                question = questions[(n * 7 + turn) % len(questions)]
                turn += 1
                at_start, started = phase["now"], time.perf_counter()
                try:
                    got, error = connections[n].predict(question, 5, None, api_name="/ask"), ""
                except Exception as err:  # noqa: BLE001 - every failure is reported
                    got, error = None, f"{type(err).__name__}: {err}"
                took = time.perf_counter() - started
                label = at_start if phase["now"] == at_start else "straddling"
                with lock:
                    records.append((label, started, took, {"asked": question, **(got or {})}, error))

        threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(clients)]
        for t in threads:
            t.start()
        go.wait(timeout=timeout)
        time.sleep(WARMUP_SECONDS)
        phase["now"] = "idle"
        time.sleep(IDLE_SECONDS - WARMUP_SECONDS)
        _edit_keeping_size_and_time(seeds / REPORT)
        phase["now"] = "edit"  # asks started from now on see the edited file
        edited_at = time.perf_counter()
        while live.status().state != "indexing" and time.perf_counter() - edited_at < timeout:
            time.sleep(0.05)
        noticed = time.perf_counter() - edited_at
        phase["now"] = "rebuild"
        status = live.wait(timeout)
        swapped_at = time.perf_counter()
        phase["now"] = "after"
        first = Client(url, verbose=False).predict(EDITED_QUESTION, 5, None, api_name="/ask")
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(timeout)
    finally:
        demo.close()
        live.close()
    new = live.current()
    problems = _check(records, before, old, new, status, first)
    _report(records, noticed, swapped_at - edited_at - noticed, status)
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0


def _check(records, before, old, new, status, first) -> list[str]:
    problems = []
    if status.state != "ready" or new is old:
        problems.append(f"the rebuild did not finish: {status}")
    quoted = " ".join(q["text"] for q in first.get("quotes", []))
    print(f"first answer after the swap: {'new text' if NEW in quoted else 'NOT the new text'} "
          f"({quoted[:90]!r}…)")
    if NEW not in quoted or OLD in quoted:
        problems.append(f"first answer after the swap does not quote the new text: {quoted[:200]!r}")
    # Idle: the old index before the edit. After the edit: the old index with the file as edited (the
    # changed passage withheld), then the new index.
    expected: dict[str, list[dict]] = {}
    for phase, _, _, got, error in records:
        question = got["asked"]
        if error:
            problems.append(f"{phase}: {question!r}: {error}")
            continue
        if got.get("question") != question:
            problems.append(f"{phase}: asked {question!r} but got the answer to {got.get('question')!r}")
            continue
        got = {k: v for k, v in got.items() if k != "asked"}
        if phase in ("edit", "rebuild", "after") and OLD in got["text"] + " ".join(q["text"] for q in got["quotes"]):
            problems.append(f"{phase}: {question!r} quoted the old text after the edit")
        if question not in expected:
            expected[question] = [dataclasses.asdict(old.answer(question, 5)), dataclasses.asdict(new.answer(question, 5))]
        old_now, new_now = expected[question]
        allowed = {"warmup": [before[question]], "idle": [before[question]], "edit": [old_now], "rebuild": [old_now], "after": [new_now],
                   "straddling": [before[question], old_now, new_now]}[phase]
        if got not in allowed:
            problems.append(f"{phase}: answer to {question!r} is not the one the serving index gives")
    return problems


def _report(records, noticed: float, rebuild: float, status) -> None:
    by_phase: dict[str, list[float]] = {}
    for phase, _, took, _, error in records:
        if not error:
            by_phase.setdefault(phase, []).append(took)
    errors = sum(1 for r in records if r[4])
    print(f"answers {len(records)}, errors {errors}; the edit was noticed after {noticed:.1f} s, the rebuild took "
          f"{rebuild:.1f} s and ended {status.state}")
    for phase in ("warmup", "idle", "edit", "rebuild", "straddling", "after"):
        times = by_phase.get(phase, [])
        if times:
            print(f"  {phase:<10} {len(times):>5} answers  p50 {percentile(times, 50) * 1000:6.0f} ms  "
                  f"p95 {percentile(times, 95) * 1000:6.0f} ms  mean {statistics.fmean(times) * 1000:6.0f} ms")
    if by_phase.get("idle") and by_phase.get("rebuild"):
        ratio = percentile(by_phase["rebuild"], 95) / percentile(by_phase["idle"], 95)
        print(f"p95 during the rebuild / idle p95 = {ratio:.2f} (target under 2)")
