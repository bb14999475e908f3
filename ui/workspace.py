"""What the web chat serves: one fixed index, or a live one that rebuilds as documents come and go.

    ws = Workspace(index_or_live, upload=True, feedback_log=Path("feedback.jsonl"))
    ws.index()     # the index answering now (a LiveIndex's current one: never waits for a rebuild)
    ws.status()    # Status(state, done, total, stage, message, version, pending)
    ws.documents() # DocumentInfo of every document the index serves (cached per index version)

A `rag.Index` is served as it is (no rebuilds, no uploads: its documents
cannot change under it). A `rag.service.live.LiveIndex` (anything with `current()`
and `status()`) rebuilds in the background; uploads go into its seeds folder
through one `ui.seeds_folder.SeedsFolder` (`seeds_folder()`), and `look_soon()` makes it look
at the seeds in a background thread, so a request never waits for that.
Does not answer questions: the chat calls `index().answer(...)` itself.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ui.catalog import DocumentInfo, catalog
from ui.origins import Origins
from ui.seeds_folder import SeedsFolder


@dataclass(frozen=True)
class FixedStatus:
    """The `rag.service.live.Status` of an index that never changes."""

    state: str = "ready"
    done: int = 0
    total: int = 0
    stage: str = ""
    message: str = ""
    version: str = ""
    pending: tuple[str, ...] = ()


def version_of(index: Any) -> str:
    """A short id of an index's data files ("" for an object without a manifest, such as a test double)."""
    files = getattr(getattr(index, "manifest", None), "files", None)
    if not isinstance(files, dict):
        return ""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode("utf-8")).hexdigest()[:12]


def is_live(target: Any) -> bool:
    return callable(getattr(type(target), "current", None)) and callable(getattr(type(target), "status", None))


class Workspace:
    """The index (or live index) a web app serves, whether it takes uploads, and where feedback goes."""

    def __init__(self, target: Any, *, upload: bool = False, feedback_log: str | Path | None = None,
                 origins: Origins | None = None):
        self.target = target
        self.origins = origins  # pages that may add and remove documents (None: any, as for a test double)
        self.live = is_live(target)
        self.upload = bool(upload) and self.live  # a fixed index would never show an uploaded document
        self.feedback_log = Path(feedback_log) if feedback_log is not None else None
        self._catalogs: dict[str, tuple[DocumentInfo, ...]] = {}
        self._lock = threading.Lock()
        self._folder: SeedsFolder | None = None
        self._folder_lock = threading.Lock()

    def index(self) -> Any:
        """The index answering now; hold it for one whole answer (its sources and texts belong together)."""
        return self.target.current() if self.live else self.target

    def advise(self, answer: Any) -> Any:
        """An answer of `index()`, with advice fit for a live index when its documents changed under it."""
        return self.target.advise(answer) if self.live else answer

    def status(self) -> Any:
        if self.live:
            return self.target.status()
        return FixedStatus(version=version_of(self.target))

    def refresh(self) -> Any:
        return self.target.refresh() if self.live else self.status()

    def look_soon(self) -> None:
        """Have a live index look at its seeds in a background thread (it reads the whole folder); returns at once."""
        if self.live:
            soon = getattr(self.target, "refresh_soon", None)
            if callable(soon):
                soon()
            else:  # an object with only `refresh()` (a test double): a thread of its own
                threading.Thread(target=self.target.refresh, name="rag-look", daemon=True).start()

    def seeds_folder(self) -> SeedsFolder:
        """The uploads into the seeds folder, made on first use (it counts the folder once: `ui.server.start`
        makes it before serving, so no request waits for that)."""
        with self._folder_lock:
            if self._folder is None:
                seeds = self.seeds_dir()
                if seeds is None:
                    raise RuntimeError("a fixed index takes no uploads")
                self._folder = SeedsFolder(seeds)
            return self._folder

    def seeds_dir(self) -> Path | None:
        """Where documents are added; None for a fixed index."""
        if not self.live:
            return None
        return Path(self.index().manifest.seeds_dir)

    def index_dir(self) -> Path | None:
        """The index folder (where the browser storage key is kept); None for an index without one."""
        folder = getattr(self.target, "index_dir", None)
        return Path(folder) if isinstance(folder, str | Path) else None

    def documents(self, index: Any | None = None) -> tuple[DocumentInfo, ...]:
        """The documents `index` (default: the current one) serves, computed once per index version."""
        index = index if index is not None else self.index()
        key = version_of(index) or str(id(index))
        with self._lock:
            known = self._catalogs.get(key)
        if known is not None:
            return known
        try:
            found = catalog(index)
        except Exception:  # noqa: BLE001 - an index without a manifest (a test double): names only
            found = tuple(DocumentInfo(s, s, "text", None, 0, 0, ()) for s in index.sources)
        with self._lock:
            if len(self._catalogs) > 8:
                self._catalogs.clear()
            self._catalogs[key] = found
        return found

    def skipped(self, index: Any | None = None) -> list[dict[str, str]]:
        """Files the index's build skipped, with the reason (from its manifest)."""
        index = index if index is not None else self.index()
        found = getattr(getattr(index, "manifest", None), "skipped", None)
        return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


__all__ = ["FixedStatus", "Workspace", "is_live", "version_of"]
