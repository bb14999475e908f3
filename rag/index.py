"""Query an index: `Index.retrieve` / `Index.answer`, the library's entry points.

Building one is `rag.build` (`build_index`); loading one back (`load_index`,
`open_index`) is `rag.loading`; the default index lives in `rag.default`.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import store
from .context import context_ids
from .embed import Embedder, QueryVectors
from .errors import InputError
from .query import Query, check_question
from .retrieve import FUSIONS, Candidates, Hit, candidates, rank, stored_vectors
from .sources import SourceTexts
from .text import tokens, word_set
from .types import Citation, Passage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .types import Answer

DEFAULT_FUSION = "fused"


class Index:
    """A loaded index: passages, vectors, BM25 and the model that embeds questions."""

    def __init__(self, stored: store.Stored, embedder: Embedder, index_dir: Path, *, fusion: str = DEFAULT_FUSION):
        if fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}.")
        self.manifest = stored.manifest
        self.chunks = stored.chunks
        self.faiss_index = stored.faiss_index
        self.bm25 = stored.bm25
        self.sentence_vectors = stored.sentence_vectors
        self.token_vectors = stored.token_vectors
        self.token_offsets = stored.token_offsets
        self.embedder = embedder
        self.index_dir = index_dir
        self.fusion = fusion
        self.passages = [c.passage for c in stored.chunks]
        # Row of each chunk's first sentence in `sentence_vectors`.
        self.sentence_offsets = np.cumsum([0] + [len(c.sentences) for c in stored.chunks])
        # Each chunk's context (document name and section): its token rows follow every sentence's.
        self.context_of = context_ids(stored.chunks)[0] + int(self.sentence_offsets[-1])
        self.passage_vectors = stored_vectors(stored.faiss_index)  # a view of FAISS's own copy
        self._source_of = np.array([c.passage.citation.source for c in stored.chunks], dtype=object)
        self._sources = sorted(set(self._source_of))
        self._blas: Any = None
        self.documents = SourceTexts(self.manifest.seeds_dir, index_dir, stored.chunks, stored.documents,
                                     self.manifest.sources)
        self._texts = self.documents.texts

    @functools.cached_property
    def document_frequency(self) -> dict[str, int]:
        """In how many passages each search token occurs (for IDF weights)."""
        counts: Counter[str] = Counter()
        for chunk in self.chunks:
            counts.update(word_set(chunk.search_text))
        return dict(counts)

    def rarity(self, words: tuple[str, ...]) -> np.ndarray:
        """An IDF weight per question word: words in every passage count little, rare ones much."""
        df, n = self.document_frequency, max(1, len(self.chunks))
        out = []
        for word in words:
            counts = [df.get(t, 0) for t in tokens(word)]
            out.append(math.log(1 + n / (min(counts) + 0.5)) if counts else 0.0)
        return np.array(out, dtype=np.float64)

    def text_of(self, source: str) -> str:
        """The full text of an indexed source, exactly as the offsets count it."""
        return self._texts[source]

    def verify(self, citation: Citation, text: str) -> bool:
        """True when `text` is exactly the cited slice of the document as its file holds it now.

        A text file is re-read, and any other file re-hashed, at every call
        (size and modification time can survive an edit), so a document
        edited after indexing fails here instead of being misquoted.
        """
        current = self.documents.current(citation.source)
        return current is not None and current[citation.start : citation.end] == text

    def page_at(self, source: str, offset: int) -> int | None:
        """The 1-based page of `source` holding character `offset`; None for formats without pages."""
        return self.documents.page_at(source, offset)

    @property
    def sources(self) -> list[str]:
        """The documents in the index, by path relative to the seeds folder."""
        return list(self._sources)

    def __repr__(self) -> str:
        return (f"Index({str(self.index_dir)!r}, {len(self.chunks)} passages from {len(self.sources)} "
                f"documents, model={self.manifest.model!r})")

    def source_text(self, source: str) -> str:
        """The text of a source file as indexed; citations' offsets point into it."""
        if source not in self._texts:
            raise InputError(f"unknown document {_short(repr(source))}; the index holds {_first(self.sources)}.")
        return self._texts[source]

    def check_sources(self, sources: Any) -> list[str]:
        """`sources` as a list of indexed document names, or InputError naming the first few that are not."""
        if isinstance(sources, str | bytes) or not isinstance(sources, list | tuple | set | frozenset) or not all(
                isinstance(s, str) for s in sources):
            raise InputError(f"sources must be a list of document names (e.g. {self.sources[:2]!r}), "
                             f"got {_short(repr(sources))}.")
        unknown = sorted(set(sources) - set(self._sources))
        if unknown:
            raise InputError(f"unknown document(s) {_first(unknown)}; the index holds {_first(self.sources)}.")
        return list(sources)

    def encode_query(self, query: Query) -> tuple[QueryVectors, bool]:
        """The question's vectors, and whether it had to be cut to fit (characters or model tokens)."""
        encoded = self.embedder.encode_query(query.text)
        return encoded, query.truncated or encoded.n_tokens > self.embedder.max_tokens

    def one_blas_thread(self) -> Any:
        """A context in which NumPy's products run on one BLAS thread.

        Query-time products are small; BLAS threads woken for them keep
        spinning and fight torch's threads for the cores, which doubled p95
        latency on two cores (measured by `bench/bench.py`).
        """
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=1, user_api="blas")

    def candidates(self, query: Query, k: int, *, sources: list[str] | None = None,
                   encoded: QueryVectors | None = None) -> Candidates:
        """The passages proposed for `query` (FAISS and BM25), with the features that rank them."""
        allowed = None if sources is None else np.isin(self._source_of, self.check_sources(sources))
        if encoded is None:
            encoded, _ = self.encode_query(query)
        with self.one_blas_thread():
            return candidates(encoded, query.text, index=self, k=k, allowed=allowed)

    def search(self, query: Query, k: int, *, sources: list[str] | None = None, fusion: str | None = None,
               encoded: QueryVectors | None = None, weights: dict[str, float] | None = None) -> list[Hit]:
        """The best `k` passages for `query`, best first (see `rag.retrieve.rank`)."""
        found = self.candidates(query, k, sources=sources, encoded=encoded)
        return rank(found, chunks=self.chunks, k=k, fusion=fusion or self.fusion, weights=weights)

    def retrieve(self, question: str, k: int = 5, *, sources: list[str] | None = None,
                 fusion: str | None = None) -> list[Passage]:
        """The `k` passages that best match `question`, best first, each with a score."""
        query = check_question(question, k)
        hits = self.search(query, k, sources=sources, fusion=fusion)
        return [replace(self.chunks[h.index].passage, score=round(h.score, 6)) for h in hits]

    def answer(self, question: str, k: int = 5, *, sources: list[str] | None = None,
               history: Sequence[str] | None = None) -> Answer:
        """Verbatim, cited quotes that answer `question`, or an honest abstention.

        `history`: the earlier questions of a conversation, oldest first; a follow-up that leans
        on them is searched with what it refers to (`Answer.searched`), or abstains when unclear.
        """
        from .answering import answer

        return answer(self, question, k=k, sources=sources, history=history)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first(names: list[str], shown: int = 3) -> str:
    """A few names and how many there are in all: an error line stays short for any list."""
    listed = ", ".join(_short(repr(n), 50) for n in names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown:,} more ({len(names):,} in all)"
