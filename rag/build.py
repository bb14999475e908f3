"""Build an index folder from a seeds folder: ingest, chunk, embed, write.

`build_index` is the library's entry point for writing; it does not query
(that is `rag.index.Index`) and does not load an index back (`rag.loading`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from . import store
from .chunk import MAX_WORDS, Chunk, chunk_document
from .context import context_ids, document_label
from .embed import DEFAULT_MODEL, Embedder, load_embedder
from .folder import build_lock
from .index import Index
from .ingest import describe, ingest
from .retrieve import bm25_index, faiss_index_for
from .text import vocabulary
from .vectors import embed_chunks


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
