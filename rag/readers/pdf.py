"""Read a PDF's text layer (pypdfium2) into paragraphs in reading order, with a box per character.

Lines of a paragraph are joined with one space, even across column and page
breaks, so a quote never stops at a line end; paragraphs are separated by a
blank line. A line that ends in a hyphen is joined to the next with no space
("hyphen-" + "ation" gives "hyphen-ation", "policykit-" + "1" gives "policykit-1"): the characters stay as PDFium
reports them (it already spells a ligature glyph as its letters, "fi"), and
search de-hyphenates later. Running
headers, footers and page numbers are dropped (see `pdf_layout`) and reported
in `notes`; so are pages without a text layer. The title is the first
page's largest text (`rag.readers.pdf_title`).

A page without a text layer is read by OCR (`rag.readers.pdf_ocr`, with
Tesseract) when it is installed: its words become lines with boxes like a text layer's, and `notes`
and `Extracted.ocr_pages` say which pages were read so. Without Tesseract such a page is noted and left
empty, and a PDF with no text layer at all is refused with what to install.

A page's text is counted before it is read: when the text layer (or the
number of drawn objects) of the pages so far comes to more than
MAX_CHARS_PER_BYTE characters (MAX_OBJECTS_PER_BYTE objects) per byte of the
file, beyond a free allowance, the file is refused. Pages that all draw one
highly compressed content stream are a decompression bomb; an honest PDF
holds a few characters per byte.

Does not decrypt password-protected files, or read annotations, form fields
and attachments.
"""

from __future__ import annotations

import dataclasses
import statistics
from array import array
from collections.abc import Callable
from typing import Any

from rag.readers.base import CharBoxes, Extracted, FormatError, need
from rag.readers.pdf_lines import SPACE, Glyph, Line, body_size, drop_furniture, make_line, paragraphs, reading_order
from rag.readers.pdf_ocr import ocr_pages
from rag.readers.pdf_title import first_page_title

MAX_BYTES = 200 * 2**20
MAX_PAGES = 2000
FREE_CHARS = 200_000  # characters any PDF may hold, whatever its size
MAX_CHARS_PER_BYTE = 10  # beyond FREE_CHARS; compressed text streams hold 2 to 4 characters a byte
FREE_OBJECTS = 100_000  # drawn objects (text runs, paths, images) any PDF may hold
MAX_OBJECTS_PER_BYTE = 2  # beyond FREE_OBJECTS
HYPHENS = "-\u2010\u00ad"
HEADING_SCALE = 1.15  # a paragraph this much larger than the body text is a heading


def read(data: bytes, name: str, *, progress: Callable[[int, int], None] | None = None) -> Extracted:
    """The text of a PDF's bytes, in reading order, with page starts, headings and character boxes.

    Pages without a text layer are read by OCR; `progress(done, total)` hears each such page as it is read."""
    if len(data) > MAX_BYTES:
        raise FormatError(f"the PDF is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit; split it into parts")
    need("pypdfium2", "pypdfium2", "PDF files")
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        raise FormatError(_open_error(str(err), data)) from None
    try:
        if len(doc) > MAX_PAGES:
            raise FormatError(f"the PDF has {len(doc)} pages, over the limit of {MAX_PAGES}; "
                              "split it (e.g. `qpdf --split-pages=1000 in.pdf out.pdf`)")
        pages, frames, notes = _read_pages(doc, pdfium, len(data))
        empty = [p for p, lines in enumerate(pages) if not lines]
        read_by_ocr, ocr_notes = ocr_pages(doc, pdfium, empty, progress) if empty else ({}, [])
        meta_title = doc.get_metadata_dict().get("Title", "")
    finally:
        doc.close()
    if len(empty) == len(pages) and not read_by_ocr:
        raise FormatError(f"no page has a text layer (a scanned PDF?), and {_no_ocr(ocr_notes)}")
    for p, lines in read_by_ocr.items():
        pages[p] = lines
    title, title_lines = first_page_title(pages[0] if pages else [], meta_title)
    extracted = lay_out(pages, frames, notes=ocr_notes + notes, ocr=tuple(sorted(read_by_ocr)), title_lines=title_lines)
    return dataclasses.replace(extracted, title=title)


