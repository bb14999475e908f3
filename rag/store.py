"""The index on disk: plain files, a versioned manifest, atomic replacement.

Layout of an index folder (every file inspectable; no pickle):

    manifest.json             format version, model, dimension, chunking,
                              source fingerprints, and the data files below
    passages-<gen>.jsonl      one passage per line, with sentence offsets
    vectors-<gen>.faiss       passage vectors (FAISS inner-product index)
    sentences-<gen>.npy       sentence vectors (float32), for choosing quotes
    tokens-<gen>.npy          every sentence's contextual token vectors (int8,
                              see rag.quantize), stacked, then those of each
                              passage context (document name and section, see
                              rag.context); token_scales-<gen>.npy holds each
                              row's scale (float32), token_offsets-<gen>.npy
                              where each sentence's or context's rows start
    bm25-<gen>/               the BM25 index (rag.lexical: JSON + .npy arrays,
                              memory-mapped)
    documents-<gen>.jsonl     the text (and page starts) a reader extracted from
                              each PDF, HTML or Word file; citations index it

The manifest records every data file's size and sha256 (`rag.checksums`),
checked on load, so a file damaged or altered after the build is refused
with a line saying to rebuild instead of answering from the wrong rows.

A build writes a new generation of data files, then replaces manifest.json in
one `os.replace`. A build that fails half-way removes the files it wrote and
leaves the old manifest pointing at the old, complete files; one killed
outright leaves debris that the next build removes. Does not decide *when*
to rebuild: see `rag.loading`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import checksums, lexical
from .chunk import Chunk
from .errors import IndexStateError
from .folder import writable_folder
from .quantize import TokenMatrix
from .types import Citation, Passage

FORMAT = "rag-index v7"  # v7: BM25 of our own (rag.lexical); v6: int8 token vectors with per-row scales
DATA_FILES = ("passages", "vectors", "sentences", "tokens", "token_scales", "token_offsets", "bm25", "documents")
MANIFEST = "manifest.json"
HASH_LIMIT = checksums.HASH_LIMIT  # binary data files larger than this are checked by size and sample


def raw_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest's JSON as it is, whatever its format version; {} when unreadable."""
    try:
        data = json.loads((index_dir / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def rebuild_command(index_dir: Path, data: dict[str, Any]) -> str:
    """The `rag build` line that rebuilds this index from its own seeds with its own model."""
    parts = ["rag build"]
    if data.get("seeds_dir"):
        parts.append(f"--seeds {data['seeds_dir']}")
    parts.append(f"--index {index_dir}")
    if data.get("model"):
        parts.append(f"--model {data['model']}")
    return " ".join(parts)


@dataclass(frozen=True)
class Manifest:
    format: str
    model: str
    dimension: int
    chunking: dict[str, Any]
    faiss: str
    contexts: int  # token rows of passage contexts follow the sentences' (see rag.context)
    seeds_dir: str
    sources: dict[str, str]
    skipped: list[dict[str, str]]
    files: dict[str, str]
    checksums: dict[str, dict[str, Any]]  # data file (relative path) -> {"size", "sha256", "sample_sha256"}
    passages: int
    sentences: int
    built_at: str

    @classmethod
    def read(cls, index_dir: Path) -> Manifest:
        path = index_dir / MANIFEST
        if index_dir.exists() and not index_dir.is_dir():
            raise IndexStateError(f"Index {index_dir} is a file, not a folder; pass --index DIR, the folder "
                                  "`rag build` wrote.")
        if not path.is_file():
            raise IndexStateError(
                f"No index at {index_dir} (no {MANIFEST}); run `rag build --index {index_dir}` first."
            )
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise IndexStateError(f"{path} is unreadable ({err}); rebuild it with `rag build --index {index_dir}`.") from None
        if not isinstance(data, dict):
            raise IndexStateError(f"{path} is not a JSON object (it holds {type(data).__name__} "
                                  f"{json.dumps(data)[:20]}); rebuild it with `rag build --index {index_dir}`.")
        if data.get("format") != FORMAT:
            raise IndexStateError(
                f"{path} has format {data.get('format')!r}, this version reads {FORMAT!r}; rebuild it with "
                f"`{rebuild_command(index_dir, data)}`."
            )
        try:
            values = {k: data[k] for k in cls.__dataclass_fields__}
        except KeyError as err:
            raise IndexStateError(f"{path} lacks {err}; rebuild it with `rag build --index {index_dir}`.") from None
        for name, field in cls.__dataclass_fields__.items():
            kind = {"str": str, "int": int, "dict": dict, "list": list}[str(field.type).split("[")[0]]
            if not isinstance(values[name], kind):
                raise IndexStateError(f"{path} has {name!r} of type {type(values[name]).__name__}, not {kind.__name__};"
                                      f" rebuild it with `rag build --index {index_dir}`.")
        # Data files are plain names in the folder: a manifest must not send the reader elsewhere.
        if not all(isinstance(v, str) and v == Path(v).name and not v.startswith(".") for v in values["files"].values()):
            raise IndexStateError(f"{path} names data files outside {index_dir}; rebuild it with "
                                  f"`rag build --index {index_dir}`.")
        return cls(**values)


ROW_FILES = ("sentences", "tokens", "token_scales", "token_offsets")  # a build may write these itself (rag.rowwriter)


def new_generation(index_dir: Path) -> tuple[str, dict[str, Path]]:
    """A new generation id for `index_dir` and the path of each of its data files (the folder made writable).

    A build may write the `ROW_FILES` there itself, then pass `gen` to `write`; if it fails first, `discard`.
    """
    writable_folder(index_dir)
    # Unique per build, so a new generation never overwrites the files the manifest points at.
    gen = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    return gen, {kind: index_dir / name for kind, name in _files(gen).items()}


def discard(index_dir: Path, gen: str) -> None:
    """Remove generation `gen`'s data files and temporary manifest, unless the manifest already points at it.

    A failure after the commit point (an interrupt, a file of an earlier generation that cannot be
    removed) must not delete the index that was just written.
    """
    if any(str(name).endswith((f"-{gen}", f"-{gen}.jsonl", f"-{gen}.npy", f"-{gen}.faiss"))
           for name in (raw_manifest(index_dir).get("files") or {}).values()):
        return
    for path in index_dir.glob(f"*-{gen}*"):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def write(
    index_dir: Path,
    *,
    chunks: list[Chunk],
    documents: dict[str, dict[str, Any]],
    faiss_index: Any,
    bm25: Any,
    manifest: dict[str, Any],
    gen: str | None = None,
    sentence_vectors: np.ndarray | None = None,
    token_vectors: TokenMatrix | None = None,
    token_offsets: np.ndarray | None = None,
) -> Manifest:
    """Write a new generation of files, then switch the manifest to it atomically.

    With `gen` (from `new_generation`) and no arrays, that generation's `ROW_FILES` are already written.
    On failure the new generation's files are removed and an OSError becomes
    an IndexStateError; the old manifest and its files stay as they were.
    """
    if gen is None:
        gen, _ = new_generation(index_dir)
    try:
        if sentence_vectors is not None and token_vectors is not None and token_offsets is not None:
            _save_rows(index_dir, _files(gen), sentence_vectors, token_vectors, token_offsets)
        new_manifest, files = _write(index_dir, gen, chunks=chunks, documents=documents, faiss_index=faiss_index,
                                     bm25=bm25, manifest=manifest)
        os.replace(new_manifest, index_dir / MANIFEST)  # the commit point: from here the new files are live
    except BaseException as err:
        discard(index_dir, gen)  # this generation's data files and its temporary manifest
        if isinstance(err, OSError):
            raise unwritable(index_dir, err) from None
        raise
    with contextlib.suppress(OSError):  # earlier generations' files then stay as debris for the next build
        _remove_unreferenced(index_dir, set(files.values()))
    return Manifest.read(index_dir)


def unwritable(index_dir: Path, err: OSError) -> IndexStateError:
    """The one-line error for a write into `index_dir` that failed with `err`."""
    return IndexStateError(f"Could not write the index to {index_dir} ({err.strerror or err}); free some "
                           "space or fix the folder's permissions, then run `rag build` again.")


def _files(gen: str) -> dict[str, str]:
    return {
        "passages": f"passages-{gen}.jsonl",
        "vectors": f"vectors-{gen}.faiss",
        "sentences": f"sentences-{gen}.npy",
        "tokens": f"tokens-{gen}.npy",
        "token_scales": f"token_scales-{gen}.npy",
        "token_offsets": f"token_offsets-{gen}.npy",
        "bm25": f"bm25-{gen}",
        "documents": f"documents-{gen}.jsonl",
    }


def _save_rows(index_dir: Path, files: dict[str, str], sentence_vectors: np.ndarray, token_vectors: TokenMatrix,
               token_offsets: np.ndarray) -> None:
    np.save(index_dir / files["sentences"], sentence_vectors.astype(np.float32, copy=False), allow_pickle=False)
    np.save(index_dir / files["tokens"], token_vectors.values.astype(np.int8, copy=False), allow_pickle=False)
    np.save(index_dir / files["token_scales"], token_vectors.scales.astype(np.float32, copy=False),
            allow_pickle=False)
    np.save(index_dir / files["token_offsets"], token_offsets.astype(np.int64, copy=False), allow_pickle=False)


def _write(index_dir: Path, gen: str, *, chunks: list[Chunk], documents: dict[str, dict[str, Any]],
           faiss_index: Any, bm25: Any, manifest: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Write generation `gen`'s other data files and a temporary manifest; return its path and the files."""
    import faiss

    files = _files(gen)
    with open(index_dir / files["documents"], "w", encoding="utf-8") as out:
        for source, record in documents.items():
            out.write(json.dumps({"source": source, **record}, ensure_ascii=False) + "\n")
    with open(index_dir / files["passages"], "w", encoding="utf-8") as out:
        for chunk in chunks:
            p = chunk.passage
            # The fields of asdict(passage) without its score, built directly (asdict deep-copies: slow at 100k).
            record = {"id": p.id, "text": p.text, "citation": dict(vars(p.citation)),
                      "sentences": [list(s) for s in chunk.sentences], "search_text": chunk.search_text}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    faiss.write_index(faiss_index, str(index_dir / files["vectors"]))
    bm25.save(str(index_dir / files["bm25"]))
    sentences = np.load(index_dir / files["sentences"], mmap_mode="r", allow_pickle=False).shape[0]
    data = {**manifest, "format": FORMAT, "files": files, "checksums": checksums.seal(index_dir, files.values()),
            "passages": len(chunks), "sentences": int(sentences),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with tempfile.NamedTemporaryFile("w", dir=index_dir, prefix=f".manifest-{gen}", suffix=".json", delete=False,
                                     encoding="utf-8") as tmp:
        json.dump(data, tmp, indent=2, ensure_ascii=False)
        tmp.write("\n")
        tmp.flush()
        os.fsync(tmp.fileno())
    os.chmod(tmp.name, 0o644)  # temporary files are private; the manifest is for anyone to read
    return tmp.name, files


def _remove_unreferenced(index_dir: Path, keep: set[str]) -> None:
    """Delete data files of earlier generations and of builds that died."""
    for path in index_dir.iterdir():
        stem = path.name.split("-", 1)[0]
        if path.name in keep or stem not in DATA_FILES:
            if path.name.startswith(".manifest-"):
                path.unlink(missing_ok=True)
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Stored:
    """Everything read back from an index folder."""

    manifest: Manifest
    chunks: list[Chunk]
    faiss_index: Any
    sentence_vectors: np.ndarray  # float32, memory-mapped
    token_vectors: TokenMatrix  # int8 rows and their scales, memory-mapped
    token_offsets: np.ndarray
    bm25: lexical.Lexical
    documents: dict[str, dict[str, Any]]  # source -> {"kind", "text", "pages"} for extracted formats


def read(index_dir: Path) -> Stored:
    import faiss

    manifest = Manifest.read(index_dir)
    rebuild = f"rebuild it with `{rebuild_command(index_dir, manifest.__dict__)}`"
    files = {k: index_dir / v for k, v in manifest.files.items()}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise IndexStateError(f"Index {index_dir} is missing {', '.join(missing)}; {rebuild}.")
    if not isinstance(manifest.checksums, dict) or set(manifest.checksums) != {
            p.relative_to(index_dir).as_posix() for p in checksums.data_files(index_dir, manifest.files.values())}:
        raise IndexStateError(f"Index {index_dir} has data files its manifest's checksums do not list; {rebuild}.")
    if bad := checksums.mismatch(index_dir, manifest.checksums, HASH_LIMIT):
        raise IndexStateError(f"Index {index_dir}: {bad}; {rebuild}.")
    chunks: list[Chunk] = []
    try:
        with open(files["passages"], encoding="utf-8") as handle:
            for line in handle:
                r = json.loads(line)
                passage = Passage(r["id"], r["text"], Citation(**r["citation"]))
                chunks.append(Chunk(passage, tuple((s, e) for s, e in r["sentences"]), r["search_text"]))
        faiss_index = faiss.read_index(str(files["vectors"]))
        sentence_vectors = np.load(files["sentences"], allow_pickle=False, mmap_mode="r")
        values = np.load(files["tokens"], allow_pickle=False, mmap_mode="r")
        scales = np.load(files["token_scales"], allow_pickle=False, mmap_mode="r")
        token_offsets = np.load(files["token_offsets"], allow_pickle=False)
        bm25 = lexical.load(files["bm25"])
        documents = {}
        with open(files["documents"], encoding="utf-8") as handle:
            for line in handle:
                r = json.loads(line)
                documents[r.pop("source")] = {"kind": str(r["kind"]), "text": str(r["text"]),
                                              "pages": [int(p) for p in r["pages"]]}
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, EOFError, IndexError, AttributeError) as err:
        # Also what a reader sees when a concurrent build replaced the files under it.
        raise IndexStateError(f"Index {index_dir} could not be read ({type(err).__name__}: {err}); {rebuild}.") from None
    n_sentences = sum(len(c.sentences) for c in chunks)
    if faiss_index.ntotal != len(chunks) or sentence_vectors.shape[0] != n_sentences:
        raise IndexStateError(
            f"Index {index_dir} is inconsistent ({faiss_index.ntotal} vectors and {sentence_vectors.shape[0]} "
            f"sentence vectors for {len(chunks)} passages and {n_sentences} sentences); {rebuild}."
        )
    if (values.ndim != 2 or values.shape[1] != manifest.dimension or values.dtype != np.int8
            or scales.shape != values.shape[:1] or len(token_offsets) != n_sentences + manifest.contexts + 1
            or token_offsets[0] != 0 or token_offsets[-1] != values.shape[0]
            or bool(np.any(np.diff(token_offsets) < 0))):
        raise IndexStateError(
            f"Index {index_dir} has token vectors of shape {values.shape} ({values.dtype}), {scales.shape[0]} scales "
            f"and {len(token_offsets)} offsets, which do not fit its {n_sentences} sentences; {rebuild}."
        )
    if sentence_vectors.ndim != 2 or sentence_vectors.shape[1] != manifest.dimension:
        raise IndexStateError(f"Index {index_dir} has sentence vectors of shape {sentence_vectors.shape}; {rebuild}.")
    token_vectors = TokenMatrix(values, scales)
    if faiss_index.d != manifest.dimension:
        raise IndexStateError(
            f"Index {index_dir} holds {faiss_index.d}-dimensional vectors but its manifest says "
            f"{manifest.dimension}; {rebuild}."
        )
    return Stored(manifest, chunks, faiss_index, sentence_vectors, token_vectors, token_offsets, bm25, documents)
