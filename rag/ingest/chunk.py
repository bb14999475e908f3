"""Cut body paragraphs into sentence-aligned passages with exact offsets.

A passage is one or more whole sentences of one body paragraph, so it never
crosses a paragraph or section boundary. A paragraph longer than
`max_words` is split at sentence boundaries into parts of similar length.
A run-in label that opens a paragraph ("2. Grant of Copyright License.",
or a bare "5.1.") is one sentence with the sentence it introduces, so it is
never quoted on its own.

Does not embed or index anything: see `rag.embed.model` and `rag.storage.index_folder`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rag.ingest.headings import run_in_label
from rag.ingest.parse import Document
from rag.ingest.text import dehyphenate, sentence_spans
from rag.types import Citation, Passage

MAX_WORDS = 120


@dataclass(frozen=True)
class Chunk:
    """A passage plus what indexing needs: its sentences and its search text."""

    passage: Passage
    sentences: tuple[tuple[int, int], ...]  # absolute offsets of each sentence
    search_text: str  # section title + de-hyphenated text, for embedding and BM25


def chunk_document(doc: Document, *, max_words: int = MAX_WORDS, vocabulary: set[str] | None = None) -> list[Chunk]:
    """Every body paragraph of `doc` as one or more passages."""
    vocab = vocabulary or set()
    chunks: list[Chunk] = []
    for block in doc.body:
        spans = paragraph_sentences(doc.text, block.start, block.end)
        groups = _group(doc.text, spans, max_words)
        for n, group in enumerate(groups, start=1):
            start, end = group[0][0], group[-1][1]
            suffix = f".{n}" if len(groups) > 1 else ""
            citation = Citation(doc.source, block.section, block.paragraph or 0, start, end, doc.page_at(start))
            passage = Passage(f"{doc.source}#{block.paragraph}{suffix}", doc.text[start:end], citation)
            prefix = f"{block.section}: " if block.section else ""
            search = prefix + " ".join(dehyphenate(doc.text[start:end], vocab).split())
            chunks.append(Chunk(passage, tuple(group), search))
    return chunks


def paragraph_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentences of one paragraph, a leading run-in label joined to the sentence after it."""
    spans = sentence_spans(text, start, end)
    label = run_in_label(text, spans)
    if label:
        spans[: label + 1] = [(spans[0][0], spans[label][1])]
    return spans


def _group(text: str, spans: list[tuple[int, int]], max_words: int) -> list[list[tuple[int, int]]]:
    """Pack consecutive sentences into about equal parts of at most ~max_words."""
    counts = [len(text[s:e].split()) for s, e in spans]
    total = sum(counts)
    if total <= max_words or len(spans) == 1:
        return [spans]
    target = total / math.ceil(total / max_words)
    groups: list[list[tuple[int, int]]] = [[]]
    filled = 0
    for span, count in zip(spans, counts, strict=True):
        # Start a new part when this sentence would pass the cap, or would
        # overshoot the even-split target by more than stopping short would.
        if groups[-1] and (filled + count > max_words or filled + count / 2 > target):
            groups.append([])
            filled = 0
        groups[-1].append(span)
        filled += count
    return groups
