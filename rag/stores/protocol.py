"""The store protocol: what every backend gives the question's stages, and the one object it returns.

A question flows one way: `rag.search.query.check_question` validates it, the
embedder encodes it, `Store.candidates` proposes passages and returns one
`Candidates` object holding everything the later stages read for them (their
passages and paragraphs, sentence vectors, token rows, ranking features,
document frequencies), `rag.search.ranking.rank` ranks it, `rag.answers.pipeline` scores
its sentences and quotes or abstains, and the store gives the documents'
texts to cut quotes from and to verify them against.

Does not search anything itself: each backend is one module (`files`, `milvus`).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from rag.embed.model import QueryVectors
    from rag.ingest.chunk import Chunk
    from rag.storage.index_folder import Manifest
    from rag.storage.quantize import TokenMatrix


@dataclass(frozen=True)
class Candidates:
    """The passages proposed for one question, with every signal and every vector later stages read.

    Ids are positions in the store's passage order. `chunks` holds the
    candidates, every other passage of their paragraphs and the passage after
    each paragraph (quotes widen to the sentences a quote depends on).
    A passage's sentences are rows `first_sentence[id]` onward of
    `sentence_vectors`; sentence number s has token rows
    `token_offsets[s]:token_offsets[s + 1]` of `tokens`, and the sentence
    before a passage's first (when in the same paragraph) is number
    `first_sentence[id] - 1`.
    """

    ids: np.ndarray
    features: dict[str, np.ndarray]  # per candidate: late, dense, sentence, lexical (see RANK_FEATURES)
    bm25: np.ndarray  # raw BM25 score per candidate
    chunks: Mapping[int, Chunk]
    first_sentence: Any  # id -> sentence number (a Mapping or an array)
    sentence_vectors: np.ndarray
    tokens: TokenMatrix
    token_offsets: np.ndarray
    frequencies: Mapping[str, int]  # in how many passages a search token occurs (at least the question's)
    vocabulary: Container[str]  # the search tokens the documents use
    passages: int  # passages in the store (for IDF weights)

    def sentence_rows(self, chunk: int) -> tuple[int, int]:
        """The sentence numbers [first, end) of passage `chunk`."""
        first = int(self.first_sentence[chunk])
        return first, first + len(self.chunks[chunk].sentences)


def empty_candidates(features: Sequence[str], width: int) -> Candidates:
    """No candidates (an empty store, or nothing allowed)."""
    from rag.storage.quantize import TokenMatrix

    zeros = np.zeros(0)
    return Candidates(np.zeros(0, np.int64), {f: zeros for f in features}, zeros, {}, {},
                      np.zeros((0, width), np.float32), TokenMatrix.exact(np.zeros((0, width), np.float32)),
                      np.zeros(1, np.int64), {}, frozenset(), 0)


class Store(Protocol):
    """A backend holding an index: passages, vectors, BM25, token rows and the documents' texts."""

    location: str  # a folder path or a URI, for messages
    manifest: Manifest  # model, dimension, sources and their fingerprints, skipped files

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every passage in store order (listing; not on a question's path)."""
        ...

    @property
    def sources(self) -> list[str]:
        """The documents held, sorted."""
        ...

    @property
    def documents(self) -> Any:
        """An object whose `extracted` maps a PDF, HTML or Word source to {"kind", "text", "pages"}."""
        ...

    def candidates(self, encoded: QueryVectors, question: str, *, k: int,
                   sources: list[str] | None = None) -> Candidates:
        """The passages proposed for a question (dense and BM25), scored, with what later stages need."""
        ...

    def passage_range(self, source: str) -> range:
        """The positions of `source`'s passages in store order (a document's passages are contiguous)."""
        ...

    def text_of(self, source: str) -> str:
        """A document's text as indexed: citations' offsets count into it."""
        ...

    def page_at(self, source: str, offset: int) -> int | None:
        """The 1-based page holding character `offset`; None for formats without pages."""
        ...

    def current(self, source: str) -> str | None:
        """The document's text as it is now, if it still holds what was indexed; else None."""
        ...


__all__ = ["Candidates", "Store", "empty_candidates"]
