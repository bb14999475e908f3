"""Read a plain-text or Markdown file: its UTF-8 text exactly, offsets into the file as decoded.

No newline translation and no normalisation, so offsets match what
`rag.ingest.parse.decode_source` gives. Markdown ATX headings ("## Title") are
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


def read(data: bytes, name: str) -> Extracted:
    """The file's text exactly as decoded, or FormatError (empty, binary, not UTF-8)."""
    from rag.ingest.parse import decode_source  # the one decoding rule; imported late, ingest imports much else

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
