"""Build an index folder from a seeds folder: ingest, chunk, embed, write.

`build_index` is the library's entry point for writing. An index already in
the folder, built with the same model and chunking, is the cache: unchanged
documents keep their rows (`rag.reuse`) and only new or changed ones are read
by the model; FAISS is remade from all rows, BM25 from the earlier index's
rows and the new passages' tokens (`rag.lexical`). Each document is
de-hyphenated by its own words, so its rows never depend on the others.
Rows and passages are written as they come (`rag.rowwriter`), so no build
holds every passage.
Does not query (`rag.index.Index`) nor load an index back (`rag.loading`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import store
from .chunk import MAX_WORDS, Chunk, chunk_document
from .context import context_ids, document_label
from .embed import DEFAULT_MODEL, Embedder, load_embedder
from .folder import build_lock
from .index import Index
from .ingest import Document, Unchanged, describe, ingest_changed
from .lexical import LexicalWriter
from .retrieve import faiss_index_for
from .reuse import Arrays, Previous, Rows, document_rows, layout, previous
from .rowfile import release
from .rowwriter import RowWriter, Written
from .text import vocabulary  # tokens, not the cached word_set: each text is counted once
from .vectors import SLICE, ChunkVectors, embed_chunks

NO_ROWS = Rows((0, 0), (0, 0), (0, 0))
BATCH = SLICE  # new documents are embedded and written about this many passages at a time


def build_index(seeds_dir: str | Path, index_dir: str | Path, *, model: str = DEFAULT_MODEL,
                max_words: int = MAX_WORDS, embedder: Embedder | None = None, progress: bool = False,
                verbose: bool = False, log: Any = None, on_progress: Any = None, reuse: bool = True) -> Index:
    """Ingest `seeds_dir`, embed it, and write an index to `index_dir`.

    Skipped files are reported one line each (and, with `verbose`, each
    document's title, sections and dropped lines) through `log`, a callable
    taking one line; by default they go to stderr. `on_progress(stage, done,
    total)`, if given, hears each stage start ("reading", "embedding", "writing").
    `reuse=False` embeds every document even when the folder's index could lend its rows.
    """
    seeds, target = Path(seeds_dir), Path(index_dir)
    say = log or (lambda line: print(line, file=sys.stderr))
    step = on_progress or (lambda stage, done, total: None)
    with build_lock(target):
        # Written by a function of its own, so the documents, chunks, FAISS and BM25 objects of the build
        # are freed before the index is read back: the peak is the larger of the two, not their sum.
        embedder = _write_index(seeds, target, model=model, max_words=max_words, embedder=embedder,
                                progress=progress, verbose=verbose, say=say, step=step, reuse=reuse)
        stored = store.read(target)  # mapped, not decoded: as quick for a million passages as for a thousand
    return Index(stored, embedder, target)


def _write_index(seeds: Path, target: Path, *, model: str, max_words: int, embedder: Embedder | None,
                 progress: bool, verbose: bool, say: Callable[[str], None], step: Callable[[str, int, int], None],
                 reuse: bool) -> Embedder:
    """`build_index`'s writing, under its lock; the embedder used."""
    chunking = {"max_words": max_words, "unit": "sentences within one body paragraph"}
    step("reading", 0, 0)
    old = previous(target, model=embedder.name if embedder else model, chunking=chunking) if reuse else None
    # Read before loading the model: a bad seeds folder fails fast.
    entries, skipped = ingest_changed(seeds, old.sha256 if old else {})
    embedder = embedder or load_embedder(model)
    precision = getattr(embedder, "precision", None)  # bfloat16 or float32 rows are not mixed in one index
    if old and (old.dimension != embedder.dimension or old.precision != precision):
        old = None
        entries, skipped = ingest_changed(seeds, {})
    docs = [e for e in entries if isinstance(e, Document)]
    for s in skipped:
        say(f"skipped {s.source}: {s.reason}")
    for doc in docs:
        if verbose:
            say(describe(doc))
        else:
            for note in doc.notes:
                say(f"{doc.source}: {note}")
    vocabularies = {doc.source: vocabulary(doc.text[b.start:b.end] for b in doc.body) for doc in docs}
    chunked = {doc.source: chunk_document(doc, max_words=max_words, vocabulary=vocabularies[doc.source])
               for doc in docs}
    new_chunks = [c for doc in docs for c in chunked[doc.source]]
    total = len(new_chunks) + sum(len(c.sentences) for c in new_chunks) + len(context_ids(new_chunks)[1])
    del new_chunks
    bar = _progress_bar(total, progress)
    done = 0

    def read(n: int) -> None:
        nonlocal done
        done += n
        step("embedding", min(done, total), total)
        if bar:
            bar.update(n)

    step("embedding", 0, total)
    texts = {doc.source: doc.text for doc in docs}
    labels = {doc.source: document_label(doc) for doc in docs}

    def embed(batch: list[Chunk]) -> ChunkVectors:
        return embed_chunks(embedder, batch, texts=texts, labels=labels, vocabularies=vocabularies,
                            on_batch=read)

    gen, paths = store.new_generation(target)
    writer, lexical = RowWriter(paths, embedder.dimension), LexicalWriter()
    try:
        written = _write_rows(writer, lexical, entries, old, chunked, embed)
        sealed = store.seal_rows(target, gen, written.passages_sha256)  # while FAISS is made and BM25 saved
        if bar:
            bar.close()  # before any line about what follows
        # BM25 saved and freed before FAISS copies the vectors: the peak is the larger of the two, not their sum.
        lexical.save(paths["bm25"])
        del lexical
        faiss_index, kind = faiss_index_for(written.passages)
        release(written.passages)  # FAISS holds its own copy: the spool's pages need not stay in this process
        manifest = {
            "model": embedder.name,
            "dimension": embedder.dimension,
            "precision": precision,
            "chunking": chunking,
            "faiss": kind,
            "contexts": written.contexts,
            "rows": layout(),
            "seeds_dir": str(seeds.resolve()),
            "sources": {**{s.source: s.sha256 for s in skipped if s.sha256},
                        **{e.source: e.sha256 for e in entries}},
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
            "build": {"reused": len(entries) - len(docs), "embedded": len(docs)},
            "ranges": writer.ranges,
        }
        extracted = _extracted(entries, old)
        # Every document's rows are written: its text and chunks are freed before BM25 is saved.
        for held in (chunked, texts, labels, vocabularies):
            held.clear()
        docs.clear()
        entries.clear()
        old = None
        step("writing", writer.passage_file.passages, writer.passage_file.passages)
        writer.close()
        store.write(target, gen=gen, documents=extracted, faiss_index=faiss_index, bm25=None,
                    manifest=manifest, sealed=sealed)
    except BaseException as err:
        store.discard(target, gen)
        if isinstance(err, OSError):
            raise store.unwritable(target, err) from None
        raise
    finally:
        writer.close()
        if bar:
            bar.close()
    return embedder


def _write_rows(writer: RowWriter, lexical: LexicalWriter, entries: list[Document | Unchanged], old: Previous | None,
                chunked: dict[str, list[Chunk]],
                embed: Callable[[list[Chunk]], ChunkVectors]) -> Written:
    """Every document's rows in order: an unchanged one's from the earlier index, the others embedded in batches
    of about `BATCH` passages, so the float rows of one batch at most are held; BM25's rows likewise."""
    batch: list[Document] = []

    def flush() -> None:
        if batch:
            chunks = [c for doc in batch for c in chunked[doc.source]]
            fresh = Arrays.of(chunks, embed(chunks))
            rows = document_rows(chunks)
            lexical.add([c.search_text for c in chunks])
            for doc in batch:
                writer.add(doc.source, fresh, rows.get(doc.source, NO_ROWS))
            batch.clear()

    for e in entries:
        if isinstance(e, Unchanged) and old:
            flush()
            writer.add(e.source, old.arrays, old.rows[e.source])
            start, end = old.rows[e.source].chunks
            if old.lexical is not None:
                lexical.reuse(old.lexical, start, end)
            else:
                lexical.add([c.search_text for c in old.arrays.chunks[start:end]])
        elif isinstance(e, Document):
            batch.append(e)
            if sum(len(chunked[doc.source]) for doc in batch) >= BATCH:
                flush()
    flush()
    return writer.finish()


def _extracted(entries: list[Document | Unchanged], old: Previous | None) -> dict[str, dict[str, Any]]:
    """The text extracted from each PDF, web page or Word file, by source, in the documents' order."""
    out = {}
    for e in entries:
        if isinstance(e, Document) and e.kind != "text":
            out[e.source] = {"kind": e.kind, "text": e.text, "pages": list(e.pages)}
        elif isinstance(e, Unchanged) and old and e.source in old.documents:
            out[e.source] = old.documents[e.source]
    return out


def _progress_bar(total: int, shown: bool) -> Any:
    """A progress bar over the texts the model reads (contexts, passages and sentences), or None."""
    if not shown:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="Embedding", unit="text")
