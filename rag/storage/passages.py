"""The passages file, written a document at a time and read one passage at a time.

`passages-<gen>.jsonl` holds one JSON object per line (id, text, citation,
sentence offsets, search text: inspectable with any text tool).
`passage_rows-<gen>.npy` holds one int64 row per passage, plus a last row
closing the table: where its line starts in the file, the index of its first
sentence, and its context number (`rag.ingest.context`); the last row holds the
file's size, the number of sentences and of contexts. So loading an index
maps both files and decodes nothing: `Passages` decodes a passage when asked
(a few thousand are cached), and a build re-using a document copies its lines
as bytes, never decoding them.

Does not check the files against the manifest's checksums (`rag.storage.index_folder.read`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import mmap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from rag.errors import IndexStateError
from rag.ingest.chunk import Chunk
from rag.storage.rowfile import RowFile
from rag.types import Citation, Passage

CACHED = 4096  # passages kept decoded: a question reads a few hundred


def encode(chunk: Chunk) -> bytes:
    """One passage's line: the fields of asdict(passage) without its score, built directly (asdict deep-copies)."""
    p = chunk.passage
    record = {"id": p.id, "text": p.text, "citation": dict(vars(p.citation)),
              "sentences": [list(s) for s in chunk.sentences], "search_text": chunk.search_text}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def decode(line: bytes) -> Chunk:
    r = json.loads(line)
    passage = Passage(r["id"], r["text"], Citation(**r["citation"]))
    return Chunk(passage, tuple((int(s), int(e)) for s, e in r["sentences"]), r["search_text"])


class Passages(Sequence[Chunk]):
    """An index's passages as a read-only sequence of `Chunk`, decoded from the mapped file on demand."""

    def __init__(self, path: Path, rows: np.ndarray):
        self.path, self.rows = path, rows  # rows: (passages + 1, 3) int64, see the module docstring
        with open(path, "rb") as handle:
            size = handle.seek(0, 2)
            self._data: Any = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self._decoded = functools.lru_cache(maxsize=CACHED)(self._decode)

    def __len__(self) -> int:
        return len(self.rows) - 1

    @overload
    def __getitem__(self, key: int) -> Chunk: ...

    @overload
    def __getitem__(self, key: slice) -> list[Chunk]: ...

    def __getitem__(self, key: int | slice) -> Chunk | list[Chunk]:
        if isinstance(key, slice):
            return [self._decoded(i) for i in range(*key.indices(len(self)))]
        n = int(key) + len(self) if key < 0 else int(key)
        if not 0 <= n < len(self):
            raise IndexError(f"passage {key} of {len(self)}")
        return self._decoded(n)

    def __iter__(self) -> Iterator[Chunk]:
        # Read as a file, not through the map or the cache: a walk over every passage would only churn the
        # cache, and the mapped pages it touched would stay in this process's memory.
        with open(self.path, "rb") as handle:
            for n in range(len(self)):
                line = handle.readline()
                try:
                    yield decode(line)
                except (ValueError, KeyError, TypeError) as err:
                    raise self._unreadable(n, err) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def raw(self, start: int, end: int) -> bytes:
        """The lines of passages [start, end), as stored."""
        return bytes(self._data[int(self.rows[start, 0]) : int(self.rows[end, 0])])

    def release(self, start: int, end: int) -> None:
        """Drop the mapped pages of passages [start, end)'s lines from this process (they stay in the page
        cache): a build copying an earlier index's lines would otherwise hold them all until it ends."""
        if isinstance(self._data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
            first = int(self.rows[start, 0]) // mmap.PAGESIZE * mmap.PAGESIZE
            self._data.madvise(mmap.MADV_DONTNEED, first, int(self.rows[end, 0]) - first)

    def _decode(self, n: int) -> Chunk:
        try:
            return decode(self.raw(n, n + 1))
        except (ValueError, KeyError, TypeError) as err:
            raise self._unreadable(n, err) from None

    def _unreadable(self, n: int, err: Exception) -> IndexStateError:
        return IndexStateError(f"Passage {n} of {self.path} could not be read ({type(err).__name__}: {err}); "
                               f"rebuild the index with `rag build --index {self.path.parent}`.")


class PassageWriter:
    """Appends documents' passages to a passages file and its row table; hashes the file as it goes."""

    def __init__(self, path: Path, rows_path: Path):
        self.path = path
        self._out = open(path, "wb")  # noqa: SIM115 (closed by finish() or close())
        self._table = RowFile(rows_path, np.int64, 3)
        self._digest = hashlib.sha256()
        self.size = self.passages = self.sentences = 0

    def add(self, chunks: Sequence[Chunk], contexts: np.ndarray, start: int, end: int, first_context: int) -> None:
        """Passages [start, end) of `chunks`, whose context numbers `contexts` are renumbered from `first_context`."""
        if end <= start:
            return
        if isinstance(chunks, Passages):  # an earlier index's lines, copied as they are
            data, old = chunks.raw(start, end), np.asarray(chunks.rows[start : end + 1])
            chunks.release(start, end)
            offsets, firsts = old[:, 0] - old[0, 0], old[:, 1] - old[0, 1]
        else:
            lines = [encode(c) for c in chunks[start:end]]
            data = b"".join(lines)
            offsets = np.cumsum([0] + [len(line) for line in lines])
            firsts = np.cumsum([0] + [len(c.sentences) for c in chunks[start:end]])
        ids = np.asarray(contexts[start:end], dtype=np.int64)
        self._table.append(np.column_stack([offsets[:-1] + self.size, firsts[:-1] + self.sentences,
                                            ids - ids.min() + first_context]))
        self._out.write(data)
        self._digest.update(data)
        self.size += len(data)
        self.sentences += int(firsts[-1])
        self.passages += end - start

    def finish(self, contexts: int) -> str:
        """Close the table with its last row and both files; the passages file's sha256."""
        self._table.append(np.array([[self.size, self.sentences, contexts]], dtype=np.int64))
        self.close()
        return self._digest.hexdigest()

    def close(self) -> None:
        self._out.close()
        self._table.close()


def open_passages(path: Path, rows_path: Path) -> Passages:
    """The passages of a file and its row table, both mapped (the table checked against the file's size)."""
    rows = np.load(rows_path, mmap_mode="r", allow_pickle=False)
    if rows.ndim != 2 or rows.shape[1] != 3 or rows.dtype != np.int64 or len(rows) < 1:
        raise ValueError(f"{rows_path.name} holds an array of shape {rows.shape} ({rows.dtype}), not passage rows")
    if int(rows[-1, 0]) != path.stat().st_size or int(rows[0, 0]) != 0:
        raise ValueError(f"{rows_path.name} does not fit {path.name}'s {path.stat().st_size} bytes")
    return Passages(path, rows)
