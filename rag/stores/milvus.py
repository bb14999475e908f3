"""The Milvus store: an index kept in Milvus (a server, or a milvus-lite file), answered from with no index folder.

    milvus://HOST:PORT/COLLECTION     a Milvus server
    milvus-lite:PATH.db/COLLECTION    a milvus-lite file (started in-process)

Collection COLLECTION holds one row per passage: its dense vector (FLAT,
inner product), Milvus's own BM25 over its search tokens (each written as a
code word, so Milvus's analyser sees exactly the tokens `rag.ingest.text.tokens`
makes), its source and context, the passage record (text, citation, sentence
offsets, its paragraph's passages) and a payload: its sentence vectors and
the int8 token rows of its sentences, of the sentence before it and of its
context. COLLECTION_docs holds the manifest, the document frequencies and
every document's text, pages and sha256. BM25 proposes candidates; their
BM25 scores are then computed with the bm25s formula from the stored
frequencies, so they rank as the index folder ranks them.

Does not build anything: `rag.stores.milvus_build` uploads an index.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.model import QueryVectors
from rag.errors import IndexStateError
from rag.ingest.chunk import Chunk
from rag.ingest.parse import page_at
from rag.ingest.text import tokens
from rag.storage.bm25 import K1, B, idf
from rag.storage.index_folder import Manifest
from rag.stores.milvus_schema import Layout, chunk_of, code_words, collection_of, connect, first_line
from rag.stores.protocol import Candidates, empty_candidates
from rag.stores.signals import CANDIDATES, RANK_FEATURES, features

FIELDS = ["id", "vector", "record", "payload", "context"]


class MilvusStore:
    """A Milvus collection as a `rag.stores.Store`."""

    def __init__(self, uri: str):
        self.location = uri
        self.index_dir = None
        self.client, self.alias = connect(uri)
        self._open()

    def _open(self) -> None:
        """Read the manifest and frequencies of the collection the store's name stands for now."""
        uri = self.location
        self.name = collection_of(self.client, self.alias)
        try:
            if not self.client.has_collection(self.name) or not self.client.has_collection(self.name + "_docs"):
                raise IndexStateError(f"no index in {uri}: collection {self.alias!r} does not exist there; "
                                      f"run `rag build --store {uri}` first.")
            for name in (self.name, self.name + "_docs"):
                self.client.load_collection(name)
            meta = self._blob("manifest")
            self.manifest = Manifest(**meta["manifest"])
            self.frequencies: dict[str, int] = self._blob("frequencies")
        except IndexStateError:
            raise
        except Exception as err:  # noqa: BLE001
            lite = uri.startswith("milvus-lite:")
            aside = f" (if that fails too, move {uri[12:].rpartition('/')[0]} aside first)" if lite else ""
            raise IndexStateError(f"cannot read the index in {uri} ({type(err).__name__}: {first_line(err)}); "
                                  f"rebuild it with `rag build --store {uri}`{aside}.") from None
        self.codes = {w: n for n, w in enumerate(sorted(self.frequencies))}
        self.passage_count = int(meta["passages"])
        self.average_length = float(meta["average_length"])
        self._sources = sorted(meta["sources"])
        self.documents = _Documents(self)
        self._chunks: list[Chunk] | None = None

    def _blob(self, key: str) -> Any:
        rows = self.client.query(self.name + "_docs", ids=[key], output_fields=["blob"])
        if not rows:
            raise IndexStateError(f"the index in {self.location} lacks its {key}; rebuild it with "
                                  f"`rag build --store {self.location}`.")
        return json.loads("".join(rows[0]["blob"]))

    @property
    def sources(self) -> list[str]:
        return list(self._sources)

    @property
    def chunks(self) -> list[Chunk]:
        """Every passage, read once on first use (listings and `rag eval`; not a question's path)."""
        if self._chunks is None:
            found: dict[int, Chunk] = {}
            for start in range(0, self.passage_count, 1000):
                rows = self.client.query(self.name, filter=f"id >= {start} and id < {start + 1000}",
                                         output_fields=["id", "record"])
                found.update((int(r["id"]), chunk_of(r)) for r in rows)
            self._chunks = [found[i] for i in range(self.passage_count)]
        return self._chunks

    def passage_range(self, source: str) -> range:
        """The positions of `source`'s passages (contiguous, as in the index folder it was uploaded from)."""
        first, end = self.manifest.ranges[source][:2]
        return range(first, end)

    def text_of(self, source: str) -> str:
        return self.documents.text(source)

    def page_at(self, source: str, offset: int) -> int | None:
        record = self.documents.extracted.get(source)
        return page_at(record["pages"], offset) if record else None

    def current(self, source: str) -> str | None:
        """The text Milvus holds now, if it is still the text indexed; checked against the file too when
        the seeds folder is reachable (a text file must hold it, another file must hash the same)."""
        try:
            now = self._blob("doc:" + source)
        except Exception:  # noqa: BLE001 - unreachable or removed: nothing can be quoted
            return None
        if now["sha256"] != self.manifest.sources.get(source):
            return None
        seeds = Path(self.manifest.seeds_dir)
        if seeds.is_dir():
            from rag.readers.seedfiles import read_seed

            try:
                data = read_seed(seeds, source)
            except OSError:
                return None
            if hashlib.sha256(data).hexdigest() != now["sha256"]:
                return None
        return str(now["text"])

    def _moved(self) -> bool:
        """Whether the store's name now stands for another collection; if so, it is opened instead."""
        try:
            if collection_of(self.client, self.alias) == self.name:
                return False
            self._open()
        except Exception:  # noqa: BLE001 - the caller reports the first failure
            return False
        return True

    def _search(self, data: list[Any], field: str, metric: str, limit: int, sources: list[str] | None) -> list[int]:
        # Names go in as written: a JSON \u escape (json.dumps's default for "é") is not Milvus syntax.
        condition = "" if sources is None else "source in " + json.dumps(sorted(sources), ensure_ascii=False)
        found = self.client.search(self.name, data=data, anns_field=field, limit=limit, filter=condition,
                                   search_params={"metric_type": metric}, output_fields=["id"])
        return [int(hit["id"]) for hit in found[0]]

    def candidates(self, encoded: QueryVectors, question: str, *, k: int,
                   sources: list[str] | None = None) -> Candidates:
        """Dense (FLAT inner product) and BM25 proposals, then everything later stages read for them."""
        from pymilvus.exceptions import MilvusException

        try:
            return self._candidates(encoded, question, k=k, sources=sources)
        except MilvusException as err:
            if self._moved():  # an upload replaced the collection: answer from the new one
                return self.candidates(encoded, question, k=k, sources=sources)
            raise IndexStateError(f"Milvus could not search {self.location} ({first_line(err)}); check that the "
                                  "server is running and the collection is there, then ask again.") from None

    def _candidates(self, encoded: QueryVectors, question: str, *, k: int,
                    sources: list[str] | None) -> Candidates:
        width, n = self.manifest.dimension, self.passage_count
        if n == 0 or sources == []:
            return empty_candidates(RANK_FEATURES, width)
        pool = min(n, max(CANDIDATES, 4 * k))
        vector = encoded.vector
        query = [t for t in tokens(question) if t in self.frequencies]
        dense_ids = self._search([np.asarray(vector, np.float32).tolist()], "vector", "IP", pool, sources)
        lexical_ids = self._search([code_words(query, self.codes)], "sparse", "BM25", pool, sources) if query else []
        cand = np.array(sorted(set(dense_ids) | set(lexical_ids)), dtype=np.int64)
        if len(cand) == 0:
            return empty_candidates(RANK_FEATURES, width)
        rows = {int(r["id"]): r for r in self.client.query(self.name, ids=cand.tolist(), output_fields=FIELDS)}
        chunks = {i: chunk_of(rows[i]) for i in rows}
        records = {i: json.loads("".join(rows[i]["record"])) for i in rows}
        near = sorted({j for i in rows for j in range(records[i]["para"][0], records[i]["para"][1] + 2)
                       if j < n and j not in rows})
        if near:
            chunks.update((int(r["id"]), chunk_of(r)) for r in self.client.query(self.name, ids=near,
                                                                               output_fields=["id", "record"]))
        layout = Layout(width)
        for i in cand.tolist():
            layout.add(i, records[i], rows[i])
        first = np.array([layout.first[i] for i in cand.tolist()], dtype=np.int64)
        counts = np.array([len(chunks[i].sentences) for i in cand.tolist()], dtype=np.int64)
        sentence_vectors, token_matrix, offsets, contexts = layout.finish(cand.tolist())
        lexical = self._bm25(query, [records[i]["terms"] for i in cand.tolist()])
        passage_vectors = np.array([rows[i]["vector"] for i in cand.tolist()], dtype=np.float32)
        found = features(encoded, first=first, counts=counts, passage=passage_vectors @ vector, lexical=lexical,
                         sentence_vectors=sentence_vectors, tokens=token_matrix, token_offsets=offsets,
                         contexts=contexts, frequencies=self.frequencies, passages=n)
        return Candidates(cand, found, lexical, chunks, layout.first, sentence_vectors, token_matrix, offsets,
                          self.frequencies, self.frequencies, n)

    def _bm25(self, query: list[str], passages: list[list[str]]) -> np.ndarray:
        """Each passage's BM25 score (given its search tokens) for the query tokens, by bm25s's formula
        (as `rag.storage.bm25`, computed here in float32 for the candidates only)."""
        n, scores = self.passage_count, np.zeros(len(passages), dtype=np.float32)
        if not query:
            return scores
        weight = {t: np.float32(idf(self.frequencies[t], n)) for t in set(query)}
        for j, words in enumerate(passages):
            tf, length = Counter(words), np.float32(len(words))
            norm = np.float32(K1) * (np.float32(1 - B) + np.float32(B) * length / np.float32(self.average_length))
            scores[j] = sum((weight[t] * (np.float32(tf[t]) / (norm + np.float32(tf[t]))) for t in query if tf[t]),
                            np.float32(0.0))
        return scores

    def __repr__(self) -> str:
        return f"MilvusStore({self.location!r})"


class _Documents:
    """The documents' texts and pages as the store holds them (read once, on first use)."""

    def __init__(self, store: MilvusStore):
        self._store = store
        self._texts: dict[str, str] = {}
        self._extracted: dict[str, dict[str, Any]] | None = None

    def _load(self) -> None:
        extracted = {}
        for source in self._store.sources:
            record = self._store._blob("doc:" + source)
            self._texts[source] = record["text"]
            if record["kind"] != "text":
                extracted[source] = {"kind": record["kind"], "text": record["text"], "pages": record["pages"]}
        self._extracted = extracted

    @property
    def extracted(self) -> dict[str, dict[str, Any]]:
        if self._extracted is None:
            self._load()
        assert self._extracted is not None
        return self._extracted

    def text(self, source: str) -> str:
        if self._extracted is None:
            self._load()
        return self._texts[source]

