"""Token vectors kept compact: int8 with one scale per row, scored without expanding the matrix.

Late interaction needs a vector per token, about 60 per prose passage, so the
token matrix is most of an index. Each row (a unit vector) is stored as int8
values times one float32 scale, its largest absolute component over 127: a
quarter of float32's size, and an error in any cosine of about 0.002, far
below the gaps that rank passages (measured on the gold sets, see README).
The matrix is memory-mapped at every size; a query reads only the rows of its
candidates, dequantises them together and takes each span's maxima in one
vectorised pass.

Does not choose which rows a span holds: `rag.retrieve` and `rag.answers.pipeline` do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.storage.rowfile import will_need

LEVELS = 127


def quantize(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`rows` as int8 values and one float32 scale per row: rows ≈ values * scales[:, None]."""
    rows = np.asarray(rows, dtype=np.float32)
    peak = np.abs(rows).max(axis=1) if rows.size else np.zeros(len(rows), np.float32)
    scales = np.where(peak > 0, peak / LEVELS, 1.0).astype(np.float32)
    return np.rint(rows / scales[:, None]).astype(np.int8), scales


@dataclass(frozen=True)
class TokenMatrix:
    """Token rows as `values` (int8, or float for exact rows) times per-row `scales`."""

    values: np.ndarray  # (n, d)
    scales: np.ndarray  # (n,)

    @classmethod
    def exact(cls, rows: np.ndarray) -> TokenMatrix:
        rows = np.asarray(rows, dtype=np.float32)
        return cls(rows, np.ones(len(rows), dtype=np.float32))

    @classmethod
    def of(cls, rows: TokenMatrix | np.ndarray) -> TokenMatrix:
        return rows if isinstance(rows, TokenMatrix) else cls.exact(rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def __len__(self) -> int:
        return len(self.values)

    def rows(self, start: int, end: int) -> np.ndarray:
        """Rows [start, end) as float32."""
        return np.asarray(self.values[start:end], dtype=np.float32) * self.scales[start:end, None]

    def span_maxima(self, query: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """For each span of rows [start, end) and each query row, its best inner product in the span (0 if empty)."""
        starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
        out = np.zeros((len(starts), len(query)), dtype=np.float64)
        lengths = np.maximum(ends - starts, 0)
        filled = lengths > 0
        if len(query) == 0 or not filled.any():
            return out
        s, n = starts[filled], lengths[filled]
        will_need(self.values, s, s + n)  # a cold index's rows read together, not a page fault at a time
        will_need(self.scales, s, s + n)
        firsts = np.cumsum(n) - n
        rows = np.repeat(s - firsts, n) + np.arange(int(n.sum()))  # every span's rows, one after another
        sims = (np.asarray(self.values[rows], dtype=np.float32) @ np.asarray(query, dtype=np.float32).T)
        sims *= self.scales[rows][:, None]
        out[filled] = np.maximum.reduceat(sims, firsts, axis=0)
        return out


def stack(blocks: list[np.ndarray], width: int, *, group: int = 1 << 16) -> TokenMatrix:
    """`blocks` of float rows stacked and quantised, a group of rows at a time (no float32 copy of them all)."""
    values, scales, pending, held = [], [], [], 0
    for n, block in enumerate(blocks):
        pending.append(block)
        held += len(block)
        if held >= group or n == len(blocks) - 1:
            v, s = quantize(np.vstack(pending))
            values.append(v)
            scales.append(s)
            pending, held = [], 0
    if not values:
        return TokenMatrix(np.zeros((0, width), np.int8), np.zeros(0, np.float32))
    return TokenMatrix(np.concatenate(values), np.concatenate(scales))
