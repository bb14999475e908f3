"""The local-files store: an index folder (FAISS, BM25, memory-mapped .npy) read by `rag.storage.index_folder.read`.

Nothing here walks every passage: which rows belong to which document, each
passage's first sentence and context, and the words' passage counts were
stored by the build, so a store opens as quickly for a million passages as
for a thousand, and passages are decoded only as questions reach them.

Dense candidates come from FAISS (or, under a source filter, an exact product
over the allowed passages), lexical ones from BM25 (`rag.storage.bm25`); the `Candidates` it
returns are views of the memory-mapped arrays, so nothing is copied per
question. Quotes are verified against the files in the seeds folder
(`rag.storage.texts`).

Does not build or write indexes (`rag.build.builder`, `rag.storage.index_folder.write`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from rag.embed.model import QueryVectors
from rag.ingest.chunk import Chunk
from rag.storage.index_folder import Stored
from rag.storage.rowfile import will_need
from rag.storage.texts import SourceTexts
from rag.stores.protocol import Candidates, empty_candidates
from rag.stores.signals import CANDIDATES, RANK_FEATURES, features, top_k


class Positions(Mapping[int, Chunk]):
    """A sequence of chunks seen as a mapping from position to chunk (no copy)."""

    def __init__(self, chunks: Sequence[Chunk]):
        self._chunks = chunks

    def __getitem__(self, key: int) -> Chunk:
        if not 0 <= key < len(self._chunks):
            raise KeyError(key)
        return self._chunks[key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int | np.integer) and 0 <= int(key) < len(self._chunks)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._chunks)))

    def __len__(self) -> int:
        return len(self._chunks)


class FileStore:
    """An index folder as a `rag.stores.Store`."""

    def __init__(self, stored: Stored, index_dir: Path):
        self.index_dir = index_dir
        self.location = str(index_dir)
        self.manifest = stored.manifest
        self.chunks = stored.chunks
        self.faiss_index = stored.faiss_index
        self.bm25 = stored.bm25
        self.sentence_vectors = stored.sentence_vectors
        self.token_vectors = stored.token_vectors
        self.token_offsets = stored.token_offsets
        rows = np.asarray(stored.passage_rows)
        # Row of each chunk's first sentence in `sentence_vectors`, and one past the last.
        self.sentence_offsets = np.ascontiguousarray(rows[:, 1])
        # Each chunk's context (document name and section): its token rows follow every sentence's.
        self.context_of = rows[:-1, 2] + int(self.sentence_offsets[-1])
        self.passage_vectors = stored.passage_vectors  # exact, mapped (`rag.storage.dense`)
        # Documents in index order, and each passage's document as a number into them.
        ranges = self.manifest.ranges
        self._order = list(ranges)
        self._source_of = np.repeat(np.arange(len(ranges), dtype=np.int32),
                                    [r[1] - r[0] for r in ranges.values()])
        self._sources = sorted(ranges)
        self._positions = Positions(stored.chunks)
        self.documents = SourceTexts(self.manifest.seeds_dir, index_dir, self._order, stored.documents,
                                     self.manifest.sources)
        self._texts = self.documents.texts
        # In how many passages each search token occurs (for IDF weights), from BM25's postings.
        self.document_frequency: dict[str, int] = self.bm25.frequencies()

    @property
    def sources(self) -> list[str]:
        return list(self._sources)

    def passage_range(self, source: str) -> range:
        """The positions of `source`'s passages (they are contiguous)."""
        first, end = self.manifest.ranges[source][:2]
        return range(first, end)

    def text_of(self, source: str) -> str:
        return self._texts[source]

    def page_at(self, source: str, offset: int) -> int | None:
        return self.documents.page_at(source, offset)

    def current(self, source: str) -> str | None:
        return self.documents.current(source)

    def candidates(self, encoded: QueryVectors, question: str, *, k: int,
                   sources: list[str] | None = None) -> Candidates:
        """Dense (FAISS) and lexical (BM25) proposals, scored by every ranking feature."""
        n = len(self.chunks)
        if n == 0:
            return empty_candidates(RANK_FEATURES, self.manifest.dimension)
        wanted = set(sources or ())
        allowed = None if sources is None else np.isin(
            self._source_of, [n for n, s in enumerate(self._order) if s in wanted])
        pool = min(n, max(CANDIDATES, 4 * k))
        vector = encoded.vector
        if allowed is None:
            _, ids = self.faiss_index.search(vector.reshape(1, -1).astype(np.float32), pool)
            dense_ids = [int(i) for i in ids[0] if i >= 0]
        else:
            # A filtered search scores the allowed passages exactly: asking an
            # approximate index for every neighbour would be slow and lossy.
            subset = np.flatnonzero(allowed)
            sims = self.passage_vectors[subset] @ vector
            dense_ids = [int(i) for i in subset[top_k(sims, pool)]]
        lexical_all = self.bm25.scores(question)
        if allowed is not None:
            lexical_all = np.where(allowed, lexical_all, 0.0)
        lexical_ids = [int(i) for i in top_k(lexical_all, pool) if lexical_all[i] > 0]
        cand = np.array(sorted(set(dense_ids) | set(lexical_ids)), dtype=np.int64)
        if len(cand) == 0:
            return empty_candidates(RANK_FEATURES, self.manifest.dimension)
        lexical = lexical_all[cand]
        first = self.sentence_offsets[cand]
        will_need(self.passage_vectors, cand, cand + 1)  # a cold index's rows read together (`rag.storage.rowfile`)
        will_need(self.sentence_vectors, first, self.sentence_offsets[cand + 1])
        found = features(encoded, first=first, counts=self.sentence_offsets[cand + 1] - first,
                         passage=self.passage_vectors[cand] @ vector, lexical=lexical,
                         sentence_vectors=self.sentence_vectors, tokens=self.token_vectors,
                         token_offsets=self.token_offsets, contexts=self.context_of[cand],
                         frequencies=self.document_frequency, passages=n)
        return Candidates(cand, found, lexical, self._positions, self.sentence_offsets, self.sentence_vectors,
                          self.token_vectors, self.token_offsets, self.document_frequency, self.bm25.vocab, n)

    def __repr__(self) -> str:
        return f"FileStore({self.location!r})"
