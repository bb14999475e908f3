"""The default index (seeds/ → index/), loaded once per process and kept current.

`rag.retrieve` and `rag.answer` use it. It is a `rag.service.live.LiveIndex`: a
watcher thread notices added, removed or edited documents and rebuilds in the
background while the previous index keeps answering, so asking a question
never scans the seeds folder (an answer re-reads only the files it quotes, to
verify them) and never waits for a rebuild (only the very first use loads or
builds the index).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.answers.index import Index
from rag.search.query import check_question
from rag.service.live import LiveIndex, Status
from rag.service.serving import Serving
from rag.types import Answer, Passage

_live: dict[tuple[str, str], LiveIndex] = {}
_live_lock = threading.Lock()


class DefaultIndex(Serving):
    """The default index for long-running callers: each read goes to the index serving at that moment."""

    def current(self) -> Index:
        return default_live().current()

    def answer(self, question: str, k: int = 5, **options: Any) -> Answer:
        return default_live().answer(question, k, **options)

    def advise(self, result: Answer) -> Answer:
        return default_live().advise(result)

    def status(self) -> Status:
        return default_live().status()

    def refresh(self) -> Status:
        return default_live().refresh()

    def wait(self, timeout: float | None = None) -> Status:
        return default_live().wait(timeout)

    def refresh_soon(self) -> None:
        default_live().refresh_soon()

    def look(self) -> None:
        default_live().look()

    def close(self) -> None:
        default_live().close()

    @property
    def seeds(self) -> Path:
        return default_live().seeds

    @property
    def index_dir(self) -> Path:
        return default_live().index_dir


def default_paths() -> tuple[Path, Path]:
    """seeds/ and index/ in the current folder, or $RAG_SEEDS and $RAG_INDEX when set (and not empty)."""
    return Path(os.environ.get("RAG_SEEDS") or "seeds"), Path(os.environ.get("RAG_INDEX") or "index")


def default_live() -> LiveIndex:
    """The LiveIndex of seeds/ → index/ (or $RAG_SEEDS → $RAG_INDEX), one per process and folder pair."""
    seeds, target = default_paths()
    key = (str(seeds.resolve()), str(target.resolve()))
    with _live_lock:
        live = _live.get(key)
        if live is None:
            live = _live[key] = LiveIndex(seeds, target)
        return live


def default_index() -> Index:
    """The default index serving now, loaded (or built) at first use."""
    return default_live().current()


def retrieve(question: str, k: int = 5) -> list[Passage]:
    """The `k` best passages for `question` from the default index (seeds/ → index/)."""
    check_question(question, k)
    return default_index().retrieve(question, k)


def answer(question: str, k: int = 5, *, history: Sequence[str] | None = None) -> Answer:
    """A cited answer to `question` from the default index (seeds/ → index/); `history`: the earlier
    questions of a conversation, oldest first (see `Index.answer`)."""
    check_question(question, k)
    return default_live().answer(question, k, history=history)
