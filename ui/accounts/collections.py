"""Each user's private collection: its own seeds folder, index, feedback log and browser-storage key.

    collections = Collections(users, model=None)   # the users' folders under users.folder/users/NAME
    ws = collections.workspace("ana")               # a ui.workspace.Workspace over ana's own LiveIndex
    collections.close()                             # stop every watcher and rebuild

A user's folder (`seeds/`, `index/`, `feedback.jsonl`) is made at the first
sign-in, readable by the server's account only. A collection with no
document yet answers with a plain "no documents yet" (`EmptyIndex`); the
first upload starts its `rag.service.live.LiveIndex` in a background thread,
and from then on it rebuilds as the seeds change, like the server's own index.
The conversation stored in the browser is encrypted with a key kept in the
user's index folder (`ui.browserkey`), so one user's browser storage cannot
be read back by another's page.

The server's shared collection (`rag.service.shared`: documents an admin
puts in with `rag users shared add`) is mirrored into every collection as
`shared/…` when the collection opens and whenever the shared folder
changes (looked at every `poll_seconds`); users read those documents and
cannot remove them (the page and the API remove only `uploads/…`).

Does not decide who is calling (`ui.accounts.logins`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rag.errors import RagError
from rag.service.live import LiveIndex
from rag.service.shared import SharedFolder
from rag.service.status import Status, one_line
from rag.service.users import Users
from rag.service.watch import seeds_signature
from rag.storage.manifest import MANIFEST
from rag.types import Answer
from ui.browserkey import browser_key
from ui.origins import Origins
from ui.workspace import Workspace

NO_DOCUMENTS = "No documents yet: add some with the panel on the left (or POST them to rag/upload)."


class EmptyIndex:
    """The index of a collection without documents: no sources, and every answer says so."""

    def __init__(self, seeds: Path):
        self.sources: list[str] = []
        self.passages: list[Any] = []
        self.manifest = SimpleNamespace(seeds_dir=str(seeds), files=None, skipped=[], sources={})

    def answer(self, question: str, k: int = 5, **options: Any) -> Answer:
        return Answer(question if isinstance(question, str) else str(question), [], [], True, message=NO_DOCUMENTS)

    def passages_of(self, source: str) -> list[Any]:
        return []

    def source_text(self, source: str) -> str:
        raise RagError(f"unknown document {source!r}: this collection has no documents yet.")


class Collection:
    """A live index for one user's seeds that may have no documents yet (then `EmptyIndex` serves)."""

    def __init__(self, folder: Path, *, model: str | None = None, poll_seconds: float = 2.0):
        self.folder = folder
        self.seeds, self.index_dir = folder / "seeds", folder / "index"
        for path in (folder, self.seeds, self.index_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.model, self.poll_seconds = model, poll_seconds
        self._empty = EmptyIndex(self.seeds)
        self._live: LiveIndex | None = None
        self._ready = False
        self._loader: threading.Thread | None = None
        self._failure = ""
        self._look_again = False  # documents came while the first load ran: look once it is done
        self._lock = threading.Lock()
        if (self.index_dir / MANIFEST).exists() or self._has_documents():
            self._start()

    def _has_documents(self) -> bool:
        return bool(seeds_signature(self.seeds, leave_out=self.index_dir))

    def _start(self) -> None:
        """Load (or build) the index in a background thread; answers come from `EmptyIndex` meanwhile."""
        with self._lock:
            if self._ready or self._loader is not None:
                return
            loader = threading.Thread(target=self._load, name=f"rag-collection {self.folder.name}", daemon=True)
            loader.start()  # it ends by taking the lock held here, so it cannot clear `_loader` before this sets it
            self._loader = loader

    def _load(self) -> None:
        live = self._live or LiveIndex(self.seeds, self.index_dir, model=self.model, poll_seconds=self.poll_seconds)
        try:
            live.current()
            failure = ""
        except RagError as err:
            failure = one_line(str(err))
        with self._lock:
            self._live, self._loader, self._failure = live, None, failure
            self._ready = not failure
            again, self._look_again = self._look_again, False
        if again and not failure:
            live.refresh_soon()

    def current(self) -> Any:
        return self._live.current() if self._ready and self._live is not None else self._empty

    def status(self) -> Any:
        if self._ready and self._live is not None:
            return self._live.status()
        if self._loader is not None:
            return Status("indexing", 0, 0, "reading", "Indexing the documents…", "", ())
        if self._failure:
            return Status("failed", 0, 0, "", self._failure, "", ())
        return Status("ready", 0, 0, "", NO_DOCUMENTS, "", ())

    def advise(self, answer: Answer) -> Answer:
        return self._live.advise(answer) if self._ready and self._live is not None else answer

    def refresh(self) -> Any:
        if self._ready and self._live is not None:
            return self._live.refresh()
        if self._has_documents():
            with self._lock:
                self._look_again = self._loader is not None
            self._start()
        return self.status()

    def refresh_soon(self) -> None:
        if self._ready and self._live is not None:
            self._live.refresh_soon()
        else:
            threading.Thread(target=self.refresh, name="rag-look", daemon=True).start()

    def wait(self, timeout: float | None = None) -> Any:
        """Until the first load and any rebuild are done (for tests and scripts); documents that came
        before the first look (an upload whose look has not started yet) are loaded first."""
        if not self._ready and self._loader is None and self._has_documents():
            self._start()
        loader = self._loader
        if loader is not None:
            loader.join(timeout)
        if self._live is not None:
            self._live.wait(timeout)
        return self.status()

    def close(self) -> None:
        loader = self._loader
        if loader is not None:
            loader.join()
        if self._live is not None:
            self._live.close()


class Collections:
    """The users' collections, each made when its user first needs it."""

    def __init__(self, users: Users, *, model: str | None = None, upload: bool = True,
                 origins: Origins | None = None, poll_seconds: float = 2.0):
        self.users, self.model, self.upload, self.origins = users, model, upload, origins
        self.poll_seconds = poll_seconds
        self.shared = SharedFolder(users.folder)
        self._lock = threading.Lock()
        self._open: dict[str, Workspace] = {}
        self._keys: dict[str, str] = {}
        self._stop = threading.Event()
        self._seen_shared = self.shared.signature()
        self._watcher = threading.Thread(target=self._watch_shared, name="rag-shared", daemon=True)
        self._watcher.start()

    def _watch_shared(self) -> None:
        """Mirror the shared folder into every open collection when it changes; each then rebuilds."""
        while not self._stop.wait(self.poll_seconds):
            try:
                now = self.shared.signature()
                if now == self._seen_shared:
                    continue
                self._seen_shared = now
                with self._lock:
                    opened = list(self._open.items())
                for user, ws in opened:
                    if self.shared.mirror_into(self.users.collection(user)):
                        ws.look_soon()
            except OSError:  # a file that went while it was looked at: the next look sees it settled
                self._seen_shared = ()

    def workspace(self, user: str) -> Workspace:
        with self._lock:
            ws = self._open.get(user)
            if ws is None:
                folder = self.users.collection(user)
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                self.shared.mirror_into(folder)  # before the collection looks for documents
                target = Collection(folder, model=self.model, poll_seconds=self.poll_seconds)
                ws = Workspace(target, upload=self.upload, feedback_log=folder / "feedback.jsonl",
                               origins=self.origins)
                self._open[user] = ws
                self._keys[user] = browser_key(target.index_dir)
            return ws

    def browser_key(self, user: str) -> str:
        """The key `user`'s page encrypts its browser storage with (kept in the user's index folder)."""
        self.workspace(user)
        return self._keys[user]

    def collection(self, user: str) -> Collection:
        target = self.workspace(user).target
        assert isinstance(target, Collection)
        return target

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for ws in opened:
            ws.target.close()


__all__ = ["NO_DOCUMENTS", "Collection", "Collections", "EmptyIndex"]
