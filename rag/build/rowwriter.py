"""An index's row files written one document at a time: memory stays flat as the corpus grows.

Each document's rows (passage and sentence vectors, int8 token rows and their
scales, its contexts' token rows) come from some arrays: the earlier index's,
memory-mapped, for an unchanged document, or a batch just embedded. They are
copied a block at a time straight into the new generation's .npy files
(`rag.storage.rowfile`); contexts' rows, which follow every sentence's, wait in a
spool file until the last document. Passage vectors go to a spool file too,
which FAISS is built from. Passages themselves go to the passages file as they
come (`rag.storage.passages`): an unchanged document's lines are copied as bytes.

Does not embed (`rag.build.vectors`) nor build FAISS or BM25 (`rag.build.builder`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.storage.journal import spool_names
from rag.storage.passages import PassageWriter
from rag.storage.rowfile import RowFile

if TYPE_CHECKING:
    from rag.build.reuse import Arrays, Rows

BLOCK = 1 << 15  # rows copied at once when not by the kernel


@dataclass(frozen=True)
class Written:
    """What the row files hold, once finished."""

    passages: np.ndarray  # float32, memory-mapped from the spool file (until `RowWriter.close`)
    sentences: int
    contexts: int
    passages_sha256: str  # of the passages file, hashed as it was written


class RowWriter:
    """Appends documents' rows to the files at `paths` ("sentences", "tokens", "token_scales", "token_offsets",
    "passages", "passage_rows")."""

    def __init__(self, paths: dict[str, Path], dimension: int) -> None:
        self.spools = [paths["tokens"].with_name(name) for name in spool_names(paths["tokens"].name)]
        self.offsets_path = paths["token_offsets"]
        self.sentences = RowFile(paths["sentences"], np.float32, dimension)
        self.tokens = RowFile(paths["tokens"], np.int8, dimension)
        self.scales = RowFile(paths["token_scales"], np.float32)
        self.passages = RowFile(self.spools[0], np.float32, dimension)
        self.context_tokens = RowFile(self.spools[1], np.int8, dimension)
        self.context_scales = RowFile(self.spools[2], np.float32)
        self.counts: list[np.ndarray] = [np.zeros(1, np.int64)]
        self.context_counts: list[np.ndarray] = []
        self.passage_file = PassageWriter(paths["passages"], paths["passage_rows"])
        self.contexts = 0
        self.ranges: dict[str, list[int]] = {}  # source -> its rows here, as the manifest's "ranges" holds them

    def add(self, source: str, arrays: Arrays, rows: Rows) -> None:
        """Document `source`'s rows, `rows` of `arrays`, after those added before."""
        (c0, c1), (s0, s1), (k0, k1) = rows.chunks, rows.sentences, rows.contexts
        if c1 > c0:
            first = (self.passage_file.passages, self.sentences.rows, self.contexts)
            self.ranges[source] = [first[0], first[0] + c1 - c0, first[1], first[1] + s1 - s0, first[2],
                                   first[2] + k1 - k0]
        self.passage_file.add(arrays.chunks, arrays.contexts, c0, c1, self.contexts)
        _copy(arrays.passages, c0, c1, self.passages)
        _copy(arrays.sentences, s0, s1, self.sentences)
        offsets = arrays.token_offsets
        _copy(arrays.tokens.values, int(offsets[s0]), int(offsets[s1]), self.tokens)
        _copy(arrays.tokens.scales, int(offsets[s0]), int(offsets[s1]), self.scales)
        self.counts.append(np.diff(offsets[s0 : s1 + 1]))
        k0, k1 = len(arrays.sentences) + k0, len(arrays.sentences) + k1  # contexts' rows follow every sentence's
        _copy(arrays.tokens.values, int(offsets[k0]), int(offsets[k1]), self.context_tokens)
        _copy(arrays.tokens.scales, int(offsets[k0]), int(offsets[k1]), self.context_scales)
        self.context_counts.append(np.diff(offsets[k0 : k1 + 1]))
        self.contexts += k1 - k0

    def finish(self) -> Written:
        """Contexts' rows after the sentences', the offsets written, every file closed."""
        for spool, target in ((self.context_tokens, self.tokens), (self.context_scales, self.scales)):
            rows = spool.load()
            _copy(rows, 0, len(rows), target)
            del rows
        for done in (self.sentences, self.tokens, self.scales):
            done.close()
        offsets = np.cumsum(np.concatenate(self.counts + self.context_counts)).astype(np.int64)
        np.save(self.offsets_path, offsets, allow_pickle=False)
        sha256 = self.passage_file.finish(self.contexts)
        return Written(self.passages.load(), self.sentences.rows, self.contexts, sha256)

    def keep_passages(self, path: Path) -> None:
        """Move the finished passage vectors' spool file to `path` (an .npy file), instead of removing it."""
        os.replace(self.spools[0], path)

    def close(self) -> None:
        """Every file closed and the spool files removed (the passage vectors read from them go with them)."""
        self.passage_file.close()
        for row_file in (self.sentences, self.tokens, self.scales, self.passages, self.context_tokens,
                         self.context_scales):
            row_file.close()
        for path in self.spools:
            path.unlink(missing_ok=True)


def _copy(source: np.ndarray, start: int, end: int, target: RowFile) -> None:
    target.extend(source, start, end, BLOCK)