def _no_ocr(notes: list[str]) -> str:
    """Why OCR gave no text, from its notes: not installed, failed, or found nothing."""
    reason = notes[0] if notes else "OCR found no text"
    for cut in ("not read: ", "could not be read: "):
        if cut in reason:
            return reason.split(cut, 1)[1]
    return "OCR found no text on any page"


def lay_out(pages: list[list[Line]], frames: list[tuple[float, float]], *, notes: list[str],
            ocr: tuple[int, ...] = (), kind: str = "pdf", title_lines: Any = ()) -> Extracted:
    """Pages of lines (a text layer's or OCR's) as text: furniture dropped (the title's lines stay, whatever later
    pages repeat), reading order, paragraphs, boxes."""
    pages, dropped = drop_furniture(pages, frames, title_lines)
    ordered = [ln for p, lines in enumerate(pages) for ln in reading_order(p, lines)]
    extracted = _assemble(paragraphs(ordered), len(pages))
    return dataclasses.replace(extracted, kind=kind, notes=tuple(notes + dropped), ocr_pages=ocr)


def _open_error(message: str, data: bytes) -> str:
    if "password" in message.lower():
        return ("the PDF is encrypted and needs a password; save an unencrypted copy "
                "(e.g. `qpdf --decrypt --password=PW in.pdf out.pdf`) and add that")
    if "security" in message.lower():
        return "the PDF is encrypted with an unsupported security scheme; save an unencrypted copy and add that"
    detail = message.split("(PDFium: ")[-1].rstrip(").") or message
    if b"%PDF-" not in data[:1024]:
        return f"not a PDF file (no %PDF- header; PDFium: {detail.lower()})"
    cut = "" if b"%%EOF" in data[-2048:] else "; it has no %%EOF marker, so it was probably cut off"
    return f"the PDF cannot be read (PDFium: {detail.lower()}){cut}; re-download or re-export it"


def _read_pages(doc: Any, pdfium: Any, size: int) -> tuple[list[list[Line]], list[tuple[float, float]], list[str]]:
    """Each page's lines and its (bottom, top) frame; a page PDFium cannot read is noted and left empty.
    FormatError as soon as the pages so far hold more text or objects than a file of `size` bytes may."""
    pages: list[list[Line]] = []
    frames: list[tuple[float, float]] = []
    notes: list[str] = []
    chars = objects = 0
    max_chars, max_objects = FREE_CHARS + MAX_CHARS_PER_BYTE * size, FREE_OBJECTS + MAX_OBJECTS_PER_BYTE * size
    for p in range(len(doc)):
        try:
            page = doc[p]
            _, bottom, _, top = page.get_bbox()
            objects += pdfium.raw.FPDFPage_CountObjects(page.raw)
            textpage = page.get_textpage()
            chars += max(textpage.count_chars(), 0)
            if chars > max_chars or objects > max_objects:
                textpage.close()
                page.close()
                raise FormatError(_bomb(p + 1, chars, objects, size))
            lines = _page_lines(p, textpage, pdfium.raw)
            textpage.close()
            page.close()
        except pdfium.PdfiumError as err:
            notes.append(f"p. {p + 1} could not be read ({err}); its text is missing")
            lines, bottom, top = [], 0.0, 792.0
        pages.append(lines)
        frames.append((bottom, top))
    return pages, frames, notes


def _bomb(pages: int, chars: int, objects: int, size: int) -> str:
    found = f"{chars:,} characters" if chars > FREE_CHARS + MAX_CHARS_PER_BYTE * size else f"{objects:,} drawn objects"
    return (f"its first {pages:,} pages hold {found} in a file of {size:,} bytes, more than a PDF that size can "
            "honestly hold (pages drawing one compressed stream over and over?); refusing to read it")


