"""Scanned documents made on the fly for the OCR tests (`tests/readers/test_ocr.py`) and `bench/bench_ocr.py`.

* `Scans(folder).text_pdf()`: the report printed to PDF by headless Chromium (`format_fixtures.print_pdf`).
* `page_pictures(pages, dpi)`: pages of it rasterised by poppler's `pdftoppm`, as greyscale pictures.
* `image_pdf(pictures, dpi)`: pictures rebuilt into a PDF with no text layer (a scan).
* `photographed(picture)`: a page as a phone photo looks: turned 1.5°, slightly blurred, grainy.
* `cer(found, expected)`: the character error rate after normalising whitespace and hyphen characters.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from format_fixtures import print_pdf, report_html

PDFTOPPM = shutil.which("pdftoppm")


class Scans:
    """The report as a text PDF and pictures of its pages, each made once in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pdf: Path | None = None
        self._pictures: dict[tuple[int, int], Any] = {}

    def text_pdf(self) -> Path:
        if self._pdf is None:
            self._pdf = print_pdf(report_html(1)[0], self.folder, "report-text")
        return self._pdf

    def picture(self, page: int, dpi: int = 200) -> Any:
        """Page `page` (1-based) of the text PDF as `pdftoppm -r DPI -gray` draws it (a PIL picture)."""
        from PIL import Image

        if (page, dpi) not in self._pictures:
            if PDFTOPPM is None:
                pytest.skip("needs poppler-utils' pdftoppm to rasterise the scan fixtures (`apt-get install poppler-utils`)")
            stem = self.folder / f"page-{page}-{dpi}"
            subprocess.run([PDFTOPPM, "-r", str(dpi), "-gray", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                            str(self.text_pdf()), str(stem)], check=True, capture_output=True, timeout=120)
            self._pictures[page, dpi] = Image.open(f"{stem}.png").convert("L")
        return self._pictures[page, dpi]

    def text_pages(self, pages: list[int]) -> bytes:
        """A PDF of some pages (1-based) of the text PDF, text layer and all."""
        import pypdfium2 as pdfium

        source = pdfium.PdfDocument(self.text_pdf())
        out = pdfium.PdfDocument.new()
        out.import_pages(source, [p - 1 for p in pages])
        buffer = io.BytesIO()
        out.save(buffer)
        return buffer.getvalue()


def image_pdf(pictures: list[Any], dpi: int = 200) -> bytes:
    """The pictures as the pages of a PDF with no text layer, each page sized at `dpi`."""
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="PDF", save_all=True, append_images=pictures[1:], resolution=dpi)
    return buffer.getvalue()


def joined_pdf(*parts: bytes) -> bytes:
    """The pages of several PDFs, one after another, in one PDF."""
    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    for part in parts:
        out.import_pages(pdfium.PdfDocument(part))
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def photographed(picture: Any, *, seed: int = 7) -> Any:
    """The page as a photograph of it looks: turned 1.5°, a little blurred, with grain and uneven light."""
    from PIL import Image, ImageFilter

    turned = picture.convert("L").rotate(1.5, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=235)
    blurred = turned.filter(ImageFilter.GaussianBlur(0.8))
    rng = random.Random(seed)
    noise = Image.frombytes("L", blurred.size, rng.randbytes(blurred.width * blurred.height))
    grain = Image.blend(blurred, noise, 0.12)
    light = Image.linear_gradient("L").resize(grain.size).point(lambda v: 200 + v // 5)  # darker at the top
    return Image.composite(grain, light, Image.new("L", grain.size, 215))


def normal(text: str) -> str:
    """Whitespace collapsed and hyphen characters made one, for comparing an OCR text with the original."""
    for dash in "\u2010\u2011\u00ad":
        text = text.replace(dash, "-")
    return " ".join(text.split())


def cer(found: str, expected: str) -> float:
    """Edit distance (insertions, deletions, substitutions) between the normalised texts, per expected character."""
    a, b = normal(found), normal(expected)
    return edit_distance(a, b) / max(len(b), 1)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance by Hyyrö's bit-vector algorithm (one big-integer step per character of `b`)."""
    if not a:
        return len(b)
    full, top = (1 << len(a)) - 1, 1 << (len(a) - 1)
    where: dict[str, int] = {}
    for i, ch in enumerate(a):
        where[ch] = where.get(ch, 0) | (1 << i)
    pv, mv, score = full, 0, len(a)
    for ch in b:
        eq = where.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & full) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score
