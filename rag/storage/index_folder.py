"""The index on disk: plain files, a versioned manifest, atomic replacement.

Layout of an index folder (every file inspectable; no pickle):

    manifest.json             format version, model, dimension, chunking, source
                              fingerprints, each document's rows, and the data
                              files below (`rag.storage.manifest`)
    passages-<gen>.jsonl      one passage per line, with sentence offsets;
                              passage_rows-<gen>.npy where each line starts, its
                              first sentence and its context (`rag.storage.passages`)
    vectors-<gen>.faiss       passage vectors (FAISS inner-product index,
                              `rag.storage.dense`); above 200k passages it holds 8-bit
                              codes and passage_vectors-<gen>.npy the exact
                              vectors (float32) candidates are re-scored with
    sentences-<gen>.npy       sentence vectors (float32), for choosing quotes
    tokens-<gen>.npy          every sentence's contextual token vectors (int8,
                              see rag.storage.quantize), stacked, then those of each
                              passage context (document name and section, see
                              rag.ingest.context); token_scales-<gen>.npy holds each
                              row's scale (float32), token_offsets-<gen>.npy
                              where each sentence's or context's rows start
    bm25-<gen>/               the BM25 index (rag.storage.bm25: JSON + .npy arrays,
                              memory-mapped)
    documents-<gen>.jsonl     the text (and page starts) a reader extracted from
                              each PDF, HTML or Word file; citations index it
    journal.json              while a build runs (or after one was killed): the
                              generations whose files it may remove (`rag.storage.journal`)

Loading maps the arrays and the passages and decodes a passage only when it
is asked for, so it takes about the same time for any number of passages.
The manifest records every data file's size and checksums (`rag.storage.checksums`),
checked on load, so a file damaged or altered after the build is refused
with a line saying to rebuild instead of answering from the wrong rows.

A build writes a new generation of data files, then replaces manifest.json in
one `os.replace`. A build that fails half-way removes the files it wrote and
leaves the old manifest pointing at the old, complete files; one killed
outright leaves files its journal names, which the next build removes
(`rag.storage.journal`). No other file in the folder is ever removed. Does not decide
*when* to rebuild: see `rag.service.loading`, nor which folder may be written: see
`rag.storage.lock`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rag.storage.bm25 as lexical
import rag.storage.checksums as checksums
import rag.storage.journal as journal
from rag.errors import IndexStateError
from rag.storage.dense import flat_vectors
from rag.storage.lock import writable_folder
from rag.storage.manifest import FORMAT, MANIFEST, Manifest, raw_manifest, rebuild_command
from rag.storage.passages import Passages, open_passages
from rag.storage.quantize import TokenMatrix

DATA_FILES = journal.DATA_FILES
HASH_LIMIT = checksums.HASH_LIMIT  # binary data files larger than this would be checked by size and sample: none are


# A build writes these itself, as it goes (rag.build.rowwriter, rag.storage.passages).
ROW_FILES = ("sentences", "tokens", "token_scales", "token_offsets", "passages", "passage_rows")


def new_generation(index_dir: Path) -> tuple[str, dict[str, Path]]:
    """A new generation id for `index_dir` and the path of each of its data files (the folder made writable).

    A build may write the `ROW_FILES` there itself (and "passage_vectors" when FAISS holds only codes, see
    `rag.storage.dense`), then pass `gen` to `write`; if it fails first, `discard`.
    """
    writable_folder(index_dir)
    with contextlib.suppress(OSError):  # what a build killed outright left, as its journal names it
        journal.settle(index_dir)
    # Unique per build, so a new generation never overwrites the files the manifest points at.
    gen = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    try:
        journal.record(index_dir, gen)  # before the generation's first file: a crash leaves only journaled files
    except OSError as err:
        raise unwritable(index_dir, err) from None
    return gen, {kind: index_dir / name for kind, name in _files(gen).items()}


def discard(index_dir: Path, gen: str) -> None:
    """Remove generation `gen`'s files (the journal names them), unless the manifest already points at it.

    A failure after the commit point (an interrupt, a file of an earlier generation that cannot be
    removed) must not delete the index that was just written.
    """
    if journal.generation_of(raw_manifest(index_dir).get("files")) != gen:
        with contextlib.suppress(OSError):
            journal.settle(index_dir)


def write(index_dir: Path, *, gen: str, documents: dict[str, dict[str, Any]], faiss_index: Any, exact_vectors: bool,
          manifest: dict[str, Any], sealed: Future[dict[str, Any]] | None = None) -> Manifest:
    """Write generation `gen`'s other data files (its `ROW_FILES` and BM25 folder are written by then), then
    switch the manifest to it atomically; `sealed`: the checksums of the `ROW_FILES`, being worked out
    (`seal_rows`), else worked out here. `exact_vectors`: the build kept a "passage_vectors" file (FAISS holds
    only codes, `rag.storage.dense`).

    On failure the new generation's files are removed and an OSError becomes
    an IndexStateError; the old manifest and its files stay as they were.
    """
    try:
        new_manifest = _write(index_dir, gen, documents=documents, faiss_index=faiss_index,
                              exact_vectors=exact_vectors, manifest=manifest, sealed=sealed)
        os.replace(new_manifest, index_dir / MANIFEST)  # the commit point: from here the new files are live
    except BaseException as err:
        discard(index_dir, gen)  # this generation's data files and its temporary manifest
        if isinstance(err, OSError):
            raise unwritable(index_dir, err) from None
        raise
    with contextlib.suppress(OSError):  # the journal then keeps naming them, for the next build
        _remove_unreferenced(index_dir)
    return Manifest.read(index_dir)


def seal_rows(index_dir: Path, gen: str, passages_sha256: str) -> Future[dict[str, Any]]:
    """The checksums of generation `gen`'s `ROW_FILES`, once written, worked out on another thread
    (`passages_sha256`: that file's, hashed as it was written, or "")."""
    files = _files(gen)
    digests = {files["passages"]: passages_sha256} if passages_sha256 else {}
    return checksums.seal_soon(index_dir, [files[kind] for kind in ROW_FILES], digests)


def unwritable(index_dir: Path, err: OSError) -> IndexStateError:
    """The one-line error for a write into `index_dir` that failed with `err`."""
    return IndexStateError(f"Could not write the index to {index_dir} ({err.strerror or err}); free some "
                           "space or fix the folder's permissions, then run `rag build` again.")


def _failed_write(message: str) -> str:
    """Why FAISS could not write its file, in the system's words when its message holds them."""
    for code in (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT):
        if os.strerror(code) in message:
            return os.strerror(code)
    return "the vector index could not be written"


def _files(gen: str) -> dict[str, str]:
    return journal.data_names(gen)


def _write(index_dir: Path, gen: str, *, documents: dict[str, dict[str, Any]], faiss_index: Any, exact_vectors: bool,
           manifest: dict[str, Any], sealed: Future[dict[str, Any]] | None) -> str:
    """Write generation `gen`'s other data files and a temporary manifest; return its path."""
    import faiss

    files = _files(gen)
    if not exact_vectors:
        del files["passage_vectors"]  # the FAISS index holds the exact vectors itself (`rag.storage.dense`)
    digests: dict[str, str] = {}
    digests[files["documents"]] = _write_lines(index_dir / files["documents"],
                                               ({"source": s, **r} for s, r in documents.items()))
    try:
        faiss.write_index(faiss_index, str(index_dir / files["vectors"]))
    except RuntimeError as err:  # FAISS reports a failed write so, with the C library's words inside
        raise OSError(_failed_write(str(err))) from None
    table = np.load(index_dir / files["passage_rows"], mmap_mode="r", allow_pickle=False)
    others = [name for kind, name in files.items() if kind not in ROW_FILES]
    sums = checksums.seal(index_dir, others, digests)
    sums.update((sealed or seal_rows(index_dir, gen, "")).result())
    data = {**manifest, "format": FORMAT, "files": files, "checksums": dict(sorted(sums.items())),
            "passages": len(table) - 1, "sentences": int(table[-1, 1]),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = index_dir / journal.temporary_manifest(gen)
    with open(path, "w", encoding="utf-8") as tmp:
        json.dump(data, tmp, indent=2, ensure_ascii=False)
        tmp.write("\n")
        tmp.flush()
        os.fsync(tmp.fileno())
    return str(path)


def _write_lines(path: Path, records: Any) -> str:
    """Write one JSON object per line to `path`; the file's sha256, hashed as it is written."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for record in records:
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            digest.update(line)
            out.write(line)
    return digest.hexdigest()


def _remove_unreferenced(index_dir: Path) -> None:
    """Delete the files of the generation the manifest named before, and of builds that died (`rag.storage.journal`)."""
    journal.settle(index_dir)


@dataclass(frozen=True)
class Stored:
    """An index folder, mapped: nothing is decoded until it is asked for."""

    manifest: Manifest
    chunks: Passages  # a read-only Sequence[Chunk], each decoded on demand
    faiss_index: Any  # Flat: its vectors memory-mapped; HNSW over 8-bit codes: read into memory
    passage_vectors: np.ndarray  # float32, exact, memory-mapped: FAISS's own (Flat) or a file's (`rag.storage.dense`)
    sentence_vectors: np.ndarray  # float32, memory-mapped
    token_vectors: TokenMatrix  # int8 rows and their scales, memory-mapped
    token_offsets: np.ndarray
    bm25: lexical.Lexical
    documents: dict[str, dict[str, Any]]  # source -> {"kind", "text", "pages"} for extracted formats

    @property
    def passage_rows(self) -> np.ndarray:
        """Per passage and one row more: where its line starts, its first sentence, its context (rag.storage.passages)."""
        return self.chunks.rows


def read(index_dir: Path) -> Stored:
    """The index in `index_dir`, checked against its manifest."""
    from rag.storage.verify import check_files, check_shapes

    manifest = Manifest.read(index_dir)
    rebuild = f"rebuild it with `{rebuild_command(index_dir, manifest.__dict__)}`"
    files = check_files(index_dir, manifest, rebuild, HASH_LIMIT)
    try:
        import faiss

        chunks = open_passages(files["passages"], files["passage_rows"])
        # A graph's search jumps about its 8-bit codes, a page fault each from a cold page cache: they are read
        # into memory (a quarter of the float32 vectors') in one pass. Flat search reads its vectors in order.
        coded = "passage_vectors" in files
        faiss_index = faiss.read_index(str(files["vectors"]), 0 if coded else faiss.IO_FLAG_MMAP_IFC)
        passage_vectors = (np.load(files["passage_vectors"], allow_pickle=False, mmap_mode="r") if coded
                           else flat_vectors(faiss_index))
        sentence_vectors = np.load(files["sentences"], allow_pickle=False, mmap_mode="r")
        values = np.load(files["tokens"], allow_pickle=False, mmap_mode="r")
        scales = np.load(files["token_scales"], allow_pickle=False, mmap_mode="r")
        token_offsets = np.load(files["token_offsets"], allow_pickle=False)
        lexical_rows = lexical.load(files["bm25"])
        documents = {}
        with open(files["documents"], encoding="utf-8") as handle:
            for line in handle:
                r = json.loads(line)
                documents[r.pop("source")] = {"kind": str(r["kind"]), "text": str(r["text"]),
                                              "pages": [int(p) for p in r["pages"]]}
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, EOFError, IndexError, AttributeError) as err:
        # Also what a reader sees when a concurrent build replaced the files under it.
        raise IndexStateError(f"Index {index_dir} could not be read ({type(err).__name__}: {err}); {rebuild}.") from None
    token_vectors = TokenMatrix(values, scales)
    check_shapes(index_dir, manifest, rebuild, chunks=chunks, faiss_index=faiss_index, passage_vectors=passage_vectors,
                 sentence_vectors=sentence_vectors, token_vectors=token_vectors, token_offsets=token_offsets)
    return Stored(manifest, chunks, faiss_index, passage_vectors, sentence_vectors, token_vectors, token_offsets,
                  lexical_rows, documents)


__all__ = ["DATA_FILES", "FORMAT", "MANIFEST", "ROW_FILES", "Manifest", "Stored", "discard", "new_generation",
           "raw_manifest", "read", "rebuild_command", "seal_rows", "unwritable",
           "write"]
