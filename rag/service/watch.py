"""Noticing that the seeds changed: a cheap stat signature, and a bounded content-hash sweep.

Both look only at what a build would read. The stat signature holds (path,
size, modification time) of every document a build would ingest; a file it
would skip unread (a link out of the folder, a file over the size limit, a
type no reader handles: a log, an editor's `notes.txt~` backup) enters only
with why it is skipped, so a growing log or a rewritten backup does not
start a rebuild, and an index folder kept inside the seeds folder is left
out entirely (each build writes into it). It costs one `stat` per file, and
reads the first KB of files whose name shows no known type (their first
bytes may still show a PDF or HTML document).

An edit that keeps the size and restores the modification time escapes the
signature, so `HashSweep` also re-hashes the documents, a bounded number of
bytes per call and round-robin, and compares each with the sha256 the index
recorded at build time: at most `BYTES_PER_STEP` are read per poll, and the
whole folder is covered every ceil(size / BYTES_PER_STEP) polls. Both run in
`rag.service.live`'s watcher thread (`poll`), never while answering. Does not decide what to
do about a change: see `rag.service.live`.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from pathlib import Path
from typing import Any

from rag.errors import IngestError
from rag.readers import BY_SUFFIX, sniff
from rag.readers.limits import limits
from rag.readers.seedfiles import check_source, find_sources, read_source

# Reading and hashing 30 MB of text files cost 16.5-17 ms of one core's CPU time (thread time) and 36-80 ms
# wall, files in the page cache, on the shared two-core machine at load 8-9; a poll spends at most about that.
BYTES_PER_STEP = 32 << 20
HEAD = 1024  # bytes `rag.readers.sniff` looks at
NOT_READ, TOO_BIG, NO_READER = -1, -2, -3  # the size recorded for a file a build would skip unread

Signature = tuple[tuple[str, int, int], ...]


def seeds_signature(seeds: Path, *, leave_out: Path | None = None) -> Signature:
    """What a build of `seeds` would read, stat only; () when the folder is missing or has no files.

    `leave_out`: a folder inside `seeds` (the index's own) whose files are not looked at.
    """
    try:
        paths = find_sources(seeds)
    except IngestError:
        return ()
    skip = _inside(seeds, leave_out)
    signature, too_big = [], limits().max_file_bytes
    for path in paths:
        relative = path.relative_to(seeds)
        if skip and relative.parts[: len(skip)] == skip:
            continue
        name = relative.as_posix()
        target, problem = check_source(path, seeds)
        try:
            stat = target.stat() if not problem else None
        except OSError:  # vanished between listing and stat (an editor's temporary file)
            continue
        if stat is None:
            signature.append((name, NOT_READ, 0))
        elif stat.st_size > too_big:
            signature.append((name, TOO_BIG, 0))
        elif not _has_reader(target):
            signature.append((name, NO_READER, 0))
        else:
            signature.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


def _inside(seeds: Path, folder: Path | None) -> tuple[str, ...]:
    """`folder`'s path parts relative to `seeds` when it lies inside it, else ()."""
    if folder is None:
        return ()
    try:
        return folder.resolve().relative_to(seeds.resolve()).parts
    except (ValueError, OSError):
        return ()


def _has_reader(target: Path) -> bool:
    """Whether a build would try to read the file as a document: by its name, or else by its first bytes."""
    suffix = target.suffix.lower()
    if suffix in BY_SUFFIX:
        return True
    try:
        with target.open("rb") as handle:
            head = handle.read(HEAD)
    except OSError:
        return True  # let the build say why it cannot be read
    return head.startswith(b"PK\x03\x04") or sniff(head, suffix) is not None  # a zip may be a Word file


def changed_names(old: Signature, new: Signature) -> tuple[str, ...]:
    """Documents added or edited between two signatures (removed ones are not pending)."""
    before = {name: (size, mtime) for name, size, mtime in old}
    return tuple(name for name, size, mtime in new if before.get(name) != (size, mtime) and size >= 0)


class HashSweep:
    """Re-hash the documents a slice at a time and report files whose bytes differ from the index's record."""

    def __init__(self, seeds: Path, recorded: dict[str, str], *, budget: int = BYTES_PER_STEP):
        self.seeds = seeds
        self.recorded = dict(recorded)  # relative path -> sha256 at build time (manifest.sources)
        self.budget = budget
        self._queue: list[str] = []

    def step(self) -> tuple[str, ...]:
        """Hash the next files, up to `budget` bytes (at least one file); names whose content changed."""
        if not self._queue:
            self._queue = sorted(self.recorded, reverse=True)  # popped from the end: alphabetical order
        changed, spent, too_big = [], 0, limits().max_file_bytes
        while self._queue and (spent == 0 or spent < self.budget):
            name = self._queue.pop()
            digest, size = _sha256(self.seeds, name, too_big)
            spent += max(size, 1)
            if digest is not None and digest != self.recorded[name]:
                changed.append(name)
        return tuple(changed)

    @property
    def round_done(self) -> bool:
        """True when the last step finished a pass over every recorded file."""
        return not self._queue


def _sha256(seeds: Path, name: str, too_big: int) -> tuple[str | None, int]:
    """The file's sha256 and size; None when it is gone, unreadable, too big or not a document to read."""
    target, problem = check_source(seeds / name, seeds)
    if problem:
        return None, 0
    try:
        if target.stat().st_size > too_big or not _has_reader(target):
            return None, 0
        data = read_source(target)
    except OSError:
        return None, 0
    return hashlib.sha256(data).hexdigest(), len(data)


def stamp(path: Path) -> tuple[int, int] | None:
    """A file's (size, modification time in ns), or None when it cannot be read."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def poll(ref: weakref.ref[Any], stop: threading.Event, seconds: float) -> None:
    """A watcher thread's loop: calls `look()` on what `ref` holds every `seconds`, until stopped or it is gone.

    The watched object is held weakly, so one dropped without being closed stops being watched.
    """
    while not stop.wait(seconds):
        live = ref()
        if live is None:
            return
        live.look()
        del live


__all__ = ["BYTES_PER_STEP", "HashSweep", "Signature", "changed_names", "poll", "seeds_signature", "stamp"]
