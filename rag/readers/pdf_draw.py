"""Draw one PDF page (or a frame of a picture read by OCR) as a PNG with some spans of its text highlighted, within a pixel budget.

`draw` is what the reading worker runs (`rag.ingest.sandbox_worker`); callers
ask for a cited page with `ui.pages.page_image`, which finds the span's
character boxes and sends both to the worker. Whatever the page's shape, a
picture holds at most MAX_PIXELS pixels: a page too tall for the width asked
is drawn narrower.

Does not read text or find boxes, and does not cache. pypdfium2 and Pillow
are imported on first use.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from rag.readers import Box, image

HIGHLIGHT = (255, 200, 0, 96)  # RGBA of the overlay: translucent yellow, so the words stay legible
PAD = 1.0  # points added around each line's box, so ascenders and descenders sit inside the mark
MAX_PIXELS = 2_000_000  # width × height of one picture: an A4 page 900 pixels wide is 1.15 million


@dataclass(frozen=True)
class PageImage:
    """One rendered page: `page` is 1-based, `png` the image bytes, `width`×`height` its pixel size, `mark` the
    pixel rectangle (left, top, right, bottom) around every highlight (None without one)."""

    page: int
    png: bytes
    width: int
    height: int
    mark: tuple[int, int, int, int] | None = None


def draw(data: bytes, index: int, boxes: list[Box], width: int, max_pixels: int = MAX_PIXELS) -> PageImage:
    """Page `index` of the PDF `data` (or frame `index` of a PNG, JPEG or TIFF picture), `width` pixels wide or
    narrower to stay within `max_pixels`, `boxes` highlighted. Runs in the worker (`rag.ingest.sandbox_worker`);
    call `page_image` instead."""
    if image.is_image(data[:16]):
        return _draw_picture(data, index, boxes, width, max_pixels)
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        page = doc[index]
        left, bottom, right, top = page.get_cropbox()
        rotation = page.get_rotation()
        shown_width = page.get_width()  # as shown: the crop box, turned by /Rotate
        shown_height = page.get_height()
        scale = min(width / shown_width, math.sqrt(max_pixels / max(shown_width * shown_height, 1e-6)))
        while math.ceil(shown_width * scale) * math.ceil(shown_height * scale) > max_pixels:
            scale *= 0.999  # PDFium rounds each side up, by under a pixel
        while math.ceil(shown_width * scale) > width:  # PDFium rounds the bitmap up: 900/612*612 is 900.0000001
            scale = math.nextafter(scale, 0)
        picture = page.render(scale=scale).to_pil().convert("RGBA")
    finally:
        doc.close()
    return _highlighted(picture, index, boxes, _mapping(left, bottom, right, top, rotation, scale))


def _draw_picture(data: bytes, index: int, boxes: list[Box], width: int, max_pixels: int) -> PageImage:
    """Frame `index` of a picture, scaled as `draw` scales a page; boxes are in points from its bottom-left corner
    at its stated resolution (`rag.readers.image`)."""
    from PIL import Image

    source = image.upright(Image.open(io.BytesIO(data)), index)
    xs, ys = image.points_per_pixel(source.info)
    scale = min(width / source.width, math.sqrt(max_pixels / max(source.width * source.height, 1)))
    size = (max(1, min(width, int(source.width * scale))), max(1, int(source.height * scale)))
    picture = source.convert("RGBA").resize(size)
    tall = source.height * ys

    def to_pixels(x: float, y: float) -> tuple[float, float]:
        return x / xs * scale, (tall - y) / ys * scale

    return _highlighted(picture, index, boxes, to_pixels)


def _highlighted(picture: Any, index: int, boxes: list[Box], to_pixels: Any) -> PageImage:
    """The picture with each box (in page points, mapped by `to_pixels`) tinted, as a palette PNG."""
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    drawn: list[tuple[float, float, float, float]] = []
    for _, x0, y0, x1, y1 in boxes:
        (ax, ay), (bx, by) = to_pixels(x0 - PAD, y0 - PAD), to_pixels(x1 + PAD, y1 + PAD)
        drawn.append((min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)))
        pen.rectangle(drawn[-1], fill=HIGHLIGHT)
    mark = None
    if drawn:
        mark = (max(0, math.floor(min(d[0] for d in drawn))), max(0, math.floor(min(d[1] for d in drawn))),
                min(picture.width, math.ceil(max(d[2] for d in drawn))),
                min(picture.height, math.ceil(max(d[3] for d in drawn))))
    # A text page is greys on white plus the same greys tinted: in a 256-colour palette no pixel moves
    # by more than a few levels, and the PNG (sent inside the chat message) is three times smaller.
    composed = Image.alpha_composite(picture, overlay).convert("RGB")
    shown = composed.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    shown.save(out, format="PNG", optimize=True)
    return PageImage(index + 1, out.getvalue(), picture.width, picture.height, mark)


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
