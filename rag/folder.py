"""The index folder itself: made (or refused, saying why) and locked for one build at a time.

A path that is a file, a folder that cannot be made (`/proc/x`) or one that
cannot be written to each end in one IndexStateError line naming the folder,
before any work is done. Does not read or write index files: see `rag.store`.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from .errors import IndexStateError


def writable_folder(index_dir: Path) -> bool:
    """Make `index_dir` if needed (True when this call created it), or IndexStateError saying why not."""
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexStateError(f"Index {index_dir} is a file, not a folder; pass --index DIR, a folder to write "
                              "the index into.")
    try:
        created = not index_dir.exists()
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise IndexStateError(f"Cannot create index folder {index_dir} ({err.strerror or err}); pass --index DIR, "
                              "a folder you can write to.") from None
    return created


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder, across processes.

    A folder this build created is removed again if the build wrote nothing
    into it, so a failed first build leaves no empty folder holding `.lock`.
    """
    created = writable_folder(index_dir)
    try:
        handle = open(index_dir / ".lock", "w")  # noqa: SIM115 -- closed below, after the cleanup
    except OSError as err:
        raise IndexStateError(f"Index folder {index_dir} is not writable ({err.strerror or err}); fix its "
                              "permissions or pass --index DIR, a folder you can write to.") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        try:
            if created and {p.name for p in index_dir.iterdir()} <= {".lock"}:
                (index_dir / ".lock").unlink(missing_ok=True)
                index_dir.rmdir()
        except OSError:
            pass  # another build is using the folder now: it is not ours to remove
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


__all__ = ["build_lock", "writable_folder"]
