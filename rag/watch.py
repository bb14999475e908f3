"""Noticing that the seeds changed: a cheap stat signature, and a bounded content-hash sweep.

The stat signature (path, size, modification time of every document) costs
one `stat` per file and catches nearly every edit. An edit that keeps the
size and restores the modification time escapes it, so `HashSweep` also
re-hashes the files, a bounded number of bytes per call and round-robin, and
compares each with the sha256 the index recorded at build time: at most
`BYTES_PER_STEP` are read per poll, and the whole folder is covered every
ceil(size / BYTES_PER_STEP) polls. Both run in `rag.live`'s watcher thread,
never while answering. Does not decide what to do about a change: see `rag.live`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import IngestError
from .limits import limits
from .seedfiles import check_source, find_sources, read_source

BYTES_PER_STEP = 32 << 20  # sha256 runs at ~2 GB/s here: ~16 ms of one core per poll at most

Signature = tuple[tuple[str, int, int], ...]


def seeds_signature(seeds: Path) -> Signature:
    """(path, size, mtime) of every document, stat only; () when the folder is missing or has none."""
    try:
        paths = find_sources(seeds)
    except IngestError:
        return ()
    signature = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # vanished between listing and stat (an editor's temporary file)
            continue
        signature.append((path.relative_to(seeds).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


def changed_names(old: Signature, new: Signature) -> tuple[str, ...]:
    """Documents added or edited between two signatures (removed ones are not pending)."""
    before = {name: (size, mtime) for name, size, mtime in old}
    return tuple(name for name, size, mtime in new if before.get(name) != (size, mtime))


class HashSweep:
    """Re-hash the seeds a slice at a time and report files whose bytes differ from the index's record."""

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
    """The file's sha256 and size; None when it is gone, unreadable, too big or not to be read."""
    target, problem = check_source(seeds / name, seeds)
    if problem:
        return None, 0
    try:
        if target.stat().st_size > too_big:
            return None, 0
        data = read_source(target)
    except OSError:
        return None, 0
    return hashlib.sha256(data).hexdigest(), len(data)


__all__ = ["BYTES_PER_STEP", "HashSweep", "Signature", "changed_names", "seeds_signature"]
