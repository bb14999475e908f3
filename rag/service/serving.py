"""What an index that changes under its callers offers: `Index`'s reading surface, each call on `current()`.

`LiveIndex` and the default index both serve whichever `Index` is current
now; this base class gives them every reading method and property of
`rag.answers.index.Index`, named one by one (no attribute forwarding), each
going to the index serving at that moment. A caller that needs several
reads of one index should hold `current()` once: two calls here may meet two
indexes across a swap.

Does not load, build or watch anything: a subclass says what is current.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.answers.index import Index
from rag.embed.model import Embedder
from rag.ingest.chunk import Chunk
from rag.search.query import Query
from rag.search.ranking import Hit
from rag.storage.manifest import Manifest
from rag.stores import Candidates, Store
from rag.types import Answer, Citation, Passage


class Serving:
    """`Index`'s reading surface, each call made on `self.current()`."""

    def current(self) -> Index:
        raise NotImplementedError

    @property
    def store(self) -> Store:
        return self.current().store

    @property
    def manifest(self) -> Manifest:
        return self.current().manifest

    @property
    def embedder(self) -> Embedder:
        return self.current().embedder

    @property
    def fusion(self) -> str:
        return self.current().fusion

    @property
    def chunks(self) -> Sequence[Chunk]:
        return self.current().chunks

    @property
    def passages(self) -> Sequence[Passage]:
        return self.current().passages

    @property
    def documents(self) -> Any:
        return self.current().documents

    @property
    def sources(self) -> list[str]:
        return self.current().sources

    def passages_of(self, source: str) -> list[Passage]:
        return self.current().passages_of(source)

    def text_of(self, source: str) -> str:
        return self.current().text_of(source)

    def source_text(self, source: str) -> str:
        return self.current().source_text(source)

    def verify(self, citation: Citation, text: str) -> bool:
        return self.current().verify(citation, text)

    def page_at(self, source: str, offset: int) -> int | None:
        return self.current().page_at(source, offset)

    def check_sources(self, sources: Any) -> list[str]:
        return self.current().check_sources(sources)

    def candidates(self, query: Query, k: int, **options: Any) -> Candidates:
        return self.current().candidates(query, k, **options)

    def search(self, query: Query, k: int, **options: Any) -> list[Hit]:
        return self.current().search(query, k, **options)

    def retrieve(self, question: str, k: int = 5, **options: Any) -> list[Passage]:
        return self.current().retrieve(question, k, **options)

    def answer(self, question: str, k: int = 5, **options: Any) -> Answer:
        return self.current().answer(question, k, **options)

    def advise(self, result: Answer) -> Answer:
        """`result`, an answer of `current()`, with advice that fits this kind of index (none here)."""
        return result


__all__ = ["Serving"]
