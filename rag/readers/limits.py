"""How large a document, and all documents together, may be before a build refuses them.

A build embeds every passage, at about 100 passages a second on two CPU
cores (`make bench`: 101 to 113 on real prose); plain text makes about one
passage per 430 bytes (the shipped report: 23.6 KB, 55 passages). So a 50 MB
text file is ~116,000 passages, about 20 minutes, and 200 MB of text about
an hour and a half. Inputs that large are more often a mistake (a log, a
dump, a scanned book) than something to wait for, so:

- a file over `max_file_bytes` (default 50 MB) is skipped, named in the build
  output with its size and the limit;
- documents over `max_corpus_bytes` together (default 200 MB) stop the build
  with one line saying how much there is and how to raise the limit.

A PDF's bytes are mostly pictures and fonts, so 50 MB of PDF holds far less
text than 50 MB of text; the limits bound the worst case, not the typical one.
Override with $RAG_MAX_FILE_MB and $RAG_MAX_CORPUS_MB (megabytes, 1 MB = 10**6
bytes, as file managers show them). Does not read files: `rag.ingest.parse` applies these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rag.errors import InputError

MB = 1_000_000
DEFAULT_FILE_MB = 50
DEFAULT_CORPUS_MB = 200
FILE_VARIABLE = "RAG_MAX_FILE_MB"
CORPUS_VARIABLE = "RAG_MAX_CORPUS_MB"


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int  # one document file
    max_corpus_bytes: int  # all documents together


def _megabytes(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default * MB
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise InputError(f"{variable}={raw!r} is not a size in megabytes; set it to a positive number such as "
                         f"{default}, or unset it for the default ({default} MB).")
    return int(value * MB)


def limits() -> Limits:
    """The limits in force: the defaults, or $RAG_MAX_FILE_MB / $RAG_MAX_CORPUS_MB when set."""
    return Limits(_megabytes(FILE_VARIABLE, DEFAULT_FILE_MB), _megabytes(CORPUS_VARIABLE, DEFAULT_CORPUS_MB))


def size_text(n_bytes: int) -> str:
    """A size as people read it: "60 MB", "1.5 MB", "740 KB", "12 bytes"."""
    if n_bytes >= MB:
        mb = n_bytes / MB
        return f"{mb:.0f} MB" if mb >= 10 or mb.is_integer() else f"{mb:.1f} MB"
    if n_bytes >= 1000:
        return f"{n_bytes / 1000:.0f} KB"
    return f"{n_bytes} bytes"


def file_too_big(size: int, lim: Limits) -> str:
    """The skip reason for a file of `size` bytes, or "" when it is within the limit."""
    if size <= lim.max_file_bytes:
        return ""
    return (f"{size_text(size)}, over the {size_text(lim.max_file_bytes)} limit per file; raise {FILE_VARIABLE} "
            "(megabytes) to index it, or split it")


def corpus_too_big(total: int, files: int, lim: Limits, seeds: object) -> str:
    """The error for `files` documents of `total` bytes together, or "" when within the limit."""
    if total <= lim.max_corpus_bytes:
        return ""
    return (f"The documents in {seeds} come to {size_text(total)} in {files} files, over the "
            f"{size_text(lim.max_corpus_bytes)} limit for all documents together (a build embeds ~100 passages a "
            f"second); remove some, or raise {CORPUS_VARIABLE} (megabytes) and run the build again.")


__all__ = ["Limits", "corpus_too_big", "file_too_big", "limits", "size_text"]
