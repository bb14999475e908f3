"""Read a Word .docx (python-docx): body paragraphs and tables in document order.

Headings come from paragraph styles (Title, Heading 1-6, and styles based on
them) and are recorded in `headings`; list paragraphs (numbered or in a List
style) become "- item" lines of one block; each table row becomes one line,
as "| a | b |". Blocks are separated by a blank line.

The archive is checked before parsing: its total uncompressed size and
member count must be under limits, so a zip bomb is refused with the numbers.

Does not read headers, footers, footnotes, comments, text boxes or tracked
changes, and does not render list numbers (they are not text in the file).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from rag.readers.base import Extracted, FormatError, TextBuilder, need, table_row

MAX_BYTES = 100 * 2**20
MAX_UNPACKED = 300 * 2**20
MAX_MEMBERS = 5000
HEADING_STYLE = re.compile(r"(?i)^heading\s*([1-9])$")


def read(data: bytes, name: str) -> Extracted:
    """The text of a .docx file's body, with its headings."""
    if len(data) > MAX_BYTES:
        raise FormatError(f"the .docx is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit")
    check_archive(data)
    need("docx", "python-docx", ".docx files")
    import docx
    from docx.opc.exceptions import OpcError
    from lxml import etree

    # python-docx reports a malformed package by whatever fails first: a missing part, bad XML, or an
    # attribute its reader expected.
    failures = (OpcError, etree.LxmlError, KeyError, ValueError, AttributeError, TypeError, zipfile.BadZipFile)
    try:
        return _read(docx.Document(io.BytesIO(data)))
    except failures as err:
        raise FormatError(f"the .docx cannot be read ({type(err).__name__}: {err}); re-save it from Word") from None


def _read(document: Any) -> Extracted:
    from docx.table import Table

    out = TextBuilder()
    items: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            out.lines(items)
            items = []
            out.lines(_rows(block))
            continue
        text = " ".join(block.text.split())  # a soft line break inside a paragraph is layout
        if _is_list_item(block):
            items.append("- " + text)
            continue
        out.lines(items)
        items = []
        out.block(text, level=_heading_level(block.style))
    out.lines(items)
    return out.build("docx", [])


def check_archive(data: bytes) -> None:
    """FormatError unless `data` is a zip with word/document.xml that unpacks within the limits."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise FormatError(f"not a valid .docx: not a zip archive ({err}); re-save it from Word") from None
    if len(members) > MAX_MEMBERS:
        raise FormatError(f"the .docx holds {len(members):,} files, over the limit of {MAX_MEMBERS:,}")
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED:
        raise FormatError(f"the .docx unpacks to {total:,} bytes from {len(data):,}, over the {MAX_UNPACKED:,}-byte "
                          "limit (a zip bomb?); refusing to open it")
    if not any(m.filename == "word/document.xml" for m in members):
        raise FormatError("not a .docx: the zip has no word/document.xml (a spreadsheet or slides?); save it as .docx")


def _heading_level(style: Any) -> int:
    """1-6 for Title and Heading N styles (or styles based on them), else 0."""
    seen = 0
    while style is not None and seen < 10:
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 1
        m = HEADING_STYLE.match(name)
        if m:
            return min(int(m.group(1)), 6)
        style, seen = style.base_style, seen + 1
    return 0


def _is_list_item(paragraph: Any) -> bool:
    ppr = paragraph._p.pPr
    if ppr is not None and ppr.numPr is not None:
        return True
    name = (paragraph.style.name or "") if paragraph.style is not None else ""
    return name.lower().startswith("list")


def _rows(table: Any) -> list[str]:
    """One "| a | b |" line per row; a merged cell counts once."""
    lines = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(" ".join(cell.text.split()))
        lines.append(table_row(cells))
    return lines
