"""What one upload costs inside its request, with many documents already indexed, against a floor of a few.

Writes DOCS short text documents into a temporary seeds folder, indexes them
with the hash embedder (no model), serves them with a LiveIndex on 127.0.0.1
(free port), then sends UPLOADS documents one after another through
`/rag/upload`, each while another client asks for `/gradio_api/info` (an
unrelated request, also timed alone first), and prints the median and worst
request times of each. The same
run with FLOOR documents is the floor; the ratio is what the check reads.
Rebuilds the uploads start run in the background meanwhile, as they do for
a real server.

    .venv/bin/python bench/bench_uploads.py [--docs 10000] [--floor 10] [--uploads 20]

Exit code 1 when an upload is refused or the median upload with DOCS
documents takes more than RATIO times the floor's (or BUDGET_MS, whichever
is larger: a floor of a few milliseconds is mostly noise).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATIO = 3.0
BUDGET_MS = 100.0
WORDS = ("harbour", "owl", "canal", "survey", "tower", "valley", "fleet", "crane", "ledger", "orchard", "meadow",
         "signal", "bridge", "archive", "lantern", "quarry")


def write_docs(seeds: Path, count: int) -> None:
    for n in range(count):
        folder = seeds / f"part{n // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        words = " ".join(WORDS[(n * 7 + k) % len(WORDS)] for k in range(40))
        (folder / f"note{n:05d}.txt").write_text(f"Note {n}\n\nThe {words} entry number {n}.\n", encoding="utf-8")


OTHER = "gradio_api/info"


def run(docs: int, uploads: int) -> tuple[list[float], list[float], list[float], float]:
    """(upload request times in ms, unrelated request times alone and during uploads in ms, seconds the first
    index took)."""
    import httpx

    import rag
    from rag.embed.model import HashEmbedder
    from rag.service.live import LiveIndex
    from ui.server import start

    with tempfile.TemporaryDirectory(prefix="rag-bench-uploads-") as tmp:
        seeds, index_dir = Path(tmp) / "seeds", Path(tmp) / "index"
        write_docs(seeds, docs)
        began = time.perf_counter()
        rag.build_index(seeds, index_dir, embedder=HashEmbedder(), log=lambda line: None)
        built = time.perf_counter() - began
        live = LiveIndex(seeds, index_dir, model="hash-embedder")
        live.current()
        demo, url = start(live, host="127.0.0.1", port=None)
        upload_ms, other_ms, alone_ms = [], [], []
        try:
            with httpx.Client(timeout=120) as client, httpx.Client(timeout=120) as other:
                for _ in range(uploads):
                    t = time.perf_counter()
                    other.get(url + OTHER)
                    alone_ms.append(1000 * (time.perf_counter() - t))
                for n in range(uploads):
                    body = f"Upload {n}\n\nA short note about the {WORDS[n % len(WORDS)]} added from the page.\n"
                    side: list[float] = []

                    def ask_other(side: list[float] = side) -> None:
                        t = time.perf_counter()
                        other.get(url + OTHER)
                        side.append(1000 * (time.perf_counter() - t))

                    helper = threading.Thread(target=ask_other)
                    t0 = time.perf_counter()
                    helper.start()
                    reply = client.post(url + "rag/upload", content=body.encode(),
                                        headers={"X-File-Name": f"upload-{n}.txt"})
                    upload_ms.append(1000 * (time.perf_counter() - t0))
                    helper.join()
                    other_ms.extend(side)
                    if reply.status_code != 200:
                        raise SystemExit(f"upload {n} was refused: {reply.status_code} {reply.text}")
        finally:
            demo.close()
            live.close()
    return upload_ms, alone_ms, other_ms, built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000, help="documents indexed before the uploads")
    parser.add_argument("--floor", type=int, default=10, help="documents in the floor run")
    parser.add_argument("--uploads", type=int, default=20, help="uploads sent in each run (at most 30: the "
                        "per-client limit a minute)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    uploads = max(1, min(args.uploads, 30))
    results = {}
    for docs in (max(1, args.floor), max(1, args.docs)):
        up, alone, other, built = run(docs, uploads)
        results[docs] = statistics.median(up)
        print(f"{docs:>6,} documents (indexed in {built:.1f} s), {uploads} uploads: upload p50 "
              f"{statistics.median(up):.1f} ms, max {max(up):.1f} ms; /{OTHER} alone p50 "
              f"{statistics.median(alone):.1f} ms, max {max(alone):.1f} ms; during uploads p50 "
              f"{statistics.median(other):.1f} ms, max {max(other):.1f} ms", flush=True)
    floor, many = results[max(1, args.floor)], results[max(1, args.docs)]
    allowed = max(RATIO * floor, BUDGET_MS)
    print(f"upload p50 with {args.docs:,} documents / with {args.floor:,}: {many / floor:.2f}x "
          f"(allowed: {allowed:.0f} ms)")
    return 0 if many <= allowed else 1


if __name__ == "__main__":
    sys.exit(main())
