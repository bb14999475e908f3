"""The seeds folder as the upload route keeps it between requests: the bytes held, the names taken.

    folder = SeedsFolder(seeds_dir)                      # counts the folder once: call it when the server starts
    saved = folder.save("report.pdf", data, limits())   # -> Saved("uploads/report.pdf", size)
    folder.remove("uploads/report.pdf")                 # moved to uploads/.removed/

A request costs work in proportion to its own upload, not to the documents
already there: the bytes of all documents are a running count (counted in
full when the SeedsFolder is made, then again in a background thread when the
count is older than RECOUNT_SECONDS), to which every upload being written
adds its size before it writes, so uploads at the same moment cannot
together pass the limit. The names in `uploads/` are listed once, then kept
up to date as files are added and removed, so "Notes.txt" beside "notes.txt"
becomes "Notes (2).txt".

A name is claimed atomically: the file is written whole under a hidden
temporary name, then linked to its name (`os.link` fails when the name
exists, so a file is never replaced; the next free "name (n)" is tried);
where links are not supported, the name is created exclusively and the
file renamed over that empty placeholder. The temporary file is removed on
every path, refused or kept, and ones a stopped server left behind (older
than STALE_SECONDS) are removed when a SeedsFolder is made.

Does not check names or content (`ui.uploads`), limit how often clients
upload (`ui.quota`), or index anything (`rag.service.live` sees the new file).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from rag.readers.limits import Limits
from ui.uploads import (
    REMOVED,
    TEMPORARY,
    UPLOADS,
    Saved,
    UploadError,
    _shown,
    check_content,
    check_size,
    clean_name,
    corpus_bytes,
    removable,
)

log = logging.getLogger(__name__)

RECOUNT_SECONDS = 60.0  # a count older than this is redone in the background at the next upload
STALE_SECONDS = 3600.0  # a temporary file this old belongs to no upload still running
MAX_NUMBER = 9999  # "name (9999).txt" is the last name tried
_TEMPORARY = re.compile(re.escape(TEMPORARY) + r"[0-9a-f]{32}$")
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}
CANNOT_WRITE = ("{name} could not be saved ({why}); the server's seeds folder must be writable and have room: "
                "tell whoever runs the server.")


class SeedsFolder:
    """Uploads into one seeds folder; safe to share between threads."""

    def __init__(self, seeds_dir: str | Path):
        self.seeds = Path(seeds_dir)
        self.folder = self.seeds / UPLOADS
        self._lock = threading.Lock()
        _remove_stale(self.folder)
        self._counted = corpus_bytes(self.seeds)  # bytes found by the last count
        self._since = 0  # bytes kept (minus removed) since that count began
        self._writing = 0  # bytes of uploads being written now
        self._counted_at = time.monotonic()
        self._counter: threading.Thread | None = None
        self._names = _names_in(self.folder)  # lower-cased names in uploads/, claimed ones included

    def held(self) -> int:
        """The bytes the documents come to, as the running count has them."""
        with self._lock:
            return self._counted + self._since + self._writing

    def save(self, name: str, data: bytes, lim: Limits) -> Saved:
        """Check and keep one uploaded document under uploads/; UploadError when it is refused."""
        safe = clean_name(name)
        size = len(data)
        with self._lock:
            check_size(safe, size, self._counted + self._since + self._writing, lim)
            self._writing += size
            self._recount_if_old()
        try:
            check_content(safe, data)
            kept = self._keep(safe, data)
        except BaseException:
            with self._lock:
                self._writing -= size
            raise
        with self._lock:
            self._writing -= size
            self._since += size
        return Saved(f"{UPLOADS}/{kept}", size)

    def remove(self, source: str) -> Path:
        """Move an uploaded document to uploads/.removed/ (out of the index, not deleted); where it went."""
        if not isinstance(source, str) or not removable(source):
            raise UploadError(f"Only documents added from the page (in {UPLOADS}/) can be removed here; "
                              f"{_shown(str(source))} is not one.")
        path = self.seeds / source
        if path.is_symlink() or not path.is_file():
            raise UploadError(f"{source} is no longer in the documents folder; the list will refresh.")
        size = path.stat().st_size
        bin_ = self.folder / REMOVED
        try:
            bin_.mkdir(exist_ok=True)
            target = _move_aside(path, bin_)
        except OSError as err:
            log.warning("removing %s failed: %s", path, err)
            raise UploadError(f"Cannot remove {source} ({err.strerror or type(err).__name__}); check the "
                              "permissions of the server's seeds folder.") from None
        with self._lock:
            self._names.discard(path.name.lower())
            self._since -= size
        return target

    # --- writing -------------------------------------------------------

    def _keep(self, safe: str, data: bytes) -> str:
        """Write `data` whole under a temporary name, then give it the first free name; the name used."""
        temporary = self.folder / f"{TEMPORARY}{uuid.uuid4().hex}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(temporary, "xb") as out:
                out.write(data)
            for candidate in self._candidates(safe):  # a name found taken on disk stays known as taken
                try:
                    if _claim(temporary, self.folder / candidate):
                        return candidate
                except OSError:
                    with self._lock:
                        self._names.discard(candidate.lower())
                    raise
            raise UploadError(f"There are already {MAX_NUMBER} documents named like {safe}; rename it and add "
                              "it again.")
        except OSError as err:
            log.warning("keeping an upload in %s failed: %s", self.folder, err)
            why = err.strerror or type(err).__name__
            raise UploadError(CANNOT_WRITE.format(name=safe, why=why)) from None
        finally:
            try:
                temporary.unlink(missing_ok=True)
            except OSError as err:
                log.warning("could not remove %s: %s", temporary, err)

    def _candidates(self, safe: str) -> Iterator[str]:
        """`safe`, "stem (2).suffix", ... each reserved in the name set as it is handed out."""
        suffix = Path(safe).suffix
        stem = safe[: -len(suffix)] if suffix else safe
        for number in range(1, MAX_NUMBER + 1):
            candidate = safe if number == 1 else f"{stem} ({number}){suffix}"
            with self._lock:
                if candidate.lower() in self._names:
                    continue
                self._names.add(candidate.lower())
            yield candidate

    # --- counting ------------------------------------------------------

    def _recount_if_old(self) -> None:
        """Start a full count in the background when the last is old (holding the lock)."""
        if self._counter is None and time.monotonic() - self._counted_at > RECOUNT_SECONDS:
            self._counter = threading.Thread(target=self._recount, name=f"rag-count {self.seeds}", daemon=True)
            self._counter.start()

    def _recount(self) -> None:
        with self._lock:
            before = self._since
        try:
            total = corpus_bytes(self.seeds)
        except Exception:  # the running count stays as it is
            log.exception("counting %s failed", self.seeds)
            total = None
        with self._lock:
            if total is not None:
                # uploads kept while counting stay in _since; the count may have seen them too (counted twice
                # until the next count: the limit errs on the side of refusing)
                self._counted, self._since = total, self._since - before
            self._counted_at, self._counter = time.monotonic(), None


def _claim(temporary: Path, final: Path) -> bool:
    """Give the written file `temporary` the name `final` unless a file has it; False when one has."""
    try:
        os.link(temporary, final)
        return True
    except FileExistsError:
        return False
    except OSError as err:
        if err.errno not in _NO_LINKS:
            raise
    try:  # no hard links here: create the name exclusively, then move the whole file over the empty one
        os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    os.replace(temporary, final)
    return True


def _move_aside(path: Path, bin_: Path) -> Path:
    """Move `path` into `bin_` under its name, or "name (n)" when that is taken; never replaces a file."""
    suffix = path.suffix
    stem = path.name[: -len(suffix)] if suffix else path.name
    for number in range(1, MAX_NUMBER + 1):
        target = bin_ / (path.name if number == 1 else f"{stem} ({number}){suffix}")
        if _claim(path, target):
            try:
                if os.path.samefile(path, target):
                    path.unlink()  # linked: drop the old name (moved instead where links are not supported)
            except FileNotFoundError:
                pass
            return target
    raise OSError(errno.EEXIST, f"{MAX_NUMBER} removed documents named like {path.name}")


def _names_in(folder: Path) -> set[str]:
    try:
        return {entry.name.lower() for entry in os.scandir(folder)}
    except OSError:
        return set()


def _remove_stale(folder: Path) -> None:
    """Remove temporary files of uploads that stopped long ago (a server killed while writing)."""
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if _TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False) \
                    and now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
        except OSError:
            continue


def save_upload(seeds_dir: str | Path, name: str, data: bytes, lim: Limits) -> Saved:
    """Check and keep one uploaded document under seeds/uploads/; UploadError when it is refused."""
    return SeedsFolder(seeds_dir).save(name, data, lim)


def remove_upload(seeds_dir: str | Path, source: str) -> Path:
    """Move an uploaded document to uploads/.removed/ (out of the index, not deleted); returns where it went."""
    return SeedsFolder(seeds_dir).remove(source)


__all__ = ["RECOUNT_SECONDS", "STALE_SECONDS", "SeedsFolder", "remove_upload", "save_upload"]
