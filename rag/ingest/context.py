"""The context a passage stands in: its document's name and its section heading.

Headings and titles are never quoted, but they say what a passage is about:
an FAQ's question, a licence clause's name, a man page's section. Each
distinct (document, section) pair gets one context text, embedded once as
token vectors after every sentence's, so late interaction can match a
question word against the passage or its context.

Does not embed anything itself: `rag.answers.index` does, with the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.ingest.chunk import Chunk


def context_ids(chunks: Sequence[Chunk]) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """Each chunk's context number, and the (source, section) pair of each number, in first-seen order."""
    keys: dict[tuple[str, str | None], int] = {}
    ids = np.empty(len(chunks), dtype=np.int64)
    for n, chunk in enumerate(chunks):
        cite = chunk.passage.citation
        ids[n] = keys.setdefault((cite.source, cite.section), len(keys))
    return ids, list(keys)


def document_label(doc: Any) -> str:
    """What a document is called: its title, else its file name in words ("ssh-manual.txt" -> "ssh manual")."""
    if doc.title:
        return str(doc.title)
    stem = Path(doc.source).stem
    return " ".join(stem.replace("_", " ").replace("-", " ").split()) or stem


def context_text(label: str, section: str | None) -> str:
    return f"{label}: {section}" if section else label
