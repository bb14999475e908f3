"""OCR accuracy, speed and retrieval on a scanned report: `python bench/bench_ocr.py [--no-eval]`.

Makes the scans as `tests/scan_fixtures.py` does: the report (seeds/) printed
to PDF by headless Chromium, every page rasterised by `pdftoppm -r 200 -gray`
and rebuilt into an image-only PDF, and page 2 made to look photographed
(turned 1.5°, blurred, grainy, unevenly lit) as a JPEG. Then measures:

1. OCR seconds per page (wall clock, Tesseract on one thread, no page from the cache) reading the image-only
   PDF, and Tesseract's processor seconds per page;
2. the character error rate (edit distance per character, whitespace collapsed and hyphen characters
   made one) of the OCR text against the text PDF's text layer, for the clean scan (every page) and the
   photographed page, and of the clean scan against the report's own text (line-break hyphens dropped);
3. with the real model (unless --no-eval): an index of the text PDF and one of the image-only PDF, each
   scored on the report's gold set (tests/gold/japan-nato-alignment.jsonl): MRR@10, and for the scan the
   share of quotes whose cited page holds their opening words (page text from the text PDF).

Targets (docs/formats.md): CER at most 2%, page right at least 0.95, MRR@10 within 0.05 of the text PDF's.
Prints one line per figure; exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

GOLD = ROOT / "tests" / "gold" / "japan-nato-alignment.jsonl"
NAME = "japan-nato-alignment"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-eval", action="store_true", help="skip the two index builds and the gold-set scores")
    args = parser.parse_args()
    from scan_fixtures import Scans, cer, image_pdf, photographed

    from rag.readers import ocr, read_document

    if ocr.missing():
        print(f"cannot measure: {ocr.missing()}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scans = Scans(folder)
        text_pdf = scans.text_pdf().read_bytes()
        truth = read_document(Path("report.pdf"), text_pdf)
        pictures = [scans.picture(p) for p in range(1, len(truth.pages) + 1)]
        scan_pdf = image_pdf(pictures)
        times: list[float] = []
        cpu: list[float] = []
        began = [time.perf_counter(), _children()]

        def heard(done: int, total: int) -> None:
            now, used = time.perf_counter(), _children()
            if done:
                times.append(now - began[0])
                cpu.append(used - began[1])
            began[:] = [now, used]

        ocr._cached = lambda key: None  # type: ignore[assignment]  # timed: every page read by Tesseract here
        read = read_document(Path("scan.pdf"), scan_pdf, progress=heard)
        print(f"engine: {ocr.version()}, pages rendered at {ocr.DPI} dpi, one thread")
        print(f"OCR seconds per page: median {statistics.median(times):.1f}, mean {statistics.mean(times):.1f}, "
              f"max {max(times):.1f} ({len(times)} pages); Tesseract's processor seconds per page: median "
              f"{statistics.median(cpu):.1f}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        clean = cer(read.text, truth.text)
        original = " ".join((ROOT / "seeds" / f"{NAME}.txt").read_text("utf-8").split())
        against_original = cer(read.text.replace("\u2010 ", "").replace("\u2010", ""), original)
        photo = io.BytesIO()
        photographed(pictures[1]).save(photo, format="JPEG", quality=85, dpi=(200, 200))
        photo_read = read_document(Path("photo.jpg"), photo.getvalue())
        # Read alone, as the photo is: its running header is not furniture on a single page.
        page_two = read_document(Path("page-2.pdf"), scans.text_pages([2])).text
        photo_cer = cer(photo_read.text, page_two)
        print(f"CER clean scan vs text layer: {clean:.2%} ({len(truth.text):,} characters)")
        print(f"CER clean scan vs the report's text (headers and page numbers count as errors): {against_original:.2%}")
        print(f"CER photographed page 2 vs its text layer: {photo_cer:.2%} ({len(page_two):,} characters)")
        ok = clean <= 0.02 and photo_cer <= 0.02
        if not args.no_eval:
            ok = _retrieval(folder, text_pdf, scan_pdf) and ok
    return 0 if ok else 1


def _children() -> float:
    """Processor seconds used so far by finished child processes (each page's Tesseract)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _retrieval(folder: Path, text_pdf: bytes, scan_pdf: bytes) -> bool:
    import rag
    from rag.eval.evaluate import evaluate
    from rag.eval.gold import load_gold
    from rag.search.tuning import shipped

    figures = {}
    for label, data in (("text PDF", text_pdf), ("image-only PDF", scan_pdf)):
        seeds = folder / label.replace(" ", "-") / "seeds"
        seeds.mkdir(parents=True)
        (seeds / f"{NAME}.pdf").write_bytes(data)
        began = time.perf_counter()
        index = rag.build_index(seeds, seeds.parent / "index", log=lambda line: None)
        built = time.perf_counter() - began
        gold = seeds.parent / "gold.jsonl"
        lines = []
        for line in GOLD.read_text("utf-8").splitlines():
            record = json.loads(line)
            for item in record["evidence"]:
                item["source"] = f"{NAME}.pdf"
            lines.append(json.dumps(record, ensure_ascii=False))
        gold.write_text("\n".join(lines) + "\n", "utf-8")
        report = evaluate(index, {NAME: load_gold(gold, index.source_text)}, held_out=False, ablations=False,
                          progress=False, params=shipped())
        right, checked = _pages_right(index, text_pdf)
        figures[label] = report.metrics["mrr@10"]
        cached = " (its pages from the OCR cache)" if label == "image-only PDF" else ""
        print(f"{label}: built in {built:.0f} s{cached}; MRR@10 {report.metrics['mrr@10']:.3f}, evidence in top-3 quotes "
              f"{report.metrics['evidence_in_top3_quotes']:.3f}, quotes exact {report.metrics['quote_exactness']:.3f}, "
              f"page right {right / checked:.3f} ({right}/{checked} quotes)")
        if label == "image-only PDF":
            page_ok = right / checked >= 0.95
    gap = figures["text PDF"] - figures["image-only PDF"]
    print(f"MRR@10 gap (text PDF minus image-only PDF): {gap:+.3f}")
    return gap <= 0.05 and page_ok


def _pages_right(index: object, text_pdf: bytes) -> tuple[int, int]:
    """Quotes whose cited page holds their opening words (page texts from the text PDF's layer), of all quotes."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(text_pdf)
    pages = [_squash(pdf[n].get_textpage().get_text_range()) for n in range(len(pdf))]
    right = checked = 0
    for question in [json.loads(line)["question"] for line in GOLD.read_text("utf-8").splitlines()]:
        for quote in index.answer(question).quotes:  # type: ignore[attr-defined]
            checked += 1
            page = quote.citation.page
            right += page is not None and 1 <= page <= len(pages) and _squash(quote.text)[:40] in pages[page - 1]
    return right, max(checked, 1)


def _squash(text: str) -> str:
    """Letters and digits only: page text and extracted text differ in spaces, hyphens and line ends."""
    return re.sub(r"[^0-9A-Za-z]+", "", text.replace("\u2010", "").replace("\u00ad", ""))


if __name__ == "__main__":
    sys.exit(main())
