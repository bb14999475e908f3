"""An .npy file written a block of rows at a time, so no whole array is ever held in memory.

The header is written first with room to spare and rewritten with the final
row count when the file is closed; `numpy.load` (memory-mapped or not) reads
the result like any other .npy file. Does not decide what the rows are:
`rag.rowwriter` does.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

HEADER = 128  # bytes: magic, version, length and the padded header dict (a multiple of 64)


class RowFile:
    """Rows of one dtype and width appended to `path`; `close()` makes it a valid .npy file."""

    def __init__(self, path: Path, dtype: Any, width: int | None = None) -> None:
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        self._handle = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._handle.write(b"\0" * HEADER)

    def append(self, rows: np.ndarray) -> None:
        block = np.ascontiguousarray(rows, dtype=self.dtype)
        expected = (self.width,) if self.width is not None else ()
        if block.shape[1:] != expected:
            raise ValueError(f"rows of shape {block.shape} do not fit {self.path.name}'s width {self.width}")
        block.tofile(self._handle)
        self.rows += len(block)

    def close(self) -> None:
        if self._handle.closed:
            return
        shape = (self.rows, self.width) if self.width is not None else (self.rows,)
        self._handle.seek(0)
        self._handle.write(npy_header(self.dtype, shape))
        self._handle.close()

    def load(self) -> np.ndarray:
        """The closed file, memory-mapped read-only."""
        self.close()
        return np.load(self.path, mmap_mode="r", allow_pickle=False)


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The .npy (version 1.0) header of a C-ordered array, padded to exactly HEADER bytes."""
    described = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
    body = described.encode("latin1")
    room = HEADER - 10 - 1  # magic (6) + version (2) + length (2), and the closing newline
    if len(body) > room:
        raise ValueError(f"an .npy header for shape {shape} does not fit in {HEADER} bytes")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", HEADER - 10) + body + b" " * (room - len(body)) + b"\n"
