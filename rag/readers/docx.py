"""Read a Word .docx (python-docx): body paragraphs and tables in document order.

Headings come from paragraph styles (Title, Heading 1-6, and styles based on
them) and are recorded in `headings`; list paragraphs (numbered or in a List
style) become "- item" lines of one block; each table row becomes one line,
as "| a | b |". Blocks are separated by a blank line.

The archive is checked before parsing, so a zip bomb is refused with the
numbers: by its directory (the member count, the total size it declares, and
no member over 1 MiB that unpacks to more than MAX_RATIO times its packed size,
the rule Apache POI applies to Office files), then by unpacking every member
as a stream and counting the bytes it really yields, stopping at what its
directory declared (a lying directory is refused, never believed).
`check_directory` is the first half alone, cheap enough for an upload.

Does not read headers, footers, footnotes, comments, text boxes or tracked
changes, and does not render list numbers (they are not text in the file).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from typing import Any

from rag.readers.base import Extracted, FormatError, TextBuilder, need, table_row

MAX_BYTES = 100 * 2**20
MAX_UNPACKED = 300 * 2**20
MAX_MEMBERS = 5000
MAX_RATIO = 100  # unpacked bytes per packed byte of one member; Word's XML packs about 5 to 20 times
RATIO_FROM = 2**20  # members smaller than this unpacked are not held to MAX_RATIO
CHUNK = 2**20
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


def declared_members(data: bytes) -> int | None:
    """How many files the zip's end record says it holds (65,535 or more for a zip64 archive), read from the
    last 64 KiB alone; None when there is no end record."""
    tail = data[-(65_536 + 22):]
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 12:
        return None
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def check_directory(data: bytes) -> list[zipfile.ZipInfo]:
    """The zip's members, or FormatError unless it has word/document.xml and its directory declares sizes
    within the limits. Reads only the directory, and not even that when its end record declares too many
    files: nothing is unpacked."""
    declared = declared_members(data)
    if declared is not None and declared > MAX_MEMBERS:
        raise FormatError(f"the .docx holds {declared:,} files or more, over the limit of {MAX_MEMBERS:,}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise FormatError(f"not a valid .docx: not a zip archive ({err}); re-save it from Word") from None
    if len(members) > MAX_MEMBERS:
        raise FormatError(f"the .docx holds {len(members):,} files, over the limit of {MAX_MEMBERS:,}")
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED:
        raise FormatError(f"the .docx unpacks to {total:,} bytes from {len(data):,}, over the {MAX_UNPACKED:,}-byte "
                          "limit (a zip bomb?); refusing to open it")
    for m in members:
        if m.file_size > RATIO_FROM and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise FormatError(f"the .docx part {m.filename} unpacks to {m.file_size:,} bytes from "
                              f"{m.compress_size:,}, over {MAX_RATIO} times (a zip bomb?); refusing to open it")
    if not any(m.filename == "word/document.xml" for m in members):
        raise FormatError("not a .docx: the zip has no word/document.xml (a spreadsheet or slides?); save it as .docx")
    return members


def check_archive(data: bytes) -> None:
    """`check_directory`, then every member unpacked as a stream: FormatError when one yields more bytes than
    the directory declares for it (those bytes are never kept) or cannot be unpacked."""
    members = check_directory(data)
    view = memoryview(data)
    for m in members:
        start = _data_start(view, m)
        packed = view[start : start + m.compress_size]
        try:
            actual = _unpacked_size(packed, m)
        except zlib.error as err:
            raise FormatError(f"the .docx part {m.filename} cannot be unpacked ({err}); re-save it from Word") from None
        if actual > m.file_size:
            raise FormatError(f"the .docx part {m.filename} unpacks to more than the {m.file_size:,} bytes its zip "
                              "directory declares (a zip bomb?); refusing to open it")


def _data_start(view: memoryview, m: zipfile.ZipInfo) -> int:
    """Where member `m`'s packed bytes start: after its local header (30 bytes, its name and its extra field)."""
    head = bytes(view[m.header_offset : m.header_offset + 30])
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise FormatError(f"not a valid .docx: the zip entry {m.filename} is damaged; re-save it from Word")
    return m.header_offset + 30 + int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little")


def _unpacked_size(packed: memoryview, m: zipfile.ZipInfo) -> int:
    """The bytes `m` unpacks to, counted up to one past its declared size (never more is unpacked)."""
    if m.compress_type == zipfile.ZIP_STORED:
        return len(packed)
    if m.compress_type != zipfile.ZIP_DEFLATED:
        raise FormatError(f"the .docx part {m.filename} is packed with method {m.compress_type}, which Word does "
                          "not use; re-save it from Word")
    unpacker = zlib.decompressobj(-15)
    cap, count = m.file_size + 1, 0
    for at in range(0, len(packed), CHUNK):
        chunk = bytes(packed[at : at + CHUNK])
        while chunk and count < cap:
            count += len(unpacker.decompress(chunk, min(CHUNK, cap - count)))
            chunk = unpacker.unconsumed_tail
        if count >= cap:
            return count
    return count + len(unpacker.flush())


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
