"""What a `rag.service.live.LiveIndex` tells people: its `Status`, and the one-line messages in it.

Every message is one line that says what is happening and, when something is
wrong, what to do; an index that updates itself never advises `rag build`
for a change it will pick up on its own. Does not watch or build: see `rag.service.live`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rag.answers.index import Index
from rag.answers.pipeline import CHANGED_MESSAGE


@dataclass(frozen=True)
class Status:
    state: str  # "ready" | "indexing" | "failed"
    done: int  # units done in the running rebuild (0 when none)
    total: int  # units in all (0 when unknown/none)
    stage: str  # "", "reading", "reading (OCR)", "embedding", "writing"
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


def indexing_message(pending: tuple[str, ...], what: str = "") -> str:
    """ "Indexing 2 changed documents: a.txt, b.txt; answering from the previous index meanwhile." """
    names = ", ".join(pending[:3]) + (f" and {len(pending) - 3} more" if len(pending) > 3 else "")
    detail = what or names
    return one_line(f"Indexing {len(pending) or 'the'} changed document{'' if len(pending) == 1 else 's'}"
                    f"{': ' + detail if detail else ''}; answering from the previous index meanwhile.")


def no_seeds_notice(seeds: Path, index: Index) -> str:
    return one_line(f"No documents in {seeds} now; still answering from the index of "
                    f"{len(index.sources)} document(s) built {index.manifest.built_at}, but quotes from "
                    "documents no longer there are withheld. Put documents back to rebuild it.")


def changed_advice(seeds: Path, status: Status, has_seeds: bool) -> str:
    """What an answer whose quotes all failed verification says, instead of `CHANGED_MESSAGE`."""
    if not has_seeds:
        return f"Nothing can be quoted: {seeds} holds no documents now. Put them back and the index rebuilds itself."
    if status.state == "failed":
        return f"The documents changed since they were indexed, so nothing can be quoted from them. {status.message}"
    return ("The documents changed since they were indexed, so nothing can be quoted from them until the index "
            "catches up (it updates itself); ask again shortly.")


__all__ = ["CHANGED_MESSAGE", "Status", "changed_advice", "indexing_message", "no_seeds_notice", "one_line",
           "skipped_notice", "version_of"]
