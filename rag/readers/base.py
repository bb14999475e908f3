"""The record every format reader returns, its error, and a helper to assemble text.

`Extracted.text` is the text that all citation offsets index. Readers derive it
from the file (whitespace normalised, furniture dropped), so it is not the
file's bytes; what was left out is said in `notes`. PDFs also keep, per
character of `text`, where it was drawn, so a cited span can be highlighted.

Does not pick a reader (that is `rag.readers.read_document`) and does not
classify or chunk the text (that is `rag.ingest.parse` and `rag.ingest.chunk`).
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field

from rag.errors import IngestError, InputError

Box = tuple[int, float, float, float, float]  # page index, left, bottom, right, top (PDF points)


class FormatError(IngestError):
    """A file cannot be read as its format: `reason` is one line saying why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CharBoxes:
    """Where each character of a text was drawn, packed: page index (-1: synthetic) and box.

    `page` holds one int32 per character, `box` four float32 (left, bottom,
    right, top); bytes keep the record immutable and small (20 bytes a
    character).
    """

    page: bytes
    box: bytes

    @classmethod
    def pack(cls, pages: array, boxes: array) -> CharBoxes:
        return cls(pages.tobytes(), boxes.tobytes())

    def __len__(self) -> int:
        return len(self.page) // 4

    def boxes(self, start: int, end: int) -> list[Box]:
        """One rectangle per drawn line the span [start, end) touches, in text order."""
        pages = memoryview(self.page).cast("i")
        coords = memoryview(self.box).cast("f")
        out: list[list[float]] = []
        last_page = -1
        for i in range(start, end):
            page = pages[i]
            if page < 0:
                continue
            left, bottom, right, top = coords[4 * i : 4 * i + 4]
            if out and page == last_page and _same_line(out[-1], left, bottom, top):
                cur = out[-1]
                cur[1], cur[2], cur[3], cur[4] = min(cur[1], left), min(cur[2], bottom), max(cur[3], right), max(cur[4], top)
            else:
                out.append([page, left, bottom, right, top])
            last_page = page
        return [(int(b[0]), b[1], b[2], b[3], b[4]) for b in out]


def _same_line(cur: list[float], left: float, bottom: float, top: float) -> bool:
    """The next character continues the rectangle: to the right of its start and overlapping it vertically."""
    overlap = min(cur[4], top) - max(cur[2], bottom)
    return left >= cur[1] - 1 and overlap > 0.5 * min(cur[4] - cur[2], top - bottom)


@dataclass(frozen=True)
class Extracted:
    """A document's text as one reader made it, with the structure it could see."""

    text: str
    kind: str  # "pdf", "image", "html", "docx" or "text"
    pages: tuple[int, ...] = ()  # start offset in `text` of each page (paged formats only)
    headings: tuple[tuple[int, int, int], ...] = ()  # (start, end, level) spans in `text`
    notes: tuple[str, ...] = ()  # one-line notices: what was dropped, what could not be read
    geometry: CharBoxes | None = field(default=None, repr=False)
    title: str | None = None  # the title as the file shows it (a PDF's largest first-page text), when a reader sees one
    ocr_pages: tuple[int, ...] = ()  # 0-based pages whose text was read by OCR (no text layer)

    def boxes(self, start: int, end: int) -> list[Box]:
        """Page rectangles (page index, left, bottom, right, top) covering text[start:end]; [] if not a PDF."""
        if not 0 <= start <= end <= len(self.text):
            raise InputError(f"span ({start}, {end}) is outside the text (0..{len(self.text)}); pass 0 <= start <= end")
        return self.geometry.boxes(start, end) if self.geometry is not None else []

    def page_of(self, offset: int) -> int | None:
        """The 0-based page holding character `offset`, or None if the format has no pages."""
        return bisect.bisect_right(self.pages, offset) - 1 if self.pages else None


class TextBuilder:
    """Assembles blocks into text: blocks are separated by a blank line, headings recorded as spans.

    Whitespace inside a block is collapsed to single spaces (HTML and DOCX
    whitespace is layout, not content); lines of a multi-line block (list
    items, table rows) are kept on their own lines.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.headings: list[tuple[int, int, int]] = []

    def block(self, text: str, *, level: int = 0) -> None:
        lines = [" ".join(line.split()) for line in text.splitlines()]
        body = "\n".join(line for line in lines if line)
        if not body:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.size += 2
        if level:
            self.headings.append((self.size, self.size + len(body), min(level, 6)))
        self.parts.append(body)
        self.size += len(body)

    def lines(self, lines: list[str]) -> None:
        self.block("\n".join(" ".join(line.split()) for line in lines))

    def build(self, kind: str, notes: list[str]) -> Extracted:
        return Extracted("".join(self.parts), kind, headings=tuple(self.headings), notes=tuple(notes))


def table_row(cells: list[str]) -> str:
    """A table row as a Markdown pipe-table line, "| a | b |", which ingestion keeps as one table unit."""
    return "| " + " | ".join(" ".join(c.split()) for c in cells) + " |"


def need(module: str, package: str, kind: str) -> None:
    """Raise FormatError saying what to install when a reader's library is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise FormatError(f"reading {kind} needs the {package} package; install it with `pip install {package}`")
