"""A 20-page scan indexed in the background while answers keep coming: `python bench/bench_ocr_live.py`.

A live index (`rag.service.live.LiveIndex`, the real model) serves the report as text;
then a 20-page image-only PDF is dropped into its seeds folder: the report printed by
headless Chromium and rasterised by `pdftoppm` (12 pages), plus 8 of those pages made to
look photographed, so no page is a copy of another. While the rebuild reads it by OCR,
a question is asked of the live index over and over. Prints the rebuild's seconds (and
per scanned page), how many answers came during it, their latency (p50, p95, max)
against the same question asked before the drop, and whether the new document was
then quoted. Pages are read afresh: the OCR cache is a new, empty folder.

Needs tesseract-ocr and poppler-utils; a figure, not a test (it takes minutes).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

QUESTION = "How much did shipping costs rise when ships avoided the Red Sea?"
NEW_QUESTION = "Why does Taiwan matter to Japan?"


def _fresh_ocr_cache(folder: Path) -> None:
    """$RAG_CACHE_DIR in `folder`: the exported model linked in, the OCR cache empty."""
    home = Path(os.environ.get("RAG_CACHE_DIR") or Path.home() / ".cache" / "rag").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    for entry in home.iterdir() if home.is_dir() else ():
        if entry.name != "ocr":
            (folder / entry.name).symlink_to(entry)
    os.environ["RAG_CACHE_DIR"] = str(folder)


def _scan(folder: Path) -> bytes:
    from scan_fixtures import Scans, image_pdf, photographed

    folder.mkdir(parents=True, exist_ok=True)
    scans = Scans(folder)
    pictures = [scans.picture(page) for page in range(1, 13)]
    pictures += [photographed(scans.picture(page), seed=page).convert("L") for page in range(1, 9)]
    return image_pdf(pictures)


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms (n={len(ordered)})"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="rag-ocr-live-"))
    _fresh_ocr_cache(work / "cache")
    import shutil

    from rag.service.live import LiveIndex

    seeds = work / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / "japan-nato-alignment.txt", seeds / "report.txt")
    scan = _scan(work / "scans")
    with LiveIndex(seeds, work / "index", poll_seconds=0.5) as live:
        live.wait(600)
        live.answer(QUESTION)  # the first answer loads what answering needs; it is not counted
        before = []
        for _ in range(20):
            started = time.perf_counter()
            live.answer(QUESTION)
            before.append((time.perf_counter() - started) * 1000)
        version = live.status().version
        (seeds / "scan.pdf").write_bytes(scan)
        dropped = time.perf_counter()
        during: list[float] = []
        errors = 0
        while True:
            status = live.status()
            if status.version != version and status.state == "ready":
                break
            if time.perf_counter() - dropped > 1800:
                print("the rebuild did not finish in 30 minutes", file=sys.stderr)
                return 1
            started = time.perf_counter()
            try:
                live.answer(QUESTION)
            except Exception as err:  # noqa: BLE001 - counted and shown: an answer must never fail here
                errors += 1
                print(f"answer failed during the rebuild: {err}", file=sys.stderr)
            during.append((time.perf_counter() - started) * 1000)
            time.sleep(0.2)
        built = time.perf_counter() - dropped
        quoted = [q.citation.source for q in live.answer(NEW_QUESTION).quotes]
    print(f"20-page scan indexed in the background in {built:.0f} s ({built / 20:.1f} s per page, OCR included)")
    print(f"answers before the drop: {_ms(before)}")
    print(f"answers during the rebuild: {_ms(during)}; errors {errors}")
    print(f"after: {NEW_QUESTION!r} quotes {sorted(set(quoted))}")
    return 1 if errors or "scan.pdf" not in quoted else 0


if __name__ == "__main__":
    raise SystemExit(main())
