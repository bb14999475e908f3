"""Read a picture of text (PNG, JPEG, TIFF; each frame of a multi-page TIFF a page) by OCR.

Each frame is read by Tesseract (`rag.readers.ocr`) and laid out like a PDF's
pages (`rag.readers.pdf.lay_out`): paragraphs in reading order, page starts,
headings from larger type, and a box per character, in points (1/72 inch at
the picture's stated resolution, DEFAULT_DPI when it states none) measured
from the frame's bottom-left corner, as PDF boxes are. A frame that fails is
noted and left empty; a picture with no text, or with Tesseract missing, is
refused with the reason.

Does not read animated GIFs or WebP, and does not deskew, crop or clean a photograph.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

from rag.readers import ocr
from rag.readers.base import Extracted, FormatError, need
from rag.readers.pdf import lay_out
from rag.readers.pdf_lines import Line
from rag.readers.pdf_ocr import page_list

KINDS = {"PNG": "PNG", "JPEG": "JPEG", "TIFF": "TIFF"}
MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
MAX_FRAMES = 500
MAX_FRAME_PIXELS = 100_000_000  # a larger frame is refused before it is decoded (a decompression bomb)
DEFAULT_DPI = 300.0


def is_image(head: bytes) -> bool:
    """Whether a file's first bytes are a PNG, JPEG or TIFF signature."""
    return head.startswith(MAGIC)


def read(data: bytes, name: str, *, progress: Callable[[int, int], None] | None = None) -> Extracted:
    """The text OCR reads in each frame of a PNG, JPEG or TIFF file, laid out as pages with character boxes."""
    need("PIL", "Pillow", "images")
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(data))
        if picture.format not in KINDS:
            raise FormatError(f"unsupported picture format {picture.format}; save it as PNG, JPEG or TIFF")
        frames = getattr(picture, "n_frames", 1)
        why = ocr.missing()
        if why:
            raise FormatError(f"a picture is read by OCR: {why}")
        if frames > MAX_FRAMES:
            raise FormatError(f"the picture has {frames} pages, over the limit of {MAX_FRAMES}; split it")
        pages, boxes, notes = _read_frames(picture, frames, progress)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as err:
        raise FormatError(f"the picture cannot be read ({err}); re-save it as PNG, JPEG or TIFF") from None
    read_pages = [p for p, lines in enumerate(pages) if lines]
    if not read_pages:
        raise FormatError(notes[0] if notes else "OCR found no text in the picture")
    notes.insert(0, f"{page_list([p + 1 for p in read_pages]) if frames > 1 else 'the picture'} read by OCR "
                    f"({ocr.version()}); recognition errors are possible")
    return lay_out(pages, boxes, notes=notes, ocr=tuple(read_pages), kind="image")


def points_per_pixel(info: Mapping[Any, Any]) -> tuple[float, float]:
    """Points (1/72 inch) per pixel across and down, from a frame's stated resolution (DEFAULT_DPI if none)."""
    dpi = info.get("dpi") or (DEFAULT_DPI, DEFAULT_DPI)
    xs, ys = (72.0 / float(d) if d and float(d) > 1 else 72.0 / DEFAULT_DPI for d in dpi[:2])  # type: ignore[index]
    return xs, ys


def upright(picture: Any, index: int) -> Any:
    """Frame `index` of an opened picture, turned as its EXIF orientation says (a phone photo taken sideways);
    FormatError, before it is decoded, for a frame over MAX_FRAME_PIXELS."""
    from PIL import ImageOps

    picture.seek(index)
    if picture.width * picture.height > MAX_FRAME_PIXELS:
        raise FormatError(f"page {index + 1} of the picture is {picture.width:,} × {picture.height:,} pixels, over the "
                          f"limit of {MAX_FRAME_PIXELS:,}; scale it down")
    return ImageOps.exif_transpose(picture.copy())


def _read_frames(picture: object, frames: int, progress: Callable[[int, int], None] | None
                 ) -> tuple[list[list[Line]], list[tuple[float, float]], list[str]]:
    pages: list[list[Line]] = []
    frame_boxes: list[tuple[float, float]] = []
    notes: list[str] = []
    for k in range(frames):
        if progress:
            progress(k, frames)
        frame = upright(picture, k)
        xs, ys = points_per_pixel(frame.info)
        height = frame.height * ys
        def to_page(x: float, y: float, xs: float = xs, ys: float = ys, h: float = height) -> tuple[float, float]:
            return x * xs, h - y * ys

        try:
            lines = ocr.read_picture(frame, page=k, to_page=to_page)
        except ocr.OcrFailed as err:
            notes.append(f"p. {k + 1} could not be read: {err.reason}; its text is missing")
            lines = []
        pages.append(lines)
        frame_boxes.append((0.0, height))
    if progress:
        progress(frames, frames)
    blank = [k + 1 for k, lines in enumerate(pages) if not lines]
    if blank and frames > 1 and len(blank) < frames:
        notes.append(f"{page_list(blank)}: OCR found no text")
    return pages, frame_boxes, notes



__all__ = ["is_image", "points_per_pixel", "read", "upright"]
