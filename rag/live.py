"""An index that stays current while it serves: watched seeds, background rebuilds, one swap.

    live = LiveIndex("seeds", "index")
    live.current().answer("Why does Taiwan matter to Japan?")   # never waits for a rebuild
    live.status()                                               # Status(state="indexing", ...)

A watcher thread looks at the seeds every `poll_seconds` (`rag.watch`: a stat
signature, plus a bounded sha256 sweep that catches an edit keeping size and
modification time). When they changed, a background thread rebuilds the
index into the same folder (`build_index` writes a new generation, then
replaces the manifest) while `current()` keeps returning the old Index; the
new one is then swapped in by replacing one reference, so a caller holds
either the old index or the new one, never a mix. A failed rebuild leaves
the old index serving, with state "failed" and one line saying why; the
next change to the seeds tries again. Seeds that vanish (the only document
removed, the folder deleted) do not stop answering: the index it has keeps
serving, with a notice in `Status.message`, and its answers still quote only
what the files hold (quotes from removed documents fail verification).

Attributes of `Index` (`answer`, `retrieve`, `sources`, ...) are forwarded to
`current()`, so a LiveIndex can be passed wherever an Index is read. A caller
that needs several attributes of one index (an answer and its documents'
texts) should hold `current()` once. Does not build or load itself: see
`rag.index` and `rag.loading`.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import store
from .embed import Embedder
from .errors import IngestError, RagError
from .index import Index, build_index
from .loading import load_index, open_index
from .rebuild import Cancelled, ReportingEmbedder, lower_priority, own_embedder
from .watch import HashSweep, Signature, changed_names, seeds_signature

CLOSE_SECONDS = 30.0  # close() waits this long at most for a rebuild to stop at its next step


@dataclass(frozen=True)
class Status:
    state: str  # "ready" | "indexing" | "failed"
    done: int  # units done in the running rebuild (0 when none)
    total: int  # units in all (0 when unknown/none)
    stage: str  # "", "reading", "embedding", "writing"
    message: str  # one line for people; "" when ready with nothing to say
    version: str  # id of the index now serving; changes at every swap
    pending: tuple[str, ...]  # documents added/changed that are being indexed (not yet answerable)


def version_of(index: Index) -> str:
    """A short id of the index's data files: a new build always gets a new one."""
    files = json.dumps(index.manifest.files, sort_keys=True).encode("utf-8")
    return hashlib.sha256(files).hexdigest()[:12]


def skipped_notice(index: Index) -> str:
    """The files the index's build skipped, one line ("" when none): people should see them."""
    return one_line("; ".join(f"skipped {s['source']}: {s['reason']}" for s in index.manifest.skipped))


