"""Checksums of an index's data files, written into its manifest and checked on load.

A data file changed after the build (a disk error, a hand edit, rows shuffled
by a script) may still load, and then answers come from the wrong passages or
vectors. So the manifest records each file's size, its sha256, and the sha256
of a fixed sample of it, and loading compares them.

What loading hashes is bounded, because sha256 (~1.9 GB/s here) is slower
than loading an array (a copy): hashing every file added 28-59% to the load
time of a 1,000-passage index, the shipped check 3-6% (about 1 ms; see
`bench/bench_checksums.py`). So:

* text files (passages, documents, bm25's JSON) are hashed in
  full: a passage line swapped or edited would otherwise be served as it is
  (sha256 reads a million passages' lines in well under a second);
* binary arrays (.npy, .faiss) up to `HASH_LIMIT` bytes are hashed in full;
  larger ones have their size checked and `SAMPLES` blocks of `BLOCK` bytes,
  spread evenly from first to last byte, hashed (64 KiB per file).
  Truncation, a rewrite or shuffled rows change the sample; a change confined
  to bytes between the samples (one altered vector in a large file) is not
  caught on load.

A build records what loading checks, no more: the sha256 of the files hashed
in full (the text files it writes itself are hashed as they are written,
not read back), and every file's size and sampled sha256. Hashing a large
array in full after writing it cost a build that changed one document of a
100,000-passage index 1.6 s, for a checksum nothing read.

Does not protect against someone rewriting the manifest too: it finds damage,
it is not a signature.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

HASH_LIMIT = 64 << 10  # bytes; larger binary files are checked by size and sample
TEXT_SUFFIXES = (".jsonl", ".json")  # always hashed in full
SAMPLES, BLOCK = 64, 1024
_READ = 1 << 20


def data_files(index_dir: Path, names: Iterable[str]) -> list[Path]:
    """Every file the manifest's `names` stand for: a folder (bm25) stands for each file in it."""
    out: list[Path] = []
    for name in names:
        path = index_dir / name
        out += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def _sample_sha256(path: Path, size: int) -> str:
    """sha256 of the size and `SAMPLES` blocks spread evenly over the file (the first and last included)."""
    digest = hashlib.sha256(str(size).encode())
    last = max(0, size - BLOCK)
    fd = os.open(path, os.O_RDONLY)
    try:
        for i in range(SAMPLES):
            digest.update(os.pread(fd, BLOCK, last * i // (SAMPLES - 1)))
    finally:
        os.close(fd)
    return digest.hexdigest()


def hashed_in_full(path: Path, size: int, limit: int = HASH_LIMIT) -> bool:
    """Whether loading checks `path` by its full sha256 (text files, and binary files up to `limit` bytes)."""
    return path.suffix in TEXT_SUFFIXES or size <= limit


def seal(index_dir: Path, names: Iterable[str], digests: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """fsync every data file and return its size, sampled sha256 and, for one loading hashes in full, its sha256,
    keyed by path relative to `index_dir`; `digests`: sha256 already known (hashed while written), by that key."""
    known = digests or {}
    out: dict[str, dict[str, Any]] = {}
    for path in data_files(index_dir, names):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
        size, name = path.stat().st_size, path.relative_to(index_dir).as_posix()
        out[name] = {"size": size, "sample_sha256": _sample_sha256(path, size)}
        if hashed_in_full(path, size):
            out[name]["sha256"] = known.get(name) or _sha256(path)
    return out


def seal_soon(index_dir: Path, names: Iterable[str], digests: dict[str, str] | None = None) -> Future[dict[str, Any]]:
    """`seal` run on another thread: fsync waits on the disk and sha256 releases the GIL, so a build seals the
    files it has finished while it makes the others."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal")
    try:
        return pool.submit(seal, index_dir, list(names), digests)
    finally:
        pool.shutdown(wait=False)


def mismatch(index_dir: Path, checksums: dict[str, Any], hash_limit: int | None = None) -> str:
    """The first data file that differs from its checksum, and how; "" when all match."""
    limit = HASH_LIMIT if hash_limit is None else hash_limit
    for name, expected in checksums.items():
        path = index_dir / name
        try:
            size = path.stat().st_size
            if size != expected["size"]:
                return f"{name} has size {size} bytes, not the {expected['size']} its checksum entry records"
            if path.suffix in TEXT_SUFFIXES or (size <= limit and "sha256" in expected):
                if _sha256(path) != expected["sha256"]:
                    return f"{name} does not match its sha256 checksum (it changed after the build)"
            elif _sample_sha256(path, size) != expected["sample_sha256"]:
                return f"{name} does not match its sampled sha256 checksum (it changed after the build)"
        except OSError as err:
            return f"{name} cannot be read ({err.strerror or err})"
        except (KeyError, TypeError):
            return f"the checksum entry of {name} is malformed"
    return ""


__all__ = ["BLOCK", "HASH_LIMIT", "SAMPLES", "data_files", "hashed_in_full", "mismatch", "seal", "seal_soon"]
