"""What a background rebuild needs beyond `build_index`: its own model instance, reporting, low priority.

The serving model instance takes one caller at a time (its tokenizer is not
thread-safe), so a build that used it would stall every answer until the
build ended: a rebuild gets a second instance, for that rebuild only. `StoppableEmbedder`
stops between reads (`Cancelled`) when the index is closed, so a server can
exit without waiting for a whole build. `lower_priority` makes the calling thread (and the
threads torch starts from it) yield the cores to answering. Does not decide
when to rebuild: see `rag.service.live`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from rag.answers.index import Index
from rag.embed.model import Embedder, QueryVectors
from rag.embed.passes import Encoded, Span
from rag.embed.runtime import new_embedder
from rag.errors import IngestError, RagError

SLICE = 128  # texts per reported step: a second or two of the packaged model on two cores
ATTEMPTS = 3  # builds in a row while files keep changing under them, before a rebuild is reported failed
NICENESS = 5  # Linux niceness is per thread; 5 gives the rebuild about a third of a core's share against answering



class Cancelled(Exception):
    """Raised inside a build whose index is being closed: it stops before writing anything."""


def own_embedder(name: str) -> Embedder:
    """A model instance of `name` of its own, not the process-wide one answers use.

    `rag.service.live` loads one per rebuild and drops it when the rebuild ends (the
    packaged model holds ~190 MB), so an idle index holds only the serving one.
    """
    return new_embedder(name)


def release_memory() -> None:
    """Free a dropped model instance now (its modules hold reference cycles) and hand the memory back to
    the system where the C library can (glibc's malloc_trim); elsewhere only the first."""
    gc.collect()
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def lower_priority() -> None:
    """Make the calling thread nicer (Linux); elsewhere, or when not allowed, do nothing."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class StoppableEmbedder:
    """Wraps an embedder: the same vectors, read SLICE texts at a time, stopping between slices when cancelled.

    `build_index` reports how many texts were read (`on_progress`); this
    wrapper only makes a closed index's rebuild stop at the next slice.
    """

    def __init__(self, inner: Embedder, cancelled: Callable[[], bool] = lambda: False):
        self.inner, self.cancelled = inner, cancelled
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        # The numerics an index records: a build re-uses rows only when they match, so the wrapper must say them too.
        self.precision = getattr(inner, "precision", None)
        self.runtime = getattr(inner, "runtime", None)

    def _check(self) -> None:
        if self.cancelled():
            raise Cancelled

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), SLICE):
            self._check()
            parts.append(self.inner.encode(texts[start : start + SLICE], batch_size=batch_size))
        return np.vstack(parts) if parts else self.inner.encode(texts, batch_size=batch_size)

    def encode_spans(self, texts: list[str], spans: list[list[Span]], *,
                     on_batch: Callable[[int], None] | None = None) -> list[Encoded]:
        """The inner embedder's reads; `build_index` reports them, this stops them when the index closes."""

        def read(n: int) -> None:
            if on_batch:
                on_batch(n)
            if self.cancelled():
                raise Cancelled

        if self.cancelled():
            raise Cancelled
        return self.inner.encode_spans(texts, spans, on_batch=read)

    def encode_query(self, text: str) -> QueryVectors:
        return self.inner.encode_query(text)


__all__ = ["Cancelled", "StoppableEmbedder", "lower_priority", "own_embedder", "release_memory"]


def build_or_none(build: Callable[[], Index], signature_now: Callable[[], Any]) -> Index | None:
    """`build()`, or None when it failed because a file changed while it was being read."""
    before = signature_now()
    try:
        return build()
    except (Cancelled, IngestError):
        raise
    except Exception:
        if signature_now() != before:
            return None
        raise


def attempts(signature: Any, old: Index, *, build: Callable[[], Index | None],
             signature_now: Callable[[], Any]) -> tuple[Index | None, Any, str | None]:
    """(the new index, the seeds it read, None), or (None, ..., why it failed), or (None, ..., None) when
    closed. A build that found a file changed while it was read is started over, ATTEMPTS times at most."""
    try:
        index = build()  # the serving model instance would stall answers: `build` uses one of its own
        for _ in range(ATTEMPTS - 1):
            if index is not None:
                break
            signature = signature_now()  # files changed while being read: read them again
            index = build()
        if index is None:
            raise RagError("the documents kept changing while they were being indexed; it is tried again at "
                           "the next change")
        if getattr(old.embedder, "precision", None) == getattr(index.embedder, "precision", None):
            index.embedder = old.embedder  # questions use the serving instance; the build's is dropped
        return index, signature, None
    except Cancelled:
        return None, signature, None
    except Exception as err:  # noqa: BLE001 - any failure keeps the old index serving
        why = str(err) if isinstance(err, RagError) else f"{type(err).__name__}: {err}"
        print(f"rag: could not update the index: {why}", file=sys.stderr)
        return None, signature, why