def one_line(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class LiveIndex:
    """The index for `seeds_dir`, kept in `index_dir`, rebuilt in the background when the seeds change."""

    def __init__(self, seeds_dir: str | Path, index_dir: str | Path, *, model: str | None = None,
                 poll_seconds: float = 2.0):
        self.seeds, self.index_dir, self.model = Path(seeds_dir), Path(index_dir), model
        self.poll_seconds = poll_seconds
        self._index: Index | None = None
        self._signature: Signature = ()  # of the seeds the serving (or building) index was made from
        self._failed: Signature | None = None  # seeds a rebuild failed on: retried only once they change
        self._sweep: HashSweep | None = None
        self._embedder: Embedder | None = None  # the rebuilds' own model instance, loaded at the first one
        self._status = Status("indexing", 0, 0, "", "Loading the index…", "", ())
        self._lock = threading.Lock()  # guards the fields above
        self._load_lock = threading.Lock()  # one first load
        self._refresh_lock = threading.Lock()  # one look at the seeds at a time
        self._idle = threading.Condition(self._lock)
        self._builder: threading.Thread | None = None
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"rag-watch {self.seeds}", daemon=True)
        self._watcher.start()

    # --- serving -------------------------------------------------------

    def current(self) -> Index:
        """The index serving now; only the very first call waits, to load (or build) it."""
        index = self._index
        if index is not None:
            return index
        with self._load_lock:
            if self._index is None:
                try:
                    self._first_load()
                except RagError as err:
                    with self._lock:
                        self._status = Status("failed", 0, 0, "", one_line(str(err)), "", ())
                    raise
            assert self._index is not None
            return self._index

    def _first_load(self) -> None:
        signature = seeds_signature(self.seeds)
        try:
            index = open_index(self.seeds, self.index_dir, model=self.model)
            message = skipped_notice(index)
        except IngestError:
            if signature or not (self.index_dir / store.MANIFEST).exists():
                raise
            index = load_index(self.index_dir, model=self.model, check_sources=False)  # else the IngestError
            message = self._no_seeds_notice(index)
        with self._lock:
            self._index, self._signature = index, signature
            self._sweep = HashSweep(self.seeds, index.manifest.sources)
            self._status = Status("ready", 0, 0, "", message, version_of(index), ())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current(), name)

    def __repr__(self) -> str:
        return f"LiveIndex({str(self.seeds)!r}, {str(self.index_dir)!r}, {self.status().state})"

    def status(self) -> Status:
        """What the index is doing now (see `Status`)."""
        with self._lock:
            return self._status

    # --- watching ------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as err:  # noqa: BLE001 - the watcher must outlive any one bad look
                with self._lock:
                    self._status = replace(self._status, message=one_line(f"Could not check {self.seeds} for "
                                                                          f"changes ({type(err).__name__}: {err})."))

    def refresh(self) -> Status:
        """Look at the seeds now; start a background rebuild if they changed. Returns at once."""
        if self._index is None or self._stop.is_set():
            return self.status()
        with self._refresh_lock:
            signature = seeds_signature(self.seeds)
            with self._lock:
                building, index = self._builder is not None, self._index
                known, failed, sweep = self._signature, self._failed, self._sweep
            if building or signature == failed:
                return self.status()
            if not signature:
                with self._lock:
                    self._status = replace(self._status, state="ready", message=self._no_seeds_notice(index))
                return self.status()
            pending = changed_names(known, signature) if signature != known else ()
            if signature == known and sweep is not None:
                pending = sweep.step()  # content checks only while the stat signature is unchanged
            if signature != known or pending:
                self._start_rebuild(signature, pending, index)
            else:
                with self._lock:  # the documents are back as they were: drop the notice
                    if self._status.message == self._no_seeds_notice(index):
                        self._status = replace(self._status, message="")
            return self.status()

    def _no_seeds_notice(self, index: Index) -> str:
        return one_line(f"No documents in {self.seeds} now; still answering from the index of "
                        f"{len(index.sources)} document(s) built {index.manifest.built_at}, but quotes from "
                        "documents no longer there are withheld. Put documents back to rebuild it.")

    # --- rebuilding ----------------------------------------------------

    def _start_rebuild(self, signature: Signature, pending: tuple[str, ...], old: Index) -> None:
        names = ", ".join(pending[:3]) + (f" and {len(pending) - 3} more" if len(pending) > 3 else "")
        with self._lock:
            self._status = replace(self._status, state="indexing", done=0, total=0, stage="reading", pending=pending,
                                   message=one_line(f"Indexing {len(pending) or 'the'} changed document"
                                                    f"{'' if len(pending) == 1 else 's'}"
                                                    f"{': ' + names if names else ''}; answering from the "
                                                    "previous index meanwhile."))
            self._builder = threading.Thread(target=self._rebuild, args=(signature, old), daemon=True,
                                             name=f"rag-rebuild {self.index_dir}")
            self._builder.start()

    def _progress(self, stage: str, done: int, total: int) -> None:
        """`build_index`'s stages; within "embedding", how many texts the model has read."""
        what = {"reading": "reading the documents", "embedding": f"embedding texts {done:,}/{total:,}",
                "writing": "writing the index"}.get(stage, stage)
        with self._lock:
            pending = self._status.pending
            self._status = replace(self._status, stage=stage, done=done, total=total,
                                   message=one_line(f"Indexing {len(pending) or 'the'} changed document"
                                                    f"{'' if len(pending) == 1 else 's'}: {what}; answering "
                                                    "from the previous index meanwhile."))

    def _rebuild(self, signature: Signature, old: Index) -> None:
        lower_priority()
        notes: list[str] = []
        try:
            if self._embedder is None or self._embedder.name != old.manifest.model:
                self._embedder = own_embedder(old.manifest.model)  # the serving one would stall answers
            embedder = ReportingEmbedder(self._embedder, self._progress, self._stop.is_set)
            index = build_index(self.seeds, self.index_dir, model=old.manifest.model, embedder=embedder,
                                log=notes.append, on_progress=self._progress)
            index.embedder = old.embedder  # questions use the serving instance; the build's stays free
        except Cancelled:  # closed: nothing was written
            with self._lock:
                self._builder = None
                self._status = replace(self._status, state="ready", stage="", done=0, total=0, pending=(),
                                       message="Stopped indexing: the index was closed.")
                self._idle.notify_all()
            return
        except Exception as err:  # noqa: BLE001 - any failure keeps the old index serving
            why = str(err) if isinstance(err, RagError) else f"{type(err).__name__}: {err}"
            print(f"rag: could not update the index: {why}", file=sys.stderr)
            with self._lock:
                self._failed, self._builder = signature, None
                self._status = Status("failed", 0, 0, "", one_line(f"Could not update the index, so answers "
                                      f"still come from the previous one: {why}"), self._status.version, ())
                self._idle.notify_all()
            return
        with self._lock:
            self._index, self._signature, self._failed, self._builder = index, signature, None, None
            self._sweep = HashSweep(self.seeds, index.manifest.sources)
            self._status = Status("ready", 0, 0, "", skipped_notice(index), version_of(index), ())
            self._idle.notify_all()

    def wait(self, timeout: float | None = None) -> Status:
        """Block until no rebuild runs (or `timeout` seconds pass); the status then."""
        with self._idle:
            self._idle.wait_for(lambda: self._builder is None, timeout)
            return self._status

    def close(self) -> None:
        """Stop the watcher thread, and a running rebuild at its next step (before it writes anything)."""
        self._stop.set()
        for thread in (self._watcher, self._builder):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=CLOSE_SECONDS)


__all__ = ["LiveIndex", "Status", "version_of"]
