"""The default index (seeds/ → index/), loaded once per process and kept current.

`rag.retrieve` and `rag.answer` use it. Each use compares the seeds' file
sizes and modification times with those seen at load (stat only, cheap) and
rebuilds through `open_index` when a document was added, removed or edited.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import IngestError
from .index import Index
from .ingest import find_sources
from .loading import open_index
from .query import check_question
from .types import Answer, Passage

_default: dict[tuple[str, str], tuple[Index, tuple[Any, ...]]] = {}
_default_lock = threading.Lock()


def _seeds_signature(seeds: Path) -> tuple[Any, ...]:
    """Cheap to compute (stat only): changes whenever a seed document is added, removed or edited."""
    try:
        paths = find_sources(seeds)
    except IngestError:
        return ()
    signature = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # vanished between listing and stat (an editor's temporary file)
            continue
        signature.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


class DefaultIndex:
    """The default index for long-running callers (the web app, `rag ask` on stdin).

    Every attribute access goes through `default_index()`, which checks the
    seeds (stat only) and rebuilds when they changed, so a server never keeps
    answering from documents that were edited under it.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(default_index(), name)


def default_paths() -> tuple[Path, Path]:
    """seeds/ and index/, from $RAG_SEEDS and $RAG_INDEX or the current folder."""
    return Path(os.environ.get("RAG_SEEDS", "seeds")), Path(os.environ.get("RAG_INDEX", "index"))


def default_index() -> Index:
    """The default index, loaded (or built) once per process and cached."""
    seeds, target = default_paths()
    key = (str(seeds.resolve()), str(target.resolve()))
    with _default_lock:
        signature = _seeds_signature(seeds)
        cached = _default.get(key)
        if cached is None or cached[1] != signature:
            _default[key] = (open_index(seeds, target), signature)
        return _default[key][0]


def retrieve(question: str, k: int = 5) -> list[Passage]:
    """The `k` best passages for `question` from the default index (seeds/ → index/)."""
    check_question(question, k)
    return default_index().retrieve(question, k)


def answer(question: str, k: int = 5, *, history: Sequence[str] | None = None) -> Answer:
    """A cited answer to `question` from the default index (seeds/ → index/); `history`: the earlier
    questions of a conversation, oldest first (see `Index.answer`)."""
    check_question(question, k)
    return default_index().answer(question, k, history=history)
