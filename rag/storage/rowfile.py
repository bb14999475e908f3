"""An .npy file written a block of rows at a time, so no whole array is ever held in memory.

The header is written first with room to spare and rewritten with the final
row count when the file is closed; `numpy.load` (memory-mapped or not) reads
the result like any other .npy file. Consecutive row ranges of one source are
copied at once, and from a memory-mapped .npy file inside the kernel
(`os.copy_file_range`): re-using a 100,000-passage index's 1.4 GB of token
rows so takes about 0.4 s instead of 0.9-1.5 s through this process's pages.
Does not decide what the rows are: `rag.build.rowwriter` does.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

HEADER = 128  # bytes: magic, version, length and the padded header dict (a multiple of 64)
BLOCK = 1 << 15  # rows copied at once when not by the kernel


class RowFile:
    """Rows of one dtype and width appended to `path`; `close()` makes it a valid .npy file."""

    def __init__(self, path: Path, dtype: Any, width: int | None = None) -> None:
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        self._handle = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._handle.write(b"\0" * HEADER)
        self._pending: tuple[np.ndarray, int, int, int] | None = None  # rows [start, end) of a source, the block

    def append(self, rows: np.ndarray) -> None:
        self._flush()
        self._write(rows)
        self.rows += len(rows)

    def extend(self, source: np.ndarray, start: int, end: int, block: int = BLOCK) -> None:
        """Append rows [start, end) of `source`; copied with the ranges of the same source that follow it
        (`block` rows at a time when not by the kernel)."""
        if end <= start:
            return
        pending = self._pending
        if pending is not None and pending[0] is source and pending[2] == start:
            self._pending = (source, pending[1], end, block)
        else:
            self._flush()
            self._pending = (source, start, end, block)
        if not isinstance(source, np.memmap):  # rows in memory are written now, so that they can be freed
            self._flush()
        self.rows += end - start

    def _write(self, rows: np.ndarray) -> None:
        block = np.ascontiguousarray(rows, dtype=self.dtype)
        expected = (self.width,) if self.width is not None else ()
        if block.shape[1:] != expected:
            raise ValueError(f"rows of shape {block.shape} do not fit {self.path.name}'s width {self.width}")
        block.tofile(self._handle)

    def _flush(self) -> None:
        if self._pending is None:
            return
        source, start, end, block = self._pending
        self._pending = None
        if not self._kernel_copy(source, start, end):
            for first in range(start, end, block):
                self._write(source[first : min(end, first + block)])
            release(source)

    def _kernel_copy(self, source: np.ndarray, start: int, end: int) -> bool:
        """Rows [start, end) of `source`, if it is a whole .npy file mapped, appended by the kernel; else False."""
        width = (self.width,) if self.width is not None else ()
        if (not isinstance(source, np.memmap) or not isinstance(source.base, mmap.mmap) or not source.filename
                or not source.flags.c_contiguous or source.dtype != self.dtype or source.shape[1:] != width):
            return False
        row = source.strides[0]
        offset, left = source.offset + start * row, (end - start) * row
        self._handle.flush()
        try:
            with open(source.filename, "rb") as src:
                while left:
                    done = os.copy_file_range(src.fileno(), self._handle.fileno(), left, offset)
                    if done == 0:
                        raise OSError(f"{source.filename} ends before its rows")
                    offset, left = offset + done, left - done
        except OSError:
            if left != (end - start) * row:  # part copied already: do not write around a file that changed
                raise
            return False
        finally:
            self._handle.seek(0, os.SEEK_END)
        return True

    def close(self) -> None:
        if self._handle.closed:
            return
        self._flush()
        shape = (self.rows, self.width) if self.width is not None else (self.rows,)
        self._handle.seek(0)
        self._handle.write(npy_header(self.dtype, shape))
        self._handle.close()

    def load(self) -> np.ndarray:
        """The closed file, memory-mapped read-only."""
        self.close()
        return np.load(self.path, mmap_mode="r", allow_pickle=False)


def release(source: np.ndarray) -> None:
    """Drop a memory-mapped source's pages from this process (they stay in the page cache): rows read
    once from an earlier index would otherwise count in its resident memory until the build ends."""
    mapped = getattr(source, "_mmap", None)
    if mapped is not None and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


def will_need(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
    """Ask the kernel to read rows [start, end) of a memory-mapped array ahead, every range at once.

    From a cold page cache, a question's candidates' rows would otherwise be read one page fault after
    another; advised first, their reads are issued together. Does nothing for an array in memory.
    """
    here = mapped_position(rows)
    if here is None or not hasattr(mmap, "MADV_WILLNEED"):
        return
    for first, length in advised_ranges(here, rows.strides[0], starts, ends, mmap.PAGESIZE):
        rows._mmap.madvise(mmap.MADV_WILLNEED, first, length)  # type: ignore[attr-defined]


def mapped_position(rows: np.ndarray) -> int | None:
    """Where row 0 of `rows` lies in the mapping it was read through (a view's too), or None if not mapped."""
    mapped = getattr(rows, "_mmap", None)
    if mapped is None or rows.size == 0:
        return None
    return int(rows.ctypes.data - np.frombuffer(mapped, dtype=np.uint8).ctypes.data)


def advised_ranges(here: int, size: int, starts: Any, ends: Any, page: int) -> list[tuple[int, int]]:
    """(first byte, length) in the mapping of rows [start, end) of `size` bytes from byte `here`, the first
    byte rounded down to a page (as madvise needs); empty ranges left out."""
    out = []
    for start, end in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), strict=True):
        if end > start:
            first = (here + start * size) // page * page
            out.append((first, here + end * size - first))
    return out


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The .npy (version 1.0) header of a C-ordered array, padded to exactly HEADER bytes."""
    described = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
    body = described.encode("latin1")
    room = HEADER - 10 - 1  # magic (6) + version (2) + length (2), and the closing newline
    if len(body) > room:
        raise ValueError(f"an .npy header for shape {shape} does not fit in {HEADER} bytes")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", HEADER - 10) + body + b" " * (room - len(body)) + b"\n"
