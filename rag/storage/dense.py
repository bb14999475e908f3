"""The passage vectors' FAISS index, chosen by corpus size, and the exact vectors beside it.

Exact search (Flat) up to 200k passages: one query costs 5.5 ms at 100k and
about 13 ms at 200k on one thread, near the question's encoding, with exact
recall, and making the index is a copy (0.2 s at 100k), so a build that
changes one document of a large corpus does not wait for a graph. The Flat
index holds the exact vectors, read through `flat_vectors` without a copy.

Beyond, HNSW over 8-bit codes of the vectors (a quarter of float32), which
stays around a millisecond a query at some cost in recall; the candidates it
finds are re-scored exactly from the float32 vectors, kept in a file of
their own (`EXACT_KIND` says when) and memory-mapped. Codes instead of floats
keep a build's memory at about 0.65 KB a passage for the graph and codes
(1.9 KB with float32), and vectors are added a block at a time from the
build's memory-mapped rows, whose pages are dropped after each block.

Does not rank (`rag.retrieve`) nor decide where files go (`rag.storage.index_folder`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rag.storage.rowfile import release

FLAT_LIMIT = 200_000
EXACT_KIND = "HNSW32,SQ8"  # the kind whose exact vectors are a file of their own
BLOCK = 1 << 16  # vectors added to FAISS at once
TRAINING = 1 << 16  # vectors, spread over the corpus, that set the 8-bit codes' range per component


def faiss_index_for(vectors: np.ndarray) -> tuple[Any, str]:
    """An inner-product FAISS index of `vectors` (float32, normalised; may be memory-mapped), and its kind."""
    import faiss

    n, d = vectors.shape
    index: Any
    if n <= FLAT_LIMIT:
        index, kind = faiss.IndexFlatIP(d), "Flat"
    else:
        eight_bit: Any = faiss.ScalarQuantizer.QT_8bit
        index = faiss.IndexHNSWSQ(d, eight_bit, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 256
        kind = EXACT_KIND
        index.train(_spread_sample(vectors, TRAINING))
    for start in range(0, n, BLOCK):
        index.add(np.ascontiguousarray(vectors[start : start + BLOCK], dtype=np.float32))
        release(vectors)  # the rows just added: FAISS holds its own copy or codes
    return index, kind


def _spread_sample(vectors: np.ndarray, size: int) -> np.ndarray:
    """About `size` rows spread evenly over `vectors`, gathered a block at a time, each block's pages dropped."""
    rows = np.arange(0, len(vectors), max(1, len(vectors) // size))
    parts = []
    for part in np.array_split(rows, -(-len(vectors) // BLOCK)):
        parts.append(np.array(vectors[part], dtype=np.float32))
        release(vectors)
    return np.concatenate(parts)


def flat_vectors(faiss_index: Any) -> np.ndarray:
    """The passage vectors a Flat FAISS index holds, as a read-only view (no copy).

    The view lives as long as `faiss_index`: keep a reference to it.
    """
    import faiss

    n, d = faiss_index.ntotal, faiss_index.d
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    flat: Any = faiss.downcast_index(faiss_index)
    view = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
    view.flags.writeable = False
    return view
