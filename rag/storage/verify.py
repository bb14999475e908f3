"""Checks an index folder's data files against its manifest and each other before anything is served.

Every file the manifest names must exist and match its checksums
(`rag.storage.checksums`); the arrays' shapes must fit the passages' row table: so a
damaged, truncated or mismatched file gives one line saying to rebuild,
never answers from the wrong rows. Does not read the files (`rag.storage.index_folder`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import rag.storage.checksums as checksums
from rag.errors import IndexStateError
from rag.storage.manifest import Manifest
from rag.storage.passages import Passages
from rag.storage.quantize import TokenMatrix


def check_files(index_dir: Path, manifest: Manifest, rebuild: str, hash_limit: int) -> dict[str, Path]:
    """Each data file's path, once every one exists and matches its checksums."""
    files = {k: index_dir / v for k, v in manifest.files.items()}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise IndexStateError(f"Index {index_dir} is missing {', '.join(missing)}; {rebuild}.")
    if not isinstance(manifest.checksums, dict) or set(manifest.checksums) != {
            p.relative_to(index_dir).as_posix() for p in checksums.data_files(index_dir, manifest.files.values())}:
        raise IndexStateError(f"Index {index_dir} has data files its manifest's checksums do not list; {rebuild}.")
    if bad := checksums.mismatch(index_dir, manifest.checksums, hash_limit):
        raise IndexStateError(f"Index {index_dir}: {bad}; {rebuild}.")
    return files


def check_shapes(index_dir: Path, manifest: Manifest, rebuild: str, *, chunks: Passages, faiss_index: Any,
                 passage_vectors: np.ndarray, sentence_vectors: np.ndarray, token_vectors: TokenMatrix,
                 token_offsets: np.ndarray) -> None:
    """Refuse arrays that do not fit the passages' row table, the manifest or each other."""
    rows = chunks.rows
    n, n_sentences, n_contexts = len(chunks), int(rows[-1, 1]), int(rows[-1, 2])
    if (n != manifest.passages or n_sentences != manifest.sentences or n_contexts != manifest.contexts
            or int(rows[0, 1]) != 0 or bool(np.any(np.diff(rows[:, 0]) <= 0)) or bool(np.any(np.diff(rows[:, 1]) < 0))
            or bool(np.any(rows[:-1, 2] < 0)) or bool(np.any(rows[:-1, 2] >= max(n_contexts, 1)))):
        raise IndexStateError(
            f"Index {index_dir} has a passage table of {n} passages, {n_sentences} sentences and {n_contexts} contexts "
            f"that does not fit its manifest ({manifest.passages}, {manifest.sentences}, {manifest.contexts}); "
            f"{rebuild}.")
    if not _ranges_cover(manifest.ranges, (n, n_sentences, n_contexts)):
        raise IndexStateError(f"Index {index_dir} has document rows in its manifest that do not cover its {n} "
                              f"passages in order; {rebuild}.")
    if faiss_index.ntotal != n or passage_vectors.shape[0] != n or sentence_vectors.shape[0] != n_sentences:
        raise IndexStateError(
            f"Index {index_dir} is inconsistent ({faiss_index.ntotal} vectors, {passage_vectors.shape[0]} exact ones "
            f"and {sentence_vectors.shape[0]} sentence vectors for {n} passages and {n_sentences} sentences); "
            f"{rebuild}."
        )
    values, scales = token_vectors.values, token_vectors.scales
    if (values.ndim != 2 or values.shape[1] != manifest.dimension or values.dtype != np.int8
            or scales.shape != values.shape[:1] or len(token_offsets) != n_sentences + manifest.contexts + 1
            or token_offsets[0] != 0 or token_offsets[-1] != values.shape[0]
            or bool(np.any(np.diff(token_offsets) < 0))):
        raise IndexStateError(
            f"Index {index_dir} has token vectors of shape {values.shape} ({values.dtype}), {scales.shape[0]} scales "
            f"and {len(token_offsets)} offsets, which do not fit its {n_sentences} sentences; {rebuild}."
        )
    if passage_vectors.ndim != 2 or passage_vectors.shape[1] != manifest.dimension or passage_vectors.dtype != np.float32:
        raise IndexStateError(f"Index {index_dir} has passage vectors of shape {passage_vectors.shape} "
                              f"({passage_vectors.dtype}); {rebuild}.")
    if sentence_vectors.ndim != 2 or sentence_vectors.shape[1] != manifest.dimension:
        raise IndexStateError(f"Index {index_dir} has sentence vectors of shape {sentence_vectors.shape}; {rebuild}.")
    if faiss_index.d != manifest.dimension:
        raise IndexStateError(
            f"Index {index_dir} holds {faiss_index.d}-dimensional vectors but its manifest says "
            f"{manifest.dimension}; {rebuild}."
        )


def _ranges_cover(ranges: Any, totals: tuple[int, int, int]) -> bool:
    """Whether each document's [first, end) of passages, sentences and contexts follow one another, covering all."""
    ends = [0, 0, 0]
    for r in ranges.values():
        if not (isinstance(r, list) and len(r) == 6 and all(type(x) is int for x in r)):
            return False
        for kind in range(3):
            first, end = r[2 * kind], r[2 * kind + 1]
            if first != ends[kind] or end < first:
                return False
            ends[kind] = end
        if r[1] == r[0]:
            return False  # a document without passages has no rows
    return tuple(ends) == totals
