"""Read a plain-text or Markdown file: its UTF-8 text exactly, offsets into the file as decoded.

No newline translation and no normalisation, so offsets match what
`decode_source` gives. Markdown ATX headings ("## Title") are
recorded as heading spans (markers included); nothing else is parsed.

Does not guess other encodings: a non-UTF-8 file is refused with a hint.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.errors import IngestError
from rag.readers.base import Extracted, FormatError

ATX = re.compile(r"(?m)^ {0,3}(#{1,6})[ \t]+[^\r\n]*[^\s]")
FENCE = re.compile(r"(?ms)^ {0,3}(```|~~~).*?(^ {0,3}\1|\Z)")


def decode_source(data: bytes, name: str) -> str:
    """UTF-8 text of a file's bytes, with no newline translation, or IngestError."""
    path = Path(name)
    if not data.strip():
        raise IngestError(f"{path.name}: the file is empty")
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path.name}: looks like a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise IngestError(
            f"{path.name}: not UTF-8 (byte {err.start}); convert it, e.g. "
            f"`iconv -f latin1 -t utf-8`"
        ) from None
    # A byte-order mark is not text; offsets still count it as one character.
    return text


def read(data: bytes, name: str) -> Extracted:
    """The file's text exactly as decoded, or FormatError (empty, binary, not UTF-8)."""
    try:
        text = decode_source(data, name)
    except IngestError as err:
        raise FormatError(str(err).removeprefix(f"{Path(name).name}: ")) from None
    headings: tuple[tuple[int, int, int], ...] = ()
    if Path(name).suffix.lower() in (".md", ".markdown"):
        fenced = [m.span() for m in FENCE.finditer(text)]
        headings = tuple(
            (m.start(), m.end(), len(m.group(1)))
            for m in ATX.finditer(text)
            if not any(a <= m.start() < b for a, b in fenced)
        )
    return Extracted(text, "text", headings=headings)
