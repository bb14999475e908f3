"""Documents added and removed from the web page: names, types and sizes checked before anything is kept.

A file is kept only when its content is what its name says (a PDF starts with
%PDF-, a Word file is a zip holding word/document.xml, a text or Markdown
file is UTF-8 text without NUL bytes, a web page is text with HTML tags, a
picture starts with a PNG, JPEG or TIFF signature and is read by OCR when indexed), it
is within the size limits (`rag.readers.limits`), and its name, cleaned of folders,
control characters and anything a shell or a file system might read as
syntax, is cut to fit every file system; otherwise a one-line `UploadError`
says why and what to do, and never names a path on the server. Only
documents under `uploads/` can be removed from the page, and removing one
moves it to the hidden `uploads/.removed/` folder (never indexed), so
nothing is lost.

The files themselves are kept by `ui.seeds_folder` (`save_upload`,
`remove_upload` for one call at a time; a server keeps one `SeedsFolder`,
which counts the folder once and writes each file under a name claimed
atomically, never replacing one). Does not index
anything: the seeds folder's watcher (`rag.service.live`) sees the new file.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.readers import FormatError, sniff
from rag.readers.docx import check_directory
from rag.readers.limits import Limits, size_text

UPLOADS = "uploads"
REMOVED = ".removed"
KINDS = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html", ".txt": "text", ".md": "text",
         ".markdown": "text", ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image"}
ACCEPTED = ".pdf .docx .html .htm .txt .md .png .jpg .jpeg .tif .tiff"
MAX_NAME_CHARS = 100  # of the stem
MAX_NAME_BYTES = 200  # of the stem in UTF-8: with " (999)" and the suffix, under every file system's 255 bytes
TEMPORARY = ".upload-"  # the prefix of a file being written (hidden: never indexed)
_UNSAFE = re.compile(r"[^\w .,()+&'@-]", re.UNICODE)
_HTML_TAG = re.compile(rb"<(?:!doctype|html|head|body|p|div|h[1-6]|article|section|main|ul|ol|table|title)\b", re.I)
_EXECUTABLE = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")


class UploadError(InputError):
    """A file the page offered that is not kept: the message says why and what to do."""


@dataclass(frozen=True)
class Saved:
    source: str  # its name in the seeds folder ("uploads/report.pdf"), as citations will give it
    size: int


def clean_name(name: str) -> str:
    """A safe file name for an uploaded document, keeping what a person would recognise.

    Folders ("../", "C:\\"), control characters (NUL included), characters a
    shell or Windows reads as syntax, leading dots and dashes are removed;
    the stem is cut to MAX_NAME_CHARS characters and MAX_NAME_BYTES bytes; the suffix is lower-cased. Raises
    UploadError when the suffix is not one of the accepted kinds.
    """
    if not isinstance(name, str):
        raise UploadError("The file has no name; pick a file with a name such as report.pdf.")
    name = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # controls, NUL, surrogates, format
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = "." + suffix.lower().strip() if suffix.strip() else ""
    if suffix not in KINDS:
        shown = suffix or "no extension"
        raise UploadError(f"{_shown(name)} has {shown}; the documents can be {ACCEPTED} files.")
    stem = " ".join(_UNSAFE.sub("_", stem).split()).lstrip(".-_ ")[:MAX_NAME_CHARS]
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:  # letters of 3-4 bytes each: cut further
        stem = stem[:-1]
    stem = stem.rstrip(" .")
    stem = stem or "document"
    if (stem + suffix).lower() == "readme.md":  # README.md files describe a folder and are never indexed
        stem = "readme (uploaded)"
    return stem + suffix


def _shown(name: str, limit: int = 60) -> str:
    shown = "".join(ch if ch.isprintable() else "?" for ch in name)
    return repr(shown if len(shown) <= limit else shown[: limit - 1] + "…")


def check_content(name: str, data: bytes) -> None:
    """UploadError unless `data` is the kind of document `name`'s suffix says."""
    suffix = Path(name).suffix.lower()
    kind = KINDS[suffix]
    if not data.strip():
        raise UploadError(f"{name} is empty; pick the document itself.")
    found = sniff(data, suffix)
    if data.startswith(_EXECUTABLE) and found is None:
        raise UploadError(f"{name} is a program, not a document; only {ACCEPTED} documents can be added.")
    if kind == "pdf" and found != "pdf":
        raise UploadError(f"{name} is not a PDF (it does not start with %PDF-); export it as a PDF again.")
    if kind == "image" and found != "image":
        raise UploadError(f"{name} is not a PNG, JPEG or TIFF picture (no such signature at its start); "
                          "save it as one of those.")
    if kind == "docx" and found != "docx":
        raise UploadError(f"{name} is not a Word .docx file (no word/document.xml inside); save it as .docx.")
    if kind == "docx":
        try:
            check_directory(data)  # what its zip directory declares; nothing is unpacked here
        except FormatError as err:
            raise UploadError(f"{name} is refused: {err.reason}.") from None
    if kind in ("text", "html"):
        if found in ("pdf", "docx"):
            raise UploadError(f"{name} holds a {found.upper()} file; rename it to end in .{found}.")
        if b"\x00" in data:
            raise UploadError(f"{name} holds binary data (NUL bytes), not text; pick a text document.")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise UploadError(f"{name} is not UTF-8 text (byte {err.start:,}); save it as UTF-8, e.g. "
                              "`iconv -f latin1 -t utf-8`.") from None
        if kind == "html" and found != "html" and not _HTML_TAG.search(data[:65536]):
            raise UploadError(f"{name} has no HTML tags; rename it to end in .txt if it is plain text.")


def corpus_bytes(seeds_dir: Path) -> int:
    """The bytes of every document file in the seeds folder, and of uploads being written (other hidden files
    and folders, such as removed uploads, excluded). Reads the whole folder: `ui.seeds_folder` calls it once, then
    keeps a running count."""
    total = 0
    for root, dirs, files in os.walk(seeds_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if not f.startswith(".") or f.startswith(TEMPORARY):
                try:
                    total += (Path(root) / f).stat().st_size
                except OSError:
                    continue
    return total


def check_size(name: str, size: int, total: int, lim: Limits) -> None:
    """UploadError when one more file of `size` bytes, with `total` bytes held already, breaks the per-file or
    whole-corpus limit."""
    if size > lim.max_file_bytes:
        raise UploadError(f"{name} is {size_text(size)}; the limit is {size_text(lim.max_file_bytes)} a file "
                          "(RAG_MAX_FILE_MB on the server). Split it, or ask whoever runs the server to raise it.")
    if total + size > lim.max_corpus_bytes:
        raise UploadError(f"Adding {name} ({size_text(size)}) would take the documents to {size_text(total + size)}, "
                          f"over the {size_text(lim.max_corpus_bytes)} limit for all of them (RAG_MAX_CORPUS_MB); "
                          "remove a document first.")


def removable(source: str) -> bool:
    """Whether the page may remove document `source`: only what was added from the page."""
    parts = Path(source).parts
    return len(parts) == 2 and parts[0] == UPLOADS and not parts[1].startswith(".")


__all__ = [
    "ACCEPTED",
    "REMOVED",
    "TEMPORARY",
    "UPLOADS",
    "Saved",
    "UploadError",
    "check_content",
    "check_size",
    "clean_name",
    "corpus_bytes",
    "removable",
]
