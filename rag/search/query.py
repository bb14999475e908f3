"""Validate a question before it reaches the model: one place, one set of messages."""

from __future__ import annotations

from dataclasses import dataclass

from rag.errors import InputError

MAX_QUESTION_CHARS = 2_000


@dataclass(frozen=True)
class Query:
    """A validated question: the text used for search and whether it was cut."""

    text: str
    original: str
    truncated: bool


def check_question(question: object, k: object = 5) -> Query:
    """Validate user input; raise InputError saying what to pass instead."""
    if not isinstance(question, str):
        raise InputError(f"question must be a string, got {type(question).__name__}; pass text such as "
                         "'Why does Taiwan matter to Japan?'.")
    if isinstance(k, bool) or not isinstance(k, int):
        raise InputError(f"k must be a whole number of passages (1 or more), got {k!r}.")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}; pass how many passages you want, e.g. k=5.")
    # Control characters carry no meaning for search and can upset terminals.
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InputError("question is blank; type a question about the documents, e.g. "
                         "'Why does Taiwan matter to Japan?'.")
    truncated = len(cleaned) > MAX_QUESTION_CHARS
    return Query(cleaned[:MAX_QUESTION_CHARS], question, truncated)