def _page_lines(p: int, textpage: Any, raw: Any) -> list[Line]:
    """The page's text layer as lines, split where PDFium ends a line or the baseline jumps."""
    lines: list[Line] = []
    run: list[Glyph] = []
    last: Glyph | None = None  # the run's last drawn glyph

    def end_run() -> None:
        nonlocal last
        line = make_line(p, run)
        if line is not None:
            lines.append(line)
        run.clear()
        last = None

    count = textpage.count_chars()
    i = 0
    while i < count:
        code = raw.FPDFText_GetUnicode(textpage, i)
        ch, step = _char(code, raw.FPDFText_GetUnicode(textpage, i + 1) if i + 1 < count else 0)
        generated = raw.FPDFText_IsGenerated(textpage, i) == 1
        if ch in ("\r", "\n"):
            end_run()
        elif generated or ch.isspace():  # PDFium adds spaces between words; they have no box
            run.append(SPACE)
        elif ch:
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            if last is not None and _new_line(last, left, bottom, top):
                end_run()
            last = (ch, True, left, bottom, right, top)
            run.append(last)
        i += step
    end_run()
    return lines


def _char(code: int, following: int) -> tuple[str, int]:
    """The character at a text-layer position and how many positions it takes (surrogate pairs take two)."""
    if 0xD800 <= code < 0xDC00 and 0xDC00 <= following < 0xE000:
        return chr(0x10000 + ((code - 0xD800) << 10) + (following - 0xDC00)), 2
    if code == 2:  # PDFium's mark for a hyphen it found at a line end
        return "-", 1
    if code == 9:
        return " ", 1
    if code < 32 or 0xD800 <= code < 0xE000 or code in (0xFFFE, 0xFFFF) or code > 0x10FFFF:
        return "", 1
    return chr(code), 1


def _new_line(prev: Glyph, left: float, bottom: float, top: float) -> bool:
    """The next glyph starts a new line: its middle is off the previous glyph's line, or it jumps far back."""
    size = max(prev[5] - prev[3], 1.0)
    middle = (bottom + top) / 2
    return not prev[3] - 0.1 * size < middle < prev[5] + 0.1 * size or left < prev[2] - 2 * size


def _assemble(paras: list[list[Line]], n_pages: int) -> Extracted:
    """Join lines into paragraphs of text, recording page starts, headings and each character's box."""
    text: list[str] = []
    where = array("i")
    boxes = array("f")
    starts: list[int | None] = [None] * n_pages
    size = 0

    def put(s: str, page: int = -1, box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)) -> None:
        nonlocal size
        text.append(s)
        size += len(s)
        for _ in s:
            where.append(page)
            boxes.extend(box)

    body = body_size([ln for para in paras for ln in para])
    head_sizes: list[float] = []
    spans: list[tuple[int, int, float]] = []
    for para in paras:
        if size:
            put("\n\n")
        first = size
        for k, ln in enumerate(para):
            if k:
                prev = para[k - 1].text
                joined = prev[-1:] in HYPHENS and prev[-2:-1].isalnum() and ln.text[:1].isalnum()
                if not joined:
                    put(" ")
            if starts[ln.page] is None:
                starts[ln.page] = size
            for ch, drawn, left, bottom, right, top in ln.glyphs:
                put(ch, ln.page if drawn else -1, (left, bottom, right, top))
        psize = statistics.median(ln.size for ln in para)
        if psize >= body * HEADING_SCALE and len(para) <= 3 and size - first <= 200:
            spans.append((first, size, psize))
            head_sizes.append(round(psize))
    levels = {s: i + 1 for i, s in enumerate(sorted(set(head_sizes), reverse=True))}
    headings = tuple((a, b, min(levels[round(s)], 6)) for a, b, s in spans)
    page_starts: list[int] = []
    for s in reversed(starts):  # a page with no text starts where the next page does
        page_starts.append(s if s is not None else (page_starts[-1] if page_starts else size))
    return Extracted("".join(text), "pdf", tuple(reversed(page_starts)), headings,
                     geometry=CharBoxes.pack(where, boxes))
