"""Render the PDF page a cited span is on, with the span highlighted, as a PNG.

    image = page_image(Path("seeds/report.pdf"), citation.start, citation.end)
    if image is not None:
        html_src = data_uri(image)

Offsets index the text `rag.readers.read_document` extracts from the file, so
the span's character boxes come from that same extraction (cached per file
size and modification time: extraction costs far more than rendering).
Only the page of the span's first drawn character is rendered; a span that
runs on to the next page shows its first part.

Does not check that the span still holds the quoted words (`Index.verify`
does that) and does not render HTML, Word or text files: for those, and for a
missing, unreadable or changed file, `page_image` returns None instead of
raising. pypdfium2 and Pillow are imported on first use.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.readers import Box, Extracted, kind_of, read_document

log = logging.getLogger(__name__)

HIGHLIGHT = (255, 200, 0, 96)  # RGBA of the overlay: translucent yellow, so the words stay legible
PAD = 1.0  # points added around each line's box, so ascenders and descenders sit inside the mark
MAX_WIDTH = 4000  # pixels; a wider render is a mistake, not a request
PNG_PREFIX = "data:image/png;base64,"

# PDFium is not thread-safe and the chat answers on several threads: one document at a time.
_PDFIUM = threading.Lock()


@dataclass(frozen=True)
class PageImage:
    """One rendered page: `page` is 1-based, `png` the image bytes, `width`×`height` its pixel size."""

    page: int
    png: bytes
    width: int
    height: int


def page_image(path: Path, start: int, end: int, *, width: int = 900) -> PageImage | None:
    """The page holding text[start:end] of the PDF at `path`, `width` pixels wide, the span highlighted.

    None when the file is not a PDF, cannot be read, no longer has those
    offsets, or drew nothing for the span. InputError only for a `width`
    outside 1..MAX_WIDTH.
    """
    if not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
        raise InputError(f"width must be a whole number of pixels from 1 to {MAX_WIDTH}, got {width!r}")
    try:
        stat = Path(path).stat()
        return _render(Path(path), stat.st_size, stat.st_mtime_ns, start, end, width)
    except Exception:  # a picture we cannot make only costs the picture, never the answer
        log.debug("no page image for %s [%s:%s]", path, start, end, exc_info=True)
        return None


def data_uri(image: PageImage) -> str:
    """The image as a `data:image/png;base64,...` URI, for an <img src>."""
    return PNG_PREFIX + base64.b64encode(image.png).decode("ascii")


@functools.lru_cache(maxsize=64)
def _render(path: Path, size: int, mtime_ns: int, start: int, end: int, width: int) -> PageImage | None:
    loaded = _load(path, size, mtime_ns)
    if loaded is None:
        return None
    data, extracted = loaded
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(extracted.text)):
        return None
    boxes = extracted.boxes(start, end)
    if not boxes:
        return None
    page = boxes[0][0]
    with _PDFIUM:
        return _draw(data, page, [b for b in boxes if b[0] == page], width)


@functools.lru_cache(maxsize=4)
def _load(path: Path, size: int, mtime_ns: int) -> tuple[bytes, Extracted] | None:
    """The PDF's bytes and extracted text, or None for any other kind of file (keyed by size and mtime)."""
    data = path.read_bytes()
    if len(data) != size or kind_of(path, data) != "pdf":  # changed since stat: the next call reads it afresh
        return None
    with _PDFIUM:
        return data, read_document(path, data)


def _draw(data: bytes, index: int, boxes: list[Box], width: int) -> PageImage:
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    doc = pdfium.PdfDocument(data)
    try:
        page = doc[index]
        left, bottom, right, top = page.get_cropbox()
        rotation = page.get_rotation()
        shown_width = page.get_width()  # as shown: the crop box, turned by /Rotate
        scale = width / shown_width
        while math.ceil(shown_width * scale) > width:  # PDFium rounds the bitmap up: 900/612*612 is 900.0000001
            scale = math.nextafter(scale, 0)
        picture = page.render(scale=scale).to_pil().convert("RGBA")
    finally:
        doc.close()
    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    to_pixels = _mapping(left, bottom, right, top, rotation, scale)
    for _, x0, y0, x1, y1 in boxes:
        (ax, ay), (bx, by) = to_pixels(x0 - PAD, y0 - PAD), to_pixels(x1 + PAD, y1 + PAD)
        draw.rectangle((min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)), fill=HIGHLIGHT)
    # A text page is greys on white plus the same greys tinted: in a 256-colour palette no pixel moves
    # by more than a few levels, and the PNG (sent inside the chat message) is three times smaller.
    composed = Image.alpha_composite(picture, overlay).convert("RGB")
    shown = composed.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    shown.save(out, format="PNG", optimize=True)
    return PageImage(index + 1, out.getvalue(), picture.width, picture.height)


def _mapping(left: float, bottom: float, right: float, top: float, rotation: int, scale: float) -> Any:
    """PDF points (origin bottom-left of the page space) to pixels of the page as PDFium shows it.

    PDFium renders the crop box turned clockwise by the page's /Rotate, so a
    point's distance from the crop box's top-left corner moves with it.
    """
    w, h = right - left, top - bottom

    def to_pixels(x: float, y: float) -> tuple[float, float]:
        u, v = x - left, top - y  # from the unrotated page's top-left, pointing right and down
        turned = {0: (u, v), 90: (h - v, u), 180: (w - u, h - v), 270: (v, w - u)}[rotation % 360]
        return turned[0] * scale, turned[1] * scale

    return to_pixels
