"""OCR the pages of a PDF that have no text layer: render each at `ocr.DPI` with PDFium, read it with Tesseract.

Glyph boxes come back in the page's own coordinates (PDF points, the space
PDFium reports text-layer boxes in), whatever the page's crop box and
/Rotate, so a quote read by OCR is cited and highlighted on its page like
any other. A page that fails (Tesseract missing, out of time, broken
picture) is left empty with a note saying why; the other pages go on.
`progress(done, total)` hears each page as it is finished.

Does not OCR pages that have a text layer, however little it holds, and does
not add a text layer to the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag.readers import ocr
from rag.readers.pdf_lines import Line

Progress = Callable[[int, int], None]


def page_list(pages: list[int]) -> str:
    """1-based page numbers as people write them: "p. 3", "pp. 1–4, 7", at most ten shown."""
    runs: list[list[int]] = []
    for p in sorted(pages):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    shown = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs[:10]]
    more = ", ..." if len(runs) > 10 else ""
    return ("p. " if len(pages) == 1 else "pp. ") + ", ".join(shown) + more


def ocr_pages(doc: Any, pdfium: Any, empty: list[int], progress: Progress | None) -> tuple[dict[int, list[Line]], list[str]]:
    """The lines OCR reads on each 0-based page of `empty` (pages it read nothing on are left out), and the notes."""
    why = ocr.missing()
    if why:
        one = len(empty) == 1
        return {}, [f"{page_list([p + 1 for p in empty])} {'has' if one else 'have'} no text layer (scanned?) and "
                    f"{'was' if one else 'were'} not read: {why}"]
    found: dict[int, list[Line]] = {}
    blank: list[int] = []
    notes: list[str] = []
    for done, p in enumerate(empty):
        if progress:
            progress(done, len(empty))
        try:
            lines = _read_page(doc, pdfium, p)
        except ocr.OcrFailed as err:
            notes.append(f"p. {p + 1} has no text layer and could not be read: {err.reason}; its text is missing")
            continue
        if lines:
            found[p] = lines
        else:
            blank.append(p + 1)
    if progress:
        progress(len(empty), len(empty))
    if found:
        notes.insert(0, f"{page_list([p + 1 for p in found])} read by OCR ({ocr.version()}); "
                        "recognition errors are possible")
    if blank:
        one = len(blank) == 1
        notes.append(f"{page_list(blank)} {'has' if one else 'have'} no text layer (scanned?), and OCR found no "
                     f"text on {'it' if one else 'them'}")
    return found, notes


def _read_page(doc: Any, pdfium: Any, p: int) -> list[Line]:
    try:
        page = doc[p]
        try:
            left, bottom, right, top = page.get_cropbox()
            rotation = page.get_rotation() % 360
            shown = page.get_width() * page.get_height()
            scale = min(ocr.DPI / 72, (ocr.MAX_PIXELS / max(shown, 1.0)) ** 0.5)
            picture = page.render(scale=scale, grayscale=True).to_pil()
        finally:
            page.close()
    except pdfium.PdfiumError as err:
        raise ocr.OcrFailed(f"PDFium could not draw it ({err})") from None
    w, h = right - left, top - bottom

    def to_page(x: float, y: float) -> tuple[float, float]:
        """A pixel of the page as PDFium drew it (turned by /Rotate) to a point of the page space."""
        a, b = x / scale, y / scale
        u, v = {0: (a, b), 90: (b, h - a), 180: (w - a, h - b), 270: (w - b, a)}.get(rotation, (a, b))
        return left + u, top - v

    return ocr.read_picture(picture, page=p, to_page=to_page)


__all__ = ["ocr_pages", "page_list"]
