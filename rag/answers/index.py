"""Query an index: `Index.retrieve` / `Index.answer`, the library's entry points, over any
store (`rag.stores`: an index folder, or Milvus).

Building one is `rag.build.builder` (`build_index`); loading one back (`load_index`,
`open_index`, `open_store`) is `rag.service.loading`; the default index lives in `rag.service.default`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from rag.answers.quotes import verified
from rag.embed.model import Embedder, QueryVectors
from rag.errors import InputError
from rag.ingest.chunk import Chunk
from rag.search.query import Query, check_question
from rag.search.ranking import FUSIONS, Hit, rank
from rag.stores import Candidates, Store
from rag.types import Citation, Passage

if TYPE_CHECKING:
    from rag.types import Answer

DEFAULT_FUSION = "fused"


class Index:
    """A loaded index: a store (`rag.stores`) and the model that embeds questions.

    A thin facade: the question's stages are `rag.search.query`, the embedder, `Store.candidates`,
    `rag.search.ranking.rank` and `rag.answers.pipeline`; this class strings them together.
    """

    def __init__(self, store: Store, embedder: Embedder, index_dir: Path | None = None, *,
                 fusion: str = DEFAULT_FUSION):
        """`store` is any backend (`rag.stores`); `index_dir` is its folder, None for a store without one."""
        if fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}.")
        self.store: Store = store
        self.manifest = store.manifest
        self.embedder = embedder
        self.index_dir = index_dir
        self.fusion = fusion
        self._blas: Any = None

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every passage with its sentences and search text, in store order."""
        return self.store.chunks

    @functools.cached_property
    def passages(self) -> Sequence[Passage]:
        """Every passage, in store order: a view decoding each one as it is read (a walk reads them all)."""
        return PassageView(self.store.chunks)

    def passages_of(self, source: str) -> list[Passage]:
        """The passages of one document, in order (read from its rows, without a walk over every passage)."""
        if source not in set(self.sources):
            return []
        return [self.store.chunks[i].passage for i in self.store.passage_range(source)]

    @property
    def documents(self) -> Any:
        """The documents' texts: `.extracted` maps a PDF, HTML or Word source to its extracted text and pages."""
        return self.store.documents

    def text_of(self, source: str) -> str:
        """The full text of an indexed source, exactly as the offsets count it."""
        return self.store.text_of(source)

    def verify(self, citation: Citation, text: str) -> bool:
        """True when `text` is exactly the cited slice of the document as it is now (see `Store.current`).

        A text file is re-read, and any other file re-hashed, at every call
        (size and modification time can survive an edit), so a document
        edited after indexing fails here instead of being misquoted.
        """
        return verified(self.store, citation, text)

    def page_at(self, source: str, offset: int) -> int | None:
        """The 1-based page of `source` holding character `offset`; None for formats without pages."""
        return self.store.page_at(source, offset)

    @property
    def sources(self) -> list[str]:
        """The documents in the index, by path relative to the seeds folder."""
        return self.store.sources

    def __repr__(self) -> str:
        return (f"Index({self.store.location!r}, {self.manifest.passages} passages from {len(self.sources)} "
                f"documents, model={self.manifest.model!r})")

    def source_text(self, source: str) -> str:
        """The text of a source file as indexed; citations' offsets point into it."""
        if source not in set(self.sources):
            raise InputError(f"unknown document {_short(repr(source))}; the index holds {_first(self.sources)}.")
        return self.store.text_of(source)

    def check_sources(self, sources: Any) -> list[str]:
        """`sources` as a list of indexed document names, or InputError naming the first few that are not."""
        if isinstance(sources, str | bytes) or not isinstance(sources, list | tuple | set | frozenset) or not all(
                isinstance(s, str) for s in sources):
            raise InputError(f"sources must be a list of document names (e.g. {self.sources[:2]!r}), "
                             f"got {_short(repr(sources))}.")
        unknown = sorted(set(sources) - set(self.sources))
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
        """The passages the store proposes for `query` (dense and BM25), with everything that ranks and quotes them."""
        allowed = None if sources is None else self.check_sources(sources)
        if encoded is None:
            encoded, _ = self.encode_query(query)
        with self.one_blas_thread():
            return self.store.candidates(encoded, query.text, k=k, sources=allowed)

    def search(self, query: Query, k: int, *, sources: list[str] | None = None, fusion: str | None = None,
               encoded: QueryVectors | None = None, weights: dict[str, float] | None = None) -> list[Hit]:
        """The best `k` passages for `query`, best first (see `rag.search.ranking.rank`)."""
        found = self.candidates(query, k, sources=sources, encoded=encoded)
        return rank(found, k=k, fusion=fusion or self.fusion, weights=weights)

    def retrieve(self, question: str, k: int = 5, *, sources: list[str] | None = None,
                 fusion: str | None = None) -> list[Passage]:
        """The `k` passages that best match `question`, best first, each with a score."""
        query = check_question(question, k)
        found = self.candidates(query, k, sources=sources)
        hits = rank(found, k=k, fusion=fusion or self.fusion)
        return [replace(found.chunks[h.index].passage, score=round(h.score, 6)) for h in hits]

    def answer(self, question: str, k: int = 5, *, sources: list[str] | None = None,
               history: Sequence[str] | None = None) -> Answer:
        """Verbatim, cited quotes that answer `question`, or an honest abstention.

        `history`: the earlier questions of a conversation, oldest first; a follow-up that leans
        on them is searched with what it refers to (`Answer.searched`), or abstains when unclear.
        """
        from rag.answers.pipeline import answer

        return answer(self, question, k=k, sources=sources, history=history)


class PassageView(Sequence[Passage]):
    """The passages of a sequence of chunks, each read from its chunk when asked for (no copy)."""

    def __init__(self, chunks: Sequence[Chunk]):
        self._chunks = chunks

    def __len__(self) -> int:
        return len(self._chunks)

    @overload
    def __getitem__(self, key: int) -> Passage: ...

    @overload
    def __getitem__(self, key: slice) -> list[Passage]: ...

    def __getitem__(self, key: int | slice) -> Passage | list[Passage]:
        if isinstance(key, slice):
            return [c.passage for c in self._chunks[key]]
        return self._chunks[key].passage

    def __iter__(self) -> Iterator[Passage]:
        return (c.passage for c in self._chunks)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first(names: list[str], shown: int = 3) -> str:
    """A few names and how many there are in all: an error line stays short for any list."""
    listed = ", ".join(_short(repr(n), 50) for n in names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown:,} more ({len(names):,} in all)"
