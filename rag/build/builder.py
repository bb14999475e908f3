"""Build an index folder from a seeds folder: ingest, chunk, embed, write.

`write_index` writes; `rag.build_index` (`rag.service.loading`) writes and loads the result. An index already in
the folder, built with the same model and chunking, is the cache: unchanged
documents keep their rows (`rag.build.reuse`) and only new or changed ones are read
by the model; FAISS is remade from all rows, BM25 from the earlier index's
rows and the new passages' tokens (`rag.storage.bm25`). Each document is
de-hyphenated by its own words, so its rows never depend on the others.
Documents are parsed and chunked as the build reaches them (`rag.ingest.intake`),
and rows and passages written as they come (`rag.build.rowwriter`), so a build
holds one batch of documents, never the corpus.
Does not query (`rag.answers.index.Index`) nor load an index back (`rag.service.loading`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rag.storage.index_folder as store
from rag.build.reuse import Arrays, Previous, Rows, document_rows, layout, previous
from rag.build.rowwriter import RowWriter, Written
from rag.build.vectors import SLICE, ChunkVectors, embed_chunks
from rag.embed.model import DEFAULT_MODEL, Embedder
from rag.embed.runtime import load_embedder
from rag.ingest.chunk import MAX_WORDS
from rag.ingest.context import document_label
from rag.ingest.intake import Chunked, Intake, Unchanged
from rag.storage.bm25 import Damaged, LexicalWriter
from rag.storage.dense import EXACT_KIND, faiss_index_for
from rag.storage.lock import build_lock, index_path

NO_ROWS = Rows((0, 0), (0, 0), (0, 0))
BATCH = SLICE  # new documents are embedded and written about this many passages at a time


def write_index(seeds_dir: str | Path, index_dir: str | Path, *, model: str = DEFAULT_MODEL,
                max_words: int = MAX_WORDS, embedder: Embedder | None = None, progress: bool = False,
                verbose: bool = False, log: Callable[[str], None] | None = None,
                on_progress: Callable[[str, int, int], None] | None = None,
                reuse: bool = True) -> tuple[store.Stored, Embedder]:
    """Ingest `seeds_dir`, embed it, and write an index to `index_dir`; the index read back, and the embedder.

    Skipped files are reported one line each (and, with `verbose`, each
    document's title, sections and dropped lines) through `log`, a callable
    taking one line; by default they go to stderr. `on_progress(stage, done,
    total)`, if given, hears each stage start ("reading", "embedding", "writing"), and each page read by OCR
    ("reading (OCR)", pages done, pages of the file).
    `reuse=False` embeds every document even when the folder's index could lend its rows.
    """
    seeds, target = Path(seeds_dir), index_path(index_dir)
    say = log or (lambda line: print(line, file=sys.stderr))
    step = on_progress or (lambda stage, done, total: None)
    with build_lock(target, seeds):
        # Written by a function of its own, so the documents, chunks, FAISS and BM25 objects of the build
        # are freed before the index is read back: the peak is the larger of the two, not their sum.
        write = functools.partial(_write_index, seeds, target, model=model, max_words=max_words, embedder=embedder,
                                  progress=progress, verbose=verbose, say=say, step=step)
        try:
            embedder = write(reuse=reuse)
        except Damaged as err:  # found while copying the earlier index's rows: make every row anew instead
            if not reuse:
                raise
            say(f"The earlier index's BM25 arrays are damaged ({err.what}); embedding every document again.")
            embedder = write(reuse=False)
        stored = store.read(target)  # mapped, not decoded: as quick for a million passages as for a thousand
    return stored, embedder


def _write_index(seeds: Path, target: Path, *, model: str, max_words: int, embedder: Embedder | None,
                 progress: bool, verbose: bool, say: Callable[[str], None], step: Callable[[str, int, int], None],
                 reuse: bool) -> Embedder:
    """`write_index`'s writing, under its lock; the embedder used."""
    chunking = {"max_words": max_words, "unit": "sentences within one body paragraph"}
    step("reading", 0, 0)
    old = previous(target, model=embedder.name if embedder else model, chunking=chunking) if reuse else None
    intake = Intake(seeds, old.sha256 if old else {}, max_words=max_words, say=say, verbose=verbose, step=step)
    intake.prime(BATCH)  # before loading the model: a seeds folder with nothing readable fails fast
    embedder = embedder or load_embedder(model)
    precision = getattr(embedder, "precision", None)  # bfloat16 or float32 rows are not mixed in one index
    if old and (old.dimension != embedder.dimension or old.precision != precision):
        old = None
        intake = Intake(seeds, {}, max_words=max_words, say=say, verbose=verbose, step=step)
        intake.prime(BATCH)
    bar = _progress_bar(intake.texts_estimate(), progress)
    if bar:
        intake.say = _above(bar, say)  # a line said while the bar runs goes above it, not through it
    done = 0

    def read(n: int) -> None:
        nonlocal done
        done += n
        total = max(done, intake.texts_estimate())  # exact once every file is parsed
        step("embedding", done, total)
        if bar:
            bar.total = total
            bar.update(n)

    step("embedding", 0, intake.texts_estimate())
    gen, paths = store.new_generation(target)
    writer, lexical = RowWriter(paths, embedder.dimension), LexicalWriter()
    try:
        written, extracted = _write_rows(writer, lexical, intake, old, lambda batch: embed_chunks(
            embedder, [c for item in batch for c in item.chunks], texts={i.doc.source: i.doc.text for i in batch},
            labels={i.doc.source: document_label(i.doc) for i in batch},
            vocabularies={i.doc.source: i.vocabulary for i in batch}, on_batch=read))
        step("embedding", done, done)
        old = None  # the earlier index (its HNSW graph, its mapped rows) let go before BM25 and FAISS are made
        sealed = store.seal_rows(target, gen, written.passages_sha256)  # while FAISS is made and BM25 saved
        if bar:
            bar.close()  # before any line about what follows
        # BM25 saved and freed before FAISS copies the vectors: the peak is the larger of the two, not their sum.
        lexical.save(paths["bm25"])
        del lexical
        faiss_index, kind = faiss_index_for(written.passages)  # a block at a time, each block's pages dropped
        if kind == EXACT_KIND:  # FAISS holds codes: the exact vectors are kept as a file of their own
            writer.keep_passages(paths["passage_vectors"])
        manifest = {
            "model": embedder.name,
            "dimension": embedder.dimension,
            "precision": precision,
            "runtime": getattr(embedder, "runtime", None),  # said, not checked: precision decides (rag.embed.runtime)
            "chunking": chunking,
            "faiss": kind,
            "contexts": written.contexts,
            "rows": layout(),
            "seeds_dir": str(seeds.resolve()),
            "sources": intake.sources,
            "skipped": [{"source": s.source, "reason": s.reason} for s in intake.skipped],
            "build": {"reused": intake.found - intake.parsed, "embedded": intake.parsed},
            "ranges": writer.ranges,
        }
        step("writing", writer.passage_file.passages, writer.passage_file.passages)
        writer.close()
        store.write(target, gen=gen, documents=extracted, faiss_index=faiss_index, exact_vectors=kind == EXACT_KIND,
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


def _write_rows(writer: RowWriter, lexical: LexicalWriter, intake: Intake, old: Previous | None,
                embed: Callable[[list[Chunked]], ChunkVectors]) -> tuple[Written, dict[str, dict[str, Any]]]:
    """Every document's rows in order: an unchanged one's from the earlier index, the others parsed and embedded
    in batches of about `BATCH` passages, so one batch of documents and its float rows at most are held; BM25's
    rows likewise. Also the text extracted from each PDF, web page or Word file, by source, in order."""
    batch: list[Chunked] = []
    extracted: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        if batch:
            chunks = [c for item in batch for c in item.chunks]
            fresh = Arrays.of(chunks, embed(batch))
            rows = document_rows(chunks)
            lexical.add([c.search_text for c in chunks])
            for item in batch:
                writer.add(item.doc.source, fresh, rows.get(item.doc.source, NO_ROWS))
            batch.clear()

    for item in intake:
        if isinstance(item, Unchanged):
            assert old is not None  # only an earlier index's fingerprints make a file Unchanged
            flush()
            writer.add(item.source, old.arrays, old.rows[item.source])
            start, end = old.rows[item.source].chunks
            lexical.reuse(old.lexical, start, end)
            if item.source in old.documents:
                extracted[item.source] = old.documents[item.source]
        elif isinstance(item, Chunked):
            batch.append(item)
            if item.doc.kind != "text":
                extracted[item.doc.source] = {"kind": item.doc.kind, "text": item.doc.text,
                                              "pages": list(item.doc.pages)}
            if sum(len(i.chunks) for i in batch) >= BATCH:
                flush()
    flush()
    return writer.finish(), extracted


def _above(bar: Any, say: Callable[[str], None]) -> Callable[[str], None]:
    """`say`, with the progress bar cleared while it writes and drawn again under the line."""

    def said(line: str) -> None:
        with bar.external_write_mode(file=sys.stderr):
            say(line)

    return said


def _progress_bar(total: int, shown: bool) -> Any:
    """A progress bar over the texts the model reads (contexts, passages and sentences), or None."""
    if not shown:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="Embedding", unit="text")
