"""Re-use an earlier index's rows for the documents that did not change.

An index folder that already holds an index built with the same model,
chunking and row layout is the cache: a document whose file still hashes to
the sha256 the manifest records keeps its passages, passage and sentence
vectors, int8 token rows with their scales, and its contexts' token rows,
sliced from the old memory-mapped arrays; only new and changed documents are
read by the model. A document's rows depend on nothing but the document (its
own words decide de-hyphenation, see `rag.build.builder`), so re-used rows are the
rows a build from scratch gives; an index made by other code (the manifest's
"rows" key names a digest of the modules that make rows) lends nothing.

The earlier index is mapped, not decoded: its passages' lines are copied as
bytes, each document's rows are read from its manifest, and BM25's rows are
re-used as mapped (`rag.storage.bm25`).
Does not write anything (`rag.storage.index_folder`) nor decide what is embedded (`rag.build.builder`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rag.storage.index_folder as store
from rag.build.vectors import ChunkVectors
from rag.errors import RagError
from rag.ingest.chunk import Chunk
from rag.ingest.context import context_ids
from rag.storage.bm25 import Lexical
from rag.storage.quantize import TokenMatrix

# Manifest key "rows": indexes without it took a corpus-wide vocabulary, so their rows are not re-used.
LAYOUT = "per-document v1"
# The code that turns a file into rows: a change to any of it (a new reader rule, a new chunking) makes rows anew.
# Paths under rag/; storage/bm25: BM25's rows are re-used too.
ROW_CODE = ("readers/*", "ingest/*", "build/vectors", "build/reuse", "embed/passes", "embed/model", "storage/quantize",
            "storage/bm25")


@functools.cache
def layout() -> str:
    """What the "rows" manifest key holds: the layout and a digest of the code that makes rows."""
    root = Path(__file__).parents[1]
    digest = hashlib.sha256()
    for name in ROW_CODE:
        for path in sorted(root.glob(f"{name}.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{LAYOUT}, code {digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class Rows:
    """Where one document's rows lie: [start, end) of its chunks, sentences and contexts."""

    chunks: tuple[int, int]
    sentences: tuple[int, int]
    contexts: tuple[int, int]


@dataclass(frozen=True)
class Arrays:
    """Chunks, their context numbers and their vectors, as an index holds them (sentence token rows, then
    contexts')."""

    chunks: Sequence[Chunk]  # a list, or an earlier index's `rag.storage.passages.Passages`
    contexts: np.ndarray  # each chunk's context number (rag.ingest.context)
    passages: np.ndarray
    sentences: np.ndarray
    tokens: TokenMatrix
    token_offsets: np.ndarray
    keep: Any = None  # what must stay alive while the arrays are read (the FAISS index owning `passages`)

    @classmethod
    def of(cls, chunks: list[Chunk], vectors: ChunkVectors) -> Arrays:
        return cls(chunks, context_ids(chunks)[0], vectors.passages, vectors.sentences, vectors.tokens,
                   vectors.token_offsets)


@dataclass(frozen=True)
class Previous:
    """The index a build replaces, when its rows can be re-used."""

    arrays: Arrays
    rows: dict[str, Rows]  # by source, for every document with passages
    sha256: dict[str, str]  # by source, of the files those rows were made from
    documents: dict[str, dict[str, Any]]  # the text extracted from PDFs, web pages and Word files
    dimension: int
    precision: str | None  # the model's numerics the rows were made with (rag.embed.model)
    lexical: Lexical  # its BM25 rows, re-used without tokenising again


def document_rows(chunks: Sequence[Chunk]) -> dict[str, Rows]:
    """Each source's rows, for sources whose chunks (and so sentences and contexts) are contiguous."""
    ids = context_ids(chunks)[0]
    ends = np.cumsum([0] + [len(c.sentences) for c in chunks])
    rows: dict[str, Rows] = {}
    split: set[str] = set()
    n = 0
    while n < len(chunks):
        source, first = chunks[n].passage.citation.source, n
        while n < len(chunks) and chunks[n].passage.citation.source == source:
            n += 1
        if source in rows:
            split.add(source)
        # Contexts are numbered as first seen, so a document's are contiguous from its first passage's;
        # its last passage may return to an earlier section, so the range ends after the largest.
        rows[source] = Rows((first, n), (int(ends[first]), int(ends[n])),
                            (int(ids[first]), int(ids[first:n].max()) + 1))
    return {s: r for s, r in rows.items() if s not in split}


def previous(index_dir: Path, *, model: str, chunking: dict[str, Any]) -> Previous | None:
    """The index in `index_dir` if its rows fit a build with `model` and `chunking`; None otherwise."""
    raw = store.raw_manifest(index_dir)
    if (raw.get("format") != store.FORMAT or raw.get("rows") != layout() or raw.get("model") != model
            or raw.get("chunking") != chunking):
        return None
    try:
        old = store.read(index_dir)  # BM25 memory-mapped (rag.storage.bm25)
    except RagError:  # damaged or half-written: build from scratch
        return None
    arrays = Arrays(old.chunks, old.passage_rows[:-1, 2], old.passage_vectors, old.sentence_vectors,
                    old.token_vectors, old.token_offsets, keep=old.faiss_index)
    rows = {s: Rows((r[0], r[1]), (r[2], r[3]), (r[4], r[5])) for s, r in old.manifest.ranges.items()}
    sha = {s: h for s, h in old.manifest.sources.items() if s in rows}
    return Previous(arrays, rows, sha, old.documents, old.manifest.dimension,
                    raw.get("precision"), old.bm25)
