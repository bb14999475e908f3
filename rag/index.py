"""Build and query an index: the library's entry points.

`build_index` ingests a seeds folder, embeds passages and sentences, and
writes an index folder; `Index.retrieve` / `Index.answer` query it, over any
store (`rag.stores`: an index folder, or Milvus).
Loading one back (`load_index`, `open_index`) is `rag.loading`; the default
index lives in `rag.default`.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store
from .chunk import MAX_WORDS, Chunk, chunk_document
from .context import context_ids, document_label
from .embed import DEFAULT_MODEL, Embedder, QueryVectors, load_embedder
from .errors import InputError
from .folder import build_lock
from .ingest import describe, ingest
from .query import Query, check_question
from .quotes import verified
from .retrieve import FUSIONS, Hit, bm25_index, faiss_index_for, rank
from .stores import Candidates, Store
from .text import vocabulary
from .types import Citation, Passage
from .vectors import embed_chunks

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .types import Answer

DEFAULT_FUSION = "fused"


class Index:
    """A loaded index: a store (`rag.stores`) and the model that embeds questions.

    A thin facade: the question's stages are `rag.query`, the embedder, `Store.candidates`,
    `rag.retrieve.rank` and `rag.answering`; this class strings them together.
    """

    def __init__(self, stored: store.Stored | Store, embedder: Embedder, index_dir: Path | None = None, *,
                 fusion: str = DEFAULT_FUSION):
        if fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}.")
        if isinstance(stored, store.Stored):
            from .stores.files import FileStore

            stored = FileStore(stored, Path(index_dir or "."))
        self.store: Store = stored
        self.manifest = stored.manifest
        self.embedder = embedder
        self.index_dir = index_dir if index_dir is not None else getattr(stored, "index_dir", None)
        self.fusion = fusion
        self._blas: Any = None

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every passage with its sentences and search text, in store order."""
        return self.store.chunks

    @functools.cached_property
    def passages(self) -> list[Passage]:
        return [c.passage for c in self.store.chunks]

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
        """The best `k` passages for `query`, best first (see `rag.retrieve.rank`)."""
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
        from .answering import answer

        return answer(self, question, k=k, sources=sources, history=history)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first(names: list[str], shown: int = 3) -> str:
    """A few names and how many there are in all: an error line stays short for any list."""
    listed = ", ".join(_short(repr(n), 50) for n in names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown:,} more ({len(names):,} in all)"


# --- building -------------------------------------------------------------


def build_index(seeds_dir: str | Path, index_dir: str | Path, *, model: str = DEFAULT_MODEL,
                max_words: int = MAX_WORDS, embedder: Embedder | None = None, progress: bool = False,
                verbose: bool = False, log: Any = None, on_progress: Any = None) -> Index:
    """Ingest `seeds_dir`, embed it, and write an index to `index_dir`.

    Skipped files are reported one line each (and, with `verbose`, each
    document's title, sections and dropped lines) through `log`, a callable
    taking one line; by default they go to stderr. `on_progress(stage, done,
    total)`, if given, hears each stage start ("reading", "embedding", "writing").
    """
    seeds, target = Path(seeds_dir), Path(index_dir)
    say = log or (lambda line: print(line, file=sys.stderr))
    step = on_progress or (lambda stage, done, total: None)
    with build_lock(target):
        step("reading", 0, 0)
        docs, skipped = ingest(seeds)  # before loading the model: a bad seeds folder fails fast
        embedder = embedder or load_embedder(model)
        for s in skipped:
            say(f"skipped {s.source}: {s.reason}")
        for doc in docs:
            if verbose:
                say(describe(doc))
            else:
                for note in doc.notes:
                    say(f"{doc.source}: {note}")
        vocab = vocabulary(doc.text[b.start:b.end] for doc in docs for b in doc.body)
        chunks: list[Chunk] = [c for doc in docs for c in chunk_document(doc, max_words=max_words,
                                                                          vocabulary=vocab)]
        labels = {doc.source: document_label(doc) for doc in docs}
        total = len(chunks) + sum(len(c.sentences) for c in chunks) + len(context_ids(chunks)[1])
        bar = _progress_bar(total, progress)
        done = 0

        def read(n: int) -> None:
            nonlocal done
            done += n
            step("embedding", min(done, total), total)
            if bar:
                bar.update(n)

        step("embedding", 0, total)
        embedded = embed_chunks(embedder, chunks, texts={doc.source: doc.text for doc in docs}, labels=labels,
                                vocabulary=vocab, on_batch=read)
        if bar:
            bar.close()
        vectors = embedded.passages
        faiss_index, kind = faiss_index_for(vectors)
        manifest = {
            "model": embedder.name,
            "dimension": embedder.dimension,
            "chunking": {"max_words": max_words, "unit": "sentences within one body paragraph"},
            "faiss": kind,
            "contexts": embedded.contexts,
            "seeds_dir": str(seeds.resolve()),
            "sources": {**{s.source: s.sha256 for s in skipped if s.sha256}, **{d.source: d.sha256 for d in docs}},
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
        }
        step("writing", len(chunks), len(chunks))
        extracted = {d.source: {"kind": d.kind, "text": d.text, "pages": list(d.pages)} for d in docs if d.kind != "text"}
        store.write(target, chunks=chunks, documents=extracted, passage_vectors=vectors,
                    sentence_vectors=embedded.sentences, token_vectors=embedded.tokens,
                    token_offsets=embedded.token_offsets, faiss_index=faiss_index,
                    bm25=bm25_index(chunks), manifest=manifest)
        stored = store.read(target)
    return Index(stored, embedder, target)


def _progress_bar(total: int, shown: bool) -> Any:
    """A progress bar over the texts the model reads (contexts, passages and sentences), or None."""
    if not shown:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="Embedding", unit="text")
