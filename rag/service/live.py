"""An index that stays current while it serves: watched seeds, background rebuilds, one swap.

    with LiveIndex("seeds", "index") as live:
        live.answer("Why does Taiwan matter to Japan?")   # never waits for a rebuild
        live.status()                                     # Status(state="indexing", ...)

A watcher thread looks at the seeds every `poll_seconds` (`rag.service.watch`: a stat
signature of what a build would read, plus a bounded sha256 sweep). When it
changed, a background thread rebuilds the index into the same folder while
`current()` keeps returning the old Index; the new one is swapped in by
replacing one reference, so a caller holds the old index or the new one,
never a mix. A file changed while a rebuild reads it makes the rebuild start
over, not fail. A failed rebuild leaves the old index serving, with state
"failed" and one line saying why, until the seeds change again, are put back
as the serving index has them, or someone runs `rag build` (a new manifest
in the index folder is loaded). Seeds that vanish do not stop answering: the
index keeps serving, with a notice in `Status.message`, and quotes from
removed documents fail verification.

Index's reading methods go to `current()` (`rag.service.serving`), so a
LiveIndex can be passed wherever an Index is read; its `answer` adds advice
that fits an index that updates itself. A caller that needs several attributes of one index
should hold `current()` once. The watcher holds the LiveIndex weakly, so one
dropped without `close()` stops watching. Does not build or load itself: see
`rag.answers.index`, `rag.service.loading` and `rag.service.rebuild`.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

import rag.storage.index_folder as store
from rag.answers.index import Index
from rag.errors import IngestError, RagError
from rag.service.loading import build_index, load_index, open_index
from rag.service.rebuild import StoppableEmbedder, attempts, build_or_none, lower_priority, own_embedder, release_memory
from rag.service.serving import Serving
from rag.service.status import (
    CHANGED_MESSAGE,
    Status,
    changed_advice,
    indexing_message,
    one_line,
    skipped_notice,
    version_of,
)
from rag.service.status import no_seeds_notice as _no_seeds
from rag.service.watch import HashSweep, Signature, changed_names, poll, seeds_signature, stamp
from rag.storage.lock import index_path
from rag.types import Answer

CLOSE_SECONDS = 30.0  # close() waits this long at most for a rebuild to stop at its next step


class LiveIndex(Serving):
    """The index for `seeds_dir`, kept in `index_dir`, rebuilt in the background when the seeds change."""

    def __init__(self, seeds_dir: str | Path, index_dir: str | Path, *, model: str | None = None,
                 poll_seconds: float = 2.0):
        self.seeds, self.index_dir, self.model = Path(seeds_dir), index_path(index_dir), model
        self.poll_seconds = poll_seconds
        self._index: Index | None = None
        self._signature: Signature = ()  # of the seeds the serving (or building) index was made from
        self._failed: Signature | None = None  # seeds a rebuild failed on: retried only once they change
        self._sweep: HashSweep | None = None
        self._manifest: tuple[int, int] | None = None  # (size, mtime) of the manifest the serving index was read from
        self._look_error = ""  # the message of the last look at the seeds that failed, until one succeeds
        self._status = Status("indexing", 0, 0, "", "Loading the index…", "", ())
        self._lock = threading.Lock()  # guards the fields above
        self._load_lock = threading.Lock()  # one first load
        self._refresh_lock = threading.Lock()  # one look at the seeds at a time
        self._idle = threading.Condition(self._lock)
        self._builder: threading.Thread | None = None
        self._looker: threading.Thread | None = None  # a look asked for by `refresh_soon`
        self._look_asked = False
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=poll, args=(weakref.ref(self), self._stop, poll_seconds),
                                         name=f"rag-watch {self.seeds}", daemon=True)
        weakref.finalize(self, self._stop.set)  # a LiveIndex dropped unclosed stops its watcher
        self._watcher.start()

    def __enter__(self) -> LiveIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        signature = self._signature_now()
        try:
            index = open_index(self.seeds, self.index_dir, model=self.model)
            message = skipped_notice(index)
        except IngestError:
            if signature or not (self.index_dir / store.MANIFEST).exists():
                raise
            index = load_index(self.index_dir, model=self.model, check_sources=False)  # else the IngestError
            message = _no_seeds(self.seeds, index)
        with self._lock:
            self._serve(index, signature, message)

    def _serve(self, index: Index, signature: Signature, message: str) -> None:
        """Swap `index` in, built from seeds of `signature` (holding the lock)."""
        self._index, self._signature, self._failed = index, signature, None
        self._sweep = HashSweep(self.seeds, index.manifest.sources)
        self._manifest = stamp(self.index_dir / store.MANIFEST)
        self._status = Status("ready", 0, 0, "", message, version_of(index), ())

    def _signature_now(self) -> Signature:
        return seeds_signature(self.seeds, leave_out=self.index_dir)

    def answer(self, question: str, k: int = 5, **kwargs: Any) -> Answer:
        """The serving index's answer; when its quotes fail verification, advice that fits a live index."""
        return self.advise(self.current().answer(question, k, **kwargs))

    def advise(self, result: Answer) -> Answer:
        """`result` (an answer of `current()`), its advice on documents changed under it fit for a live index."""
        if result.message.startswith(CHANGED_MESSAGE):
            advice = changed_advice(self.seeds, self.status(), bool(self._signature_now()))
            result = replace(result, message=result.message.replace(CHANGED_MESSAGE, advice),
                             text=result.text.replace(CHANGED_MESSAGE, advice))
        return result

    def __repr__(self) -> str:
        return f"LiveIndex({str(self.seeds)!r}, {str(self.index_dir)!r}, {self.status().state})"

    def status(self) -> Status:
        """What the index is doing now (see `Status`)."""
        with self._lock:
            return self._status

    # --- watching ------------------------------------------------------

    def look(self) -> None:
        """`refresh`, as the watcher thread calls it (`rag.service.watch.poll`): never raises; a failure is shown in the
        status until a later look succeeds."""
        try:
            self.refresh()
        except Exception as err:  # noqa: BLE001 - the watcher must outlive any one bad look
            with self._lock:
                self._look_error = one_line(f"Could not check {self.seeds} for changes ({type(err).__name__}: "
                                            f"{err}); answering from the index as it is.")
                self._status = replace(self._status, message=self._look_error)

    def refresh(self) -> Status:
        """Look at the seeds now; start a background rebuild if they changed. Returns at once."""
        if self._index is None or self._stop.is_set():
            return self.status()
        with self._refresh_lock:
            self._load_new_manifest()
            signature = self._signature_now()
            with self._lock:
                building, index = self._builder is not None, self._index
                known, failed, sweep = self._signature, self._failed, self._sweep
                if self._look_error and self._status.message == self._look_error:
                    self._status = replace(self._status, message=skipped_notice(index))
                self._look_error = ""
            if building or signature == failed:
                return self.status()
            if not signature:
                with self._lock:
                    self._status = replace(self._status, state="ready", message=_no_seeds(self.seeds, index))
                return self.status()
            pending = changed_names(known, signature) if signature != known else ()
            if signature == known and sweep is not None:
                pending = sweep.step()  # content checks only while the stat signature is unchanged
            if signature != known or pending:
                self._start_rebuild(signature, pending, index)
            else:
                with self._lock:  # the documents are as the serving index has them: nothing to report
                    if self._status.state == "failed" or self._status.message == _no_seeds(self.seeds, index):
                        self._failed = None
                        self._status = replace(self._status, state="ready", message=skipped_notice(index))
            return self.status()

    def refresh_soon(self) -> None:
        """`refresh` in a background thread (it reads the whole seeds folder), after the rebuild running now if
        any; returns at once. Calls made meanwhile make one more look; `wait()` waits for them too."""
        with self._lock:
            self._look_asked = True
            if self._looker is None and not self._stop.is_set():
                self._looker = threading.Thread(target=self._look_when_asked, daemon=True,
                                                name=f"rag-look {self.seeds}")
                self._looker.start()

    def _look_when_asked(self) -> None:
        while True:
            with self._lock:
                while self._builder is not None and not self._stop.is_set():
                    self._idle.wait(1.0)  # a look during a rebuild sees nothing: look once it is in
                if not self._look_asked or self._stop.is_set():
                    self._looker = None
                    self._idle.notify_all()
                    return
                self._look_asked = False
            self.look()

    def _load_new_manifest(self) -> None:
        """Serve the index in the folder when its manifest changed (`rag build` was run) and no rebuild runs."""
        now = stamp(self.index_dir / store.MANIFEST)
        with self._lock:
            if now is None or now == self._manifest or self._builder is not None:
                return
            self._manifest = now  # tried once per new manifest
        try:
            index = load_index(self.index_dir, model=self.model, check_sources=False)  # the sweep checks it
        except RagError as err:
            with self._lock:
                self._status = replace(self._status, message=one_line(f"Found a new index in {self.index_dir} but "
                                       f"could not load it ({err}); answering from the previous one."))
            return
        with self._lock:
            if self._builder is None and version_of(index) != self._status.version:
                self._serve(index, self._signature_now(), skipped_notice(index))

    # --- rebuilding ----------------------------------------------------

    def _start_rebuild(self, signature: Signature, pending: tuple[str, ...], old: Index) -> None:
        with self._lock:
            self._status = replace(self._status, state="indexing", done=0, total=0, stage="reading", pending=pending,
                                   message=indexing_message(pending))
            self._builder = threading.Thread(target=self._rebuild, args=(signature, old), daemon=True,
                                             name=f"rag-rebuild {self.index_dir}")
            self._builder.start()

    def _progress(self, stage: str, done: int, total: int) -> None:
        """`build_index`'s stages; within "embedding", how many texts the model has read, of a total
        estimated from the documents read so far until the last (the texts of documents parsed count whole, so
        the estimate is never below the count)."""
        of = f"{total:,}" if done >= total else f"about {total:,}"
        what = {"reading": "reading the documents", "embedding": f"embedding texts {done:,} of {of}",
                "writing": "writing the index", "reading (OCR)": f"reading (OCR) page {min(done + 1, total):,} of "
                f"{total:,}"}.get(stage, stage)
        with self._lock:
            self._status = replace(self._status, stage=stage, done=done, total=total,
                                   message=indexing_message(self._status.pending, what))

    def _rebuild(self, signature: Signature, old: Index) -> None:
        lower_priority()
        index, signature, why = self._attempts(signature, old)
        release_memory()  # the rebuild's model instance, dropped by now
        with self._lock:
            self._builder = None
            if index is not None:
                self._serve(index, signature, skipped_notice(index))
            elif why is None:  # closed: nothing was written
                self._status = replace(self._status, state="ready", stage="", done=0, total=0, pending=(),
                                       message="Stopped indexing: the index was closed.")
            else:
                self._failed = signature
                self._status = Status("failed", 0, 0, "", one_line(f"Could not update the index, so answers "
                                      f"still come from the previous one: {why}"), self._status.version, ())
            self._idle.notify_all()

    def _attempts(self, signature: Signature, old: Index) -> tuple[Index | None, Signature, str | None]:
        """(the new index, the seeds it read, None), or (None, ..., why it failed), or (None, ..., None) when closed."""
        return attempts(signature, old, build=lambda: self._build(old), signature_now=self._signature_now)

    def _build(self, old: Index) -> Index | None:
        """One build with a model instance of its own; None when a file changed while it was being read."""
        embedder = StoppableEmbedder(own_embedder(old.manifest.model), self._stop.is_set)
        return build_or_none(lambda: build_index(self.seeds, self.index_dir, model=old.manifest.model,
                                                 embedder=embedder, log=lambda line: None,
                                                 on_progress=self._progress), self._signature_now)

    def wait(self, timeout: float | None = None) -> Status:
        """Block until no rebuild runs and no look asked for is left (or `timeout` seconds pass); the status then."""
        with self._idle:
            self._idle.wait_for(lambda: self._builder is None and self._looker is None, timeout)
            return self._status

    def close(self) -> None:
        """Stop the watcher thread, and a running rebuild at its next step (before it writes anything)."""
        self._stop.set()
        for thread in (self._watcher, self._looker, self._builder):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=CLOSE_SECONDS)


__all__ = ["LiveIndex", "Status", "version_of"]
