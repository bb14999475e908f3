"""Render the PDF page (or the picture's frame) a cited span is on, with the span highlighted, as a PNG.

    image = page_image(Path("seeds/report.pdf"), citation.start, citation.end)
    if image is not None:
        html_src = data_uri(image)

Offsets index the text `rag.readers.read_document` extracts from the file, so
the span's character boxes come from that same extraction (cached per file
size and modification time: extraction costs far more than rendering).
Both the extraction and the drawing run in a worker process with memory and
time limits (`rag.ingest.sandbox`), and a picture holds at most MAX_PIXELS pixels
whatever the page's shape: a page too tall for `width` pixels across is drawn
narrower, so a 100 × 14,400 pt strip costs no more than a letter page.
Only the page of the span's first drawn character is rendered; a span that
runs on to the next page shows its first part.

`page_of` draws a given page (1-based) with whatever part of the span lies
on it highlighted, and says how many pages the file has: what the page
route (`ui.page_route`) serves, for the viewer's previous/next page.

Does not check that the span still holds the quoted words (`Index.verify`
does that) and does not render HTML, Word or text files: for those, and for a
missing, unreadable or changed file, `page_image` returns None instead of
raising. pypdfium2 and Pillow are imported on first use.
"""

from __future__ import annotations

import base64
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.readers import Extracted, kind_of
from rag.readers.pdf_draw import MAX_PIXELS, PageImage

log = logging.getLogger(__name__)

MAX_WIDTH = 4000  # pixels; a wider render is a mistake, not a request
PNG_PREFIX = "data:image/png;base64,"


def page_image(path: Path, start: int, end: int, *, width: int = 900) -> PageImage | None:
    """The page holding text[start:end] of the PDF at `path`, `width` pixels wide (narrower when a page so wide
    would hold more than MAX_PIXELS), the span highlighted.

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


@dataclass(frozen=True)
class Drawn:
    """One page of a PDF as the page route serves it: the picture and the file's page count."""

    image: PageImage
    pages: int


def page_of(path: Path, page: int, start: int | None = None, end: int | None = None, *,
            width: int = 900) -> Drawn | None:
    """Page `page` (1-based) of the PDF at `path`, `width` pixels wide (narrower within MAX_PIXELS), with the
    characters of text[start:end] that lie on it highlighted (no highlight without a span).

    None when the file is not a PDF, cannot be read, has no such page, or the
    span is not inside its text. InputError only for a `width` outside 1..MAX_WIDTH.
    Cached by file size and modification time, page, span and width (`CACHED` pictures).
    """
    if not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
        raise InputError(f"width must be a whole number of pixels from 1 to {MAX_WIDTH}, got {width!r}")
    try:
        stat = Path(path).stat()
        return _draw_page(Path(path), stat.st_size, stat.st_mtime_ns, page, start, end, width)
    except Exception:  # a picture we cannot make is a missing page to the caller, never a crash
        log.debug("no page %s of %s", page, path, exc_info=True)
        return None


CACHED = 48  # pictures kept in memory by `page_of` (each a few hundred kB at most: MAX_PIXELS, 256 colours)


@functools.lru_cache(maxsize=CACHED)
def _draw_page(path: Path, size: int, mtime_ns: int, page: int, start: int | None, end: int | None,
               width: int) -> Drawn | None:
    loaded = _load(path, size, mtime_ns)
    if loaded is None:
        return None
    data, extracted = loaded
    count = len(extracted.pages)
    if not isinstance(page, int) or not 1 <= page <= count:
        return None
    boxes: list[Any] = []
    if start is not None or end is not None:
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(extracted.text)):
            return None
        boxes = [b for b in extracted.boxes(start, end) if b[0] == page - 1]
    from rag.ingest.sandbox import render_page

    png, shown_width, shown_height, mark = render_page(data, page=page - 1, boxes=boxes, width=width,
                                                       max_pixels=MAX_PIXELS)
    return Drawn(PageImage(page, png, shown_width, shown_height, mark), count)


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
    from rag.ingest.sandbox import render_page

    png, shown_width, shown_height, mark = render_page(data, page=page, boxes=[b for b in boxes if b[0] == page],
                                                       width=width, max_pixels=MAX_PIXELS)
    return PageImage(page + 1, png, shown_width, shown_height, mark)


@functools.lru_cache(maxsize=4)
def _load(path: Path, size: int, mtime_ns: int) -> tuple[bytes, Extracted] | None:
    """The PDF's bytes and extracted text, or None for any other kind of file (keyed by size and mtime)."""
    data = path.read_bytes()
    if len(data) != size or kind_of(path, data) not in ("pdf", "image"):  # changed since stat: read it afresh
        return None
    from rag.ingest.sandbox import read_file

    return data, read_file(path, data)
