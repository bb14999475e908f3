"""The context a passage stands in: its document's name and its section heading.

Headings and titles are never quoted, but they say what a passage is about:
an FAQ's question, a licence clause's name, a man page's section. Each
distinct (document, section) pair gets one context text, embedded once as
token vectors after every sentence's, so late interaction can match a
question word against the passage or its context.

Does not embed anything itself: `rag.answers.index` does, with the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.ingest.chunk import Chunk

_WORD = re.compile(r"[^\W_]+")


def context_ids(chunks: Sequence[Chunk]) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """Each chunk's context number, and the (source, section) pair of each number, in first-seen order."""
    keys: dict[tuple[str, str | None], int] = {}
    ids = np.empty(len(chunks), dtype=np.int64)
    for n, chunk in enumerate(chunks):
        cite = chunk.passage.citation
        ids[n] = keys.setdefault((cite.source, cite.section), len(keys))
    return ids, list(keys)


def document_label(doc: Any) -> str:
    """What a document is called: its title and its file name in words ("ssh-manual.txt" -> "ssh manual").

    The file name is the name the user gave the document, often the short one questions use ("gpl-3.txt" for
    "GNU GENERAL PUBLIC LICENSE"): it follows the title in brackets unless the title holds all its words.
    """
    stem = Path(doc.source).stem
    named = " ".join(stem.replace("_", " ").replace("-", " ").split()) or stem
    if not doc.title:
        return named
    title = str(doc.title)
    if set(_WORD.findall(named.casefold())) <= set(_WORD.findall(title.casefold())):
        return title
    return f"{title} ({named})"


def context_text(label: str, section: str | None) -> str:
    return f"{label}: {section}" if section else label
