"""Pick a reader by a file's content and name, and read it into one `Extracted` record.

Content decides first (a PDF named .txt is still a PDF): %PDF- magic bytes,
a zip holding word/document.xml, a PNG, JPEG or TIFF signature, or an HTML
document start; then the extension. Each reader lives in its own module with
the same signature, `read(data, name) -> Extracted`, and imports its heavy
library only when called; the PDF and picture readers, which may OCR pages,
also take `progress(done, total)` for the pages they OCR.

Does not walk folders or classify the text into blocks: that is `rag.ingest.parse`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rag.readers.docx as docx
import rag.readers.html as html
import rag.readers.image as image
import rag.readers.pdf as pdf
import rag.readers.plain as text
from rag.readers.base import Box, CharBoxes, Extracted, FormatError

READERS: dict[str, Callable[..., Extracted]] = {
    "pdf": pdf.read,
    "image": image.read,
    "html": html.read,
    "docx": docx.read,
    "text": text.read,
}
BY_SUFFIX = {".txt": "text", ".md": "text", ".markdown": "text", ".pdf": "pdf", ".html": "html", ".htm": "html",
             ".docx": "docx", ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image"}
PAGED = ("pdf", "image")  # readers that OCR pages and report progress
SUFFIXES = tuple(BY_SUFFIX)


def sniff(data: bytes, suffix: str = "") -> str | None:
    """The kind a file's first bytes show, or None when they show nothing known."""
    head = data[:1024]
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    # A text file may quote "%PDF-" or "<html>"; any other file that has them this early is one.
    texty = BY_SUFFIX.get(suffix) == "text"
    if start.startswith(b"%pdf-") or (not texty and b"%PDF-" in head):
        return "pdf"
    if image.is_image(head) and not texty:  # a text file's name says it is text: those bytes make it binary
        return "image"
    if head.startswith(b"PK\x03\x04"):
        declared = docx.declared_members(data)
        if declared is not None and declared > docx.MAX_MEMBERS:
            return "docx"  # a zip too large to list: refused as a .docx by its own check, never read here
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, OSError):
            return None
    if start.startswith((b"<!doctype html", b"<html")) or (not texty and (b"<html" in start or b"<!doctype html" in start)):
        return "html"
    return None


def kind_of(path: Path, data: bytes) -> str:
    """The reader to use for a file, or FormatError naming the supported types."""
    suffix = path.suffix.lower()
    kind = sniff(data, suffix) or BY_SUFFIX.get(suffix)
    if kind is None:
        shown = " ".join(s for s in SUFFIXES if s != ".markdown")
        raise FormatError(f"unsupported file type {suffix or '(no extension)'} (supported: {shown})")
    return kind


def read_document(path: Path, data: bytes, *, progress: Callable[[int, int], None] | None = None) -> Extracted:
    """Read a document's bytes (`path` names it) with the reader its content or extension calls for.

    `progress(done, total)` hears the pages read by OCR, if any."""
    kind = kind_of(path, data)
    extra: dict[str, Any] = {"progress": progress} if progress is not None and kind in PAGED else {}
    return READERS[kind](data, path.name, **extra)


__all__ = ["SUFFIXES", "Box", "CharBoxes", "Extracted", "FormatError", "kind_of", "read_document", "sniff"]
