"""Checksums of an index's data files, written into its manifest and checked on load.

A data file changed after the build (a disk error, a hand edit, rows shuffled
by a script) may still load, and then answers come from the wrong passages or
vectors: one altered vector of a FAISS file can score a passage 1e36 and have
it quoted for any question. So the manifest records each file's size and
sha256 (and the sha256 of a fixed sample of it), and loading hashes every
file in full: any changed byte is refused before anything is answered.

Hashing is the price: it reads every byte, where loading otherwise maps the
files and reads only what a question reaches. `bench/bench_checksums.py
--dimension 384` measured (load average 7 on two cores), as ratios to a load
with no check: a 1,000-passage index (21 MB) loads in 2.2x the time (the
sampled check this replaced, which missed bytes changed between its samples,
1.03x), a 5,000-passage one (106 MB) in 4.7x (sampled 1.27x); the cost grows
with the files' size. sha256 releases the GIL, so `mismatch` can hash on
several threads, but there two were no faster than one (2.26x and 5.18x), so
loading uses one. A check per block as each block is first read would load
about as fast as the sampled one, but a Flat FAISS search reads every vector,
so the first question would still hash the whole vectors file (1.07x and
1.5x with it), and every reader of the arrays would have to check its rows:
not done.

A build hashes every file it writes as it seals it (the text files as they are
written); checking the earlier index before re-using its rows and reading the
new one back hash them again: 0.28x and 0.45x of a build after one document
changed, at 1,000 and 5,000 passages. Trusting a file's time stamps instead
of hashing it again could miss a write within the same clock tick.

An index built before full checksums (large binary files with only a size and
a sampled sha256 in the manifest) still loads, checked the old way: by size
and `SAMPLES` blocks of `BLOCK` bytes, spread evenly from first to last byte;
rebuilding it gives it full checksums.

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

HASH_LIMIT = 1 << 62  # bytes; binary files larger than this would be checked by size and sample: none are
OLD_HASH_LIMIT = 64 << 10  # what builds before full checksums hashed in full (text files aside)
TEXT_SUFFIXES = (".jsonl", ".json")  # always hashed in full
SAMPLES, BLOCK = 64, 1024
WORKERS = 1  # threads hashing on load: two were no faster than one on the busy two-core machine measured
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
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(_READ)
        view = memoryview(buffer)
        while size := handle.readinto(buffer):
            digest.update(view[:size])
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
    """fsync every data file and return its size, sha256 and sampled sha256, keyed by path relative to
    `index_dir`; `digests`: sha256 already known (hashed while written), by that key."""
    known = digests or {}
    out: dict[str, dict[str, Any]] = {}
    for path in data_files(index_dir, names):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
        size, name = path.stat().st_size, path.relative_to(index_dir).as_posix()
        out[name] = {"size": size, "sha256": known.get(name) or _sha256(path),
                     "sample_sha256": _sample_sha256(path, size)}
    return out


def seal_soon(index_dir: Path, names: Iterable[str], digests: dict[str, str] | None = None) -> Future[dict[str, Any]]:
    """`seal` run on another thread: fsync waits on the disk and sha256 releases the GIL, so a build seals the
    files it has finished while it makes the others."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal")
    try:
        return pool.submit(seal, index_dir, list(names), digests)
    finally:
        pool.shutdown(wait=False)


def _one(index_dir: Path, name: str, expected: Any, limit: int) -> str:
    """How data file `name` differs from its checksum entry `expected`; "" when it matches."""
    path = index_dir / name
    try:
        size = path.stat().st_size
        if size != expected["size"]:
            return f"{name} has size {size} bytes, not the {expected['size']} its checksum entry records"
        if "sha256" in expected and (path.suffix in TEXT_SUFFIXES or size <= limit):
            if _sha256(path) != expected["sha256"]:
                return f"{name} does not match its sha256 checksum (it changed after the build)"
        elif _sample_sha256(path, size) != expected["sample_sha256"]:
            return f"{name} does not match its sampled sha256 checksum (it changed after the build)"
    except OSError as err:
        return f"{name} cannot be read ({err.strerror or err})"
    except (KeyError, TypeError):
        return f"the checksum entry of {name} is malformed"
    return ""


def mismatch(index_dir: Path, checksums: dict[str, Any], hash_limit: int | None = None,
             workers: int = WORKERS) -> str:
    """The first data file (in `checksums`' order) that differs from its checksum, and how; "" when all match.

    Every file with a recorded sha256 is hashed in full, on `workers` threads; one without (built before full
    checksums) or larger than `hash_limit` is checked by size and sample."""
    limit = HASH_LIMIT if hash_limit is None else hash_limit
    if not isinstance(checksums, dict):
        return "the checksum entries are malformed"
    items = list(checksums.items())
    if workers <= 1 or len(items) <= 1:
        return next((bad for name, expected in items if (bad := _one(index_dir, name, expected, limit))), "")
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checksum")
    try:
        found = pool.map(lambda item: _one(index_dir, item[0], item[1], limit), items)
        return next((bad for bad in found if bad), "")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on the first mismatch, files not yet begun are not read


__all__ = ["BLOCK", "HASH_LIMIT", "OLD_HASH_LIMIT", "SAMPLES", "WORKERS", "data_files", "hashed_in_full",
           "mismatch", "seal", "seal_soon"]
