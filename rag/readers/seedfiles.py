"""Which files in a seeds folder are documents, and reading them without leaving it.

The seeds folder is what gets indexed and quoted, so nothing outside it may be
read through it: a link to a file outside the folder, a link loop, a dangling
link or a link to a folder is listed (so the build can name it as skipped) but
never read. A name that is not valid UTF-8 cannot be stored in the index or
cited, so it is skipped too, shown with its odd bytes escaped ("bad\\xff.txt").
Links that stay inside the folder are read like the files they point to.

Does not decode or parse files: that is `rag.readers` and `rag.ingest.parse`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

from rag.errors import IngestError
from rag.readers import SUFFIXES
from rag.readers.limits import limits

KNOWN = " ".join(s for s in SUFFIXES if s != ".markdown")
OUTSIDE = "a link to a file outside the seeds folder"
NOT_UTF8 = "its name is not valid UTF-8; rename it"
INDEX_FORMAT = "rag-index"  # how every `rag.storage.index_folder.FORMAT` begins


def find_sources(seeds_dir: Path) -> list[Path]:
    """Every file (or link) under `seeds_dir`, recursively, in a stable order.

    README.md files describe a folder rather than belong to it, and hidden
    files and folders are not documents, nor are the "~$name.docx" files Word
    keeps while a document is open, nor is an index kept inside the folder
    (a folder whose manifest.json, or journal.json, is a rag index's), so all are left out. Files of a
    kind no reader handles, and links, are listed too: `ingest` names them
    as skipped when they cannot be read (see `check_source`).
    """
    if seeds_dir.exists() and not seeds_dir.is_dir():
        raise IngestError(f"Seeds folder {seeds_dir} is a file, not a folder; pass --seeds DIR, a folder holding "
                          f"the documents ({KNOWN}).")
    if not seeds_dir.is_dir():
        raise IngestError(
            f"Seeds folder {seeds_dir} does not exist; create it and put documents ({KNOWN}) in it, "
            "or pass --seeds DIR."
        )
    paths = sorted(
        p
        for p in seeds_dir.rglob("*")
        if (p.is_file() or p.is_symlink())
        and p.name.lower() != "readme.md"
        and not p.name.startswith("~$")
        and not any(part.startswith(".") for part in p.relative_to(seeds_dir).parts)
    )
    indexes = [p.parent for p in paths if p.name in ("manifest.json", "journal.json") and _is_index_manifest(p)]
    paths = [p for p in paths if not any(p.is_relative_to(folder) for folder in indexes)]
    if not paths:
        raise IngestError(
            f"Seeds folder {seeds_dir} has no documents; add at least one ({KNOWN}) and run `rag build` again."
        )
    return paths


def _is_index_manifest(path: Path) -> bool:
    """Whether `path` is the manifest of an index `rag.storage.index_folder` wrote (its "format" is "rag-index ...")."""
    if path.is_symlink():
        return False
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("format", "")).startswith(INDEX_FORMAT)


def printable(name: str) -> str:
    """`name` as text that can be printed and stored: bytes that are not UTF-8 escaped as \\xff."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_source(path: Path, seeds_dir: Path) -> tuple[Path, str]:
    """The file to read for `path` and "", or (path, why it must not be read)."""
    try:
        path.relative_to(seeds_dir).as_posix().encode("utf-8")
    except UnicodeEncodeError:
        return path, NOT_UTF8
    if not path.is_symlink():
        return path, ""
    try:
        path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            return path, "a link that loops back on itself (a link loop)"
        return path, "a link to a file that does not exist"
    target = Path(os.path.realpath(path))
    if not target.is_relative_to(Path(os.path.realpath(seeds_dir))):
        return path, OUTSIDE
    if not target.is_file():
        return path, "a link to a folder or a device, not a file; links to folders are not followed"
    return target, ""


def read_source(target: Path) -> bytes:
    """The bytes of a file `check_source` passed, refusing one swapped for a link since it was checked."""
    fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def read_seed(seeds_dir: Path, source: str) -> bytes:
    """The bytes of document `source` (its name in the folder), or OSError if the build would not read it."""
    target, problem = check_source(seeds_dir / source, seeds_dir)
    if problem:
        raise OSError(errno.EPERM, problem, str(seeds_dir / source))
    return read_source(target)


def fingerprint(seeds_dir: Path) -> dict[str, str]:
    """sha256 of every document file under `seeds_dir`, keyed by relative path."""
    try:
        paths = find_sources(seeds_dir)
    except IngestError:  # a missing or empty folder has no fingerprint
        return {}
    out, lim = {}, limits()
    for p in paths:
        target, problem = check_source(p, seeds_dir)
        if problem:
            continue  # never read: the build skips it by name (and records no fingerprint for it)
        try:
            if target.stat().st_size > lim.max_file_bytes:
                continue  # too big: the build skips it unread, by name
            out[p.relative_to(seeds_dir).as_posix()] = hashlib.sha256(read_source(target)).hexdigest()
        except OSError:
            continue  # unreadable now: build skips it too
    return out


__all__ = ["KNOWN", "check_source", "find_sources", "fingerprint", "printable", "read_seed", "read_source"]
