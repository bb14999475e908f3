"""Hybrid retrieval: dense (FAISS inner product) + lexical (BM25), fused.

Two fusions are offered and measured by `rag eval`: reciprocal rank fusion
("rrf") and a weighted blend of max-normalised scores ("blend"). Near-duplicate
results (the same sentences reached twice) are suppressed, best first.

Does not load models or files: it works on arrays handed to it by `rag.index`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .chunk import Chunk
from .text import tokens

RRF_K = 60
BLEND_WEIGHT = 0.5  # share of the dense score in "blend"
FUSIONS = ("rrf", "blend", "dense", "bm25")
CANDIDATES = 50


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with every signal that ranked it."""

    index: int  # position in the index's chunk list
    score: float  # the fused score used for ranking
    dense: float  # cosine similarity with the question
    lexical: float  # BM25 score
    dense_rank: int  # 1-based; 0 when outside the candidates
    lexical_rank: int


def faiss_index_for(vectors: np.ndarray) -> tuple[Any, str]:
    """An inner-product FAISS index suited to the corpus size.

    Exact search (Flat) up to 20k vectors, where it costs well under a few
    milliseconds; HNSW beyond, which keeps large corpora fast at a small cost
    in recall (measured by `bench/bench.py`).
    """
    import faiss

    n, d = vectors.shape
    if n <= 20_000:
        index = faiss.IndexFlatIP(d)
        kind = "Flat"
    else:
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
        kind = "HNSW32"
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


def bm25_index(chunks: list[Chunk]) -> Any:
    import bm25s

    bm25 = bm25s.BM25()
    corpus = [tokens(c.search_text) or ["\u2205"] for c in chunks]
    bm25.index(corpus, show_progress=False)
    return bm25


def bm25_scores(bm25: Any, question: str, n: int) -> np.ndarray:
    query = [t for t in tokens(question) if t in bm25.vocab_dict]
    if not query:
        return np.zeros(n, dtype=np.float32)
    return np.asarray(bm25.get_scores(query), dtype=np.float32)


def search(
    query_vector: np.ndarray,
    question: str,
    *,
    chunks: list[Chunk],
    faiss_index: Any,
    bm25: Any,
    k: int,
    fusion: str = "rrf",
    allowed: np.ndarray | None = None,
) -> list[Hit]:
    """The best `k` passages for a question, best first, near-duplicates removed.

    `allowed` is an optional boolean mask over chunks (e.g. the documents a
    reader picked); passages outside it are never returned.
    """
    n = len(chunks)
    if n == 0:
        return []
    pool = min(n, max(CANDIDATES, 4 * k))
    dense = np.full(n, -1.0, dtype=np.float32)
    search_n = n if allowed is not None else pool
    scores, ids = faiss_index.search(query_vector.reshape(1, -1).astype(np.float32), search_n)
    valid = ids[0] >= 0
    dense[ids[0][valid]] = scores[0][valid]
    lexical = bm25_scores(bm25, question, n)
    if allowed is not None:
        dense = np.where(allowed, dense, -np.inf)
        lexical = np.where(allowed, lexical, -np.inf)
    dense_order = np.argsort(-dense, kind="stable")[:pool]
    lexical_order = np.argsort(-lexical, kind="stable")[:pool]
    lexical_order = lexical_order[lexical[lexical_order] > 0]
    dense_rank = np.zeros(n, dtype=np.int64)
    lexical_rank = np.zeros(n, dtype=np.int64)
    dense_rank[dense_order] = np.arange(1, len(dense_order) + 1)
    lexical_rank[lexical_order] = np.arange(1, len(lexical_order) + 1)
    if allowed is not None:
        dense_rank[~allowed] = 0

    fused = fuse(dense, lexical, dense_rank, lexical_rank, fusion)
    order = [int(i) for i in np.argsort(-fused, kind="stable") if fused[i] > -np.inf and (dense_rank[i] or lexical_rank[i])]
    hits: list[Hit] = []
    seen: list[set[str]] = []
    for i in order:
        words = set(tokens(chunks[i].passage.text))
        if any(_jaccard(words, other) >= 0.8 for other in seen):
            continue
        seen.append(words)
        hits.append(Hit(i, float(fused[i]), float(dense[i]), float(max(lexical[i], 0.0)),
                        int(dense_rank[i]), int(lexical_rank[i])))
        if len(hits) == k:
            break
    return hits


def fuse(dense: np.ndarray, lexical: np.ndarray, dense_rank: np.ndarray, lexical_rank: np.ndarray,
         fusion: str) -> np.ndarray:
    if fusion == "dense":
        return np.where(dense_rank > 0, dense, -np.inf)
    if fusion == "bm25":
        return np.where(lexical_rank > 0, lexical, -np.inf)
    if fusion == "rrf":
        out = np.zeros(len(dense), dtype=np.float64)
        out += np.where(dense_rank > 0, 1.0 / (RRF_K + dense_rank), 0.0)
        out += np.where(lexical_rank > 0, 1.0 / (RRF_K + lexical_rank), 0.0)
        return out
    if fusion == "blend":
        top = float(lexical[lexical_rank > 0].max()) if (lexical_rank > 0).any() else 0.0
        lex = np.where(lexical_rank > 0, lexical / top if top > 0 else 0.0, 0.0)
        den = np.where(dense_rank > 0, np.clip(dense, 0.0, 1.0), 0.0)
        return BLEND_WEIGHT * den + (1 - BLEND_WEIGHT) * lex
    raise ValueError(f"unknown fusion {fusion!r}; use one of {', '.join(FUSIONS)}")


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
