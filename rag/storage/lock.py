"""The index folder itself: made (or refused, saying why) and locked for one build at a time.

A build writes only into a folder of its own: one that does not exist yet,
holds nothing but a README.md and hidden files (which a seeds folder's rule
also leaves out, see `rag.readers.seedfiles`), or already holds an index (its
manifest.json or the journal of a build, `rag.storage.journal`). A folder holding
other files, the seeds folder itself or a folder the seeds are in is
refused, as is an empty name (which would be the current folder). A path
that is a file, a folder that cannot be made (`/proc/x`) or one that cannot
be written to end the same way: one IndexStateError line naming the folder,
before anything is written. Does not read or write index files: see `rag.storage.index_folder`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import rag.storage.journal as journal
from rag.errors import IndexStateError
from rag.storage.manifest import MANIFEST, raw_manifest

SHOWN = 3  # files named in the refusal of a folder that holds others


def index_path(value: str | os.PathLike[str]) -> Path:
    """`value` as an index folder, refusing an empty name (it would mean the current folder)."""
    if not str(value).strip():
        raise IndexStateError("The index folder's name is empty, which would mean the current folder; pass "
                              "--index DIR, a new or empty folder for the index (default: index).")
    return Path(value)


def check_owned(index_dir: Path, seeds_dir: Path) -> None:
    """Refuse, in one IndexStateError line saying what to do, a folder a build of `seeds_dir` must not write into."""
    target, seeds = Path(os.path.realpath(index_dir)), Path(os.path.realpath(seeds_dir))
    if target == seeds:
        raise IndexStateError(f"Index folder {index_dir} is the seeds folder; pass --index DIR, a folder of its "
                              "own for the index (default: index).")
    if seeds.is_relative_to(target):
        raise IndexStateError(f"Index folder {index_dir} holds the seeds folder {seeds_dir}; pass --index DIR, a "
                              "folder of its own outside it (default: index).")
    try:
        others = [] if not index_dir.is_dir() or owned(index_dir) else sorted(_visible(index_dir))
    except OSError:
        return  # an unreadable folder: making the lock file there says why, in one line
    if others:
        shown = ", ".join(others[:SHOWN]) + (f" and {len(others) - SHOWN} more" if len(others) > SHOWN else "")
        raise IndexStateError(f"Index folder {index_dir} holds files that are not an index's ({shown}); pass "
                              "--index DIR, a new or empty folder for the index, or move those files out.")


def owned(index_dir: Path) -> bool:
    """Whether `index_dir` holds an index: a manifest a build wrote, the journal of one, or nothing but files
    named as a build names its data files, with or without a manifest.json (an index whose manifest is damaged,
    or whose first build was killed by an earlier version)."""
    if str(raw_manifest(index_dir).get("format", "")).startswith(journal.FAMILY):
        return True
    if journal.journaled(index_dir) is not None:
        return True
    visible = _visible(index_dir)
    data = [name for name in visible if journal.is_data_name(name)]
    return bool(data) and all(name == MANIFEST or name in data for name in visible)


def _visible(index_dir: Path) -> list[str]:
    """The names in `index_dir` that count as its contents: not a README.md, not hidden."""
    return [name for name in os.listdir(index_dir) if not name.startswith(".") and name.lower() != "readme.md"]


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
def build_lock(index_dir: Path, seeds_dir: Path) -> Iterator[None]:
    """One build (of `seeds_dir`) at a time per index folder, across processes; a folder that is not the
    build's to write into is refused first (`check_owned`).

    A folder this build created is removed again if the build wrote nothing
    into it, so a failed first build leaves no empty folder holding `.lock`.
    """
    check_owned(index_dir, seeds_dir)
    created = writable_folder(index_dir)
    try:
        lock = index_dir / ".lock"  # an existing one is locked as it is, never emptied
        handle = open(lock, "r+" if lock.is_file() else "w")  # noqa: SIM115 -- closed below, after the cleanup
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


__all__ = ["build_lock", "check_owned", "index_path", "owned", "writable_folder"]
