"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates, then ranking.

Candidates come from both sides. The default ranking ("late") is late
interaction over contextual token vectors of the same model: each content
token of the question finds its best match in the passage. `rag eval
--ablations` measures it against a weighted blend of dense and BM25 scores
("blend"), reciprocal rank fusion ("rrf") and each side alone. Near-duplicate
results (the same sentences reached twice) are suppressed, best first.

Does not load models or files: it works on the arrays an `Index` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .chunk import Chunk
from .embed import QueryVectors
from .errors import InputError
from .quantize import TokenMatrix
from .text import jaccard, tokens, word_set
from .tuning import RANK_FEATURES, Params, shipped

RRF_K = 60
# Tuned on the gold set with `rag eval` (see README, "Retrieval choices").
LEXICAL_SHARE = 0.2  # weight of max-normalised BM25 in "blend"
SENTENCE_SHARE = 0.5  # weight of the best sentence's cosine in a passage's dense score
FUSIONS = ("fused", "late", "blend", "rrf", "dense", "bm25")
CANDIDATES = 50
FLAT_LIMIT = 50_000


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with every signal that ranked it."""

    index: int  # position in the index's chunk list
    score: float  # the fused score used for ranking
    dense: float  # mean of passage and best-sentence cosine with the question
    lexical: float  # BM25 score
    late: float  # late-interaction (MaxSim) score over the passage's tokens
    dense_rank: int  # 1-based; 0 when outside the candidates
    lexical_rank: int


def faiss_index_for(vectors: np.ndarray) -> tuple[Any, str]:
    """An inner-product FAISS index suited to the corpus size.

    Exact search (Flat) up to 50k vectors, where one query costs a few
    milliseconds, less than encoding the question; HNSW beyond, which stays
    around a millisecond at 100k+ at some cost in recall (both measured by
    `bench/bench.py`). Candidates are re-scored exactly afterwards.
    """
    import faiss

    n, d = vectors.shape
    index: Any
    if n <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(d)
        kind = "Flat"
    else:
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 256
        kind = "HNSW32"
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


def stored_vectors(faiss_index: Any) -> np.ndarray:
    """The passage vectors a Flat or HNSW-Flat FAISS index holds, as a read-only view (no copy).

    The view lives as long as `faiss_index`: keep a reference to it.
    """
    import faiss

    flat: Any = faiss.downcast_index(faiss_index.storage) if hasattr(faiss_index, "storage") else faiss_index
    n, d = faiss_index.ntotal, faiss_index.d
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    view = faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)
    view.flags.writeable = False
    return view


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` highest scores, best first, ties in position order: the first `k` of a stable
    descending sort, found in time linear in len(scores)."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    cutoff = scores[np.argpartition(-scores, k - 1)[k - 1]]
    above = np.flatnonzero(scores > cutoff)
    tied = np.flatnonzero(scores == cutoff)[: k - len(above)]
    chosen = np.concatenate([above, tied])
    return chosen[np.argsort(-scores[chosen], kind="stable")]


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


@dataclass(frozen=True)
class Candidates:
    """The passages proposed for one question, with every signal that can rank them."""

    ids: np.ndarray  # positions in the index's chunk list
    features: dict[str, np.ndarray]  # per candidate: late, dense, sentence, lexical (see RANK_FEATURES)
    bm25: np.ndarray  # raw BM25 score per candidate


def candidates(encoded: QueryVectors, question: str, *, index: Any, k: int,
               allowed: np.ndarray | None = None) -> Candidates:
    """Dense (FAISS) and lexical (BM25) proposals, scored by every ranking feature.

    `index` holds the arrays (see `rag.index.Index`); `allowed` is an optional
    boolean mask over passages.
    """
    n = len(index.chunks)
    empty = Candidates(np.zeros(0, np.int64), {f: np.zeros(0) for f in RANK_FEATURES}, np.zeros(0))
    if n == 0:
        return empty
    pool = min(n, max(CANDIDATES, 4 * k))
    vector = encoded.vector
    if allowed is None:
        _, ids = index.faiss_index.search(vector.reshape(1, -1).astype(np.float32), pool)
        dense_ids = [int(i) for i in ids[0] if i >= 0]
    else:
        # A filtered search scores the allowed passages exactly: asking an
        # approximate index for every neighbour would be slow and lossy.
        subset = np.flatnonzero(allowed)
        sims = index.passage_vectors[subset] @ vector
        dense_ids = [int(i) for i in subset[top_k(sims, pool)]]
    lexical_all = bm25_scores(index.bm25, question, n)
    if allowed is not None:
        lexical_all = np.where(allowed, lexical_all, 0.0)
    lexical_ids = [int(i) for i in top_k(lexical_all, pool) if lexical_all[i] > 0]
    cand = np.array(sorted(set(dense_ids) | set(lexical_ids)), dtype=np.int64)
    if len(cand) == 0:
        return empty
    passage = index.passage_vectors[cand] @ vector
    sentence = best_sentence(vector, cand, index.sentence_vectors, index.sentence_offsets)
    lexical = lexical_all[cand]
    offsets = index.token_offsets
    starts, ends = offsets[index.sentence_offsets[cand]], offsets[index.sentence_offsets[cand + 1]]
    per_token = token_maxima(encoded.tokens, index.token_vectors, starts, ends)
    # Each question word's best match in the passage or in its context (document name, section heading).
    # Many candidates share a context (a section): score each distinct one once.
    contexts, which = np.unique(index.context_of[cand], return_inverse=True)
    per_context = token_maxima(encoded.tokens, index.token_vectors, offsets[contexts], offsets[contexts + 1])
    in_context = np.maximum(per_token, per_context[which])
    rarity = index.rarity(encoded.words)
    top = float(lexical.max())
    features = {"late": _mean(per_token), "late_rare": _mean(per_token, rarity),
                "late_context": _mean(in_context), "late_rare_context": _mean(in_context, rarity),
                "dense": passage.astype(np.float64), "sentence": sentence.astype(np.float64),
                "lexical": lexical / top if top > 0 else np.zeros(len(cand))}
    return Candidates(cand, features, lexical)


def rank(found: Candidates, *, chunks: list[Chunk], k: int, fusion: str = "fused",
         weights: dict[str, float] | None = None) -> list[Hit]:
    """The best `k` candidates, best first, near-duplicates removed.

    "fused" (the default) is a weighted sum of the ranking features, with
    weights fitted on the development gold sets (`rag.tuning`); "late" is late
    interaction alone; "blend" and "rrf" fuse dense and BM25 scores; "dense"
    and "bm25" use one side alone (for ablations).
    """
    if len(found.ids) == 0:
        return []
    f = found.features
    dense = SENTENCE_SHARE * f["sentence"] + (1 - SENTENCE_SHARE) * f["dense"]
    if fusion == "fused":
        scores = Params(rank=weights).rank_score(f) if weights is not None else shipped().rank_score(f)
    else:
        scores = fuse(dense, found.bm25, f["late"], fusion)
    order = np.argsort(-scores, kind="stable")
    dense_rank = _ranks(dense)
    lexical_rank = np.where(found.bm25 > 0, _ranks(found.bm25), 0)
    hits: list[Hit] = []
    seen: list[frozenset[str]] = []
    for j in order:
        if scores[j] == -np.inf:
            break
        i = int(found.ids[j])
        words = word_set(chunks[i].passage.text)
        if any(jaccard(words, other) >= 0.8 for other in seen):
            continue
        seen.append(words)
        hits.append(Hit(i, float(scores[j]), float(dense[j]), float(found.bm25[j]), float(f["late"][j]),
                        int(dense_rank[j]), int(lexical_rank[j])))
        if len(hits) == k:
            break
    return hits


def _mean(per_token: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Each row's mean over question tokens, weighted when `weights` are given."""
    if per_token.shape[1] == 0 or (weights is not None and weights.sum() <= 0):
        return np.zeros(per_token.shape[0])
    return per_token.mean(axis=1) if weights is None else per_token @ weights / weights.sum()


def token_maxima(query_tokens: np.ndarray, token_vectors: TokenMatrix | np.ndarray, starts: np.ndarray,
                 ends: np.ndarray) -> np.ndarray:
    """For each span of token rows [start, end) and each question token, its best cosine in the span."""
    return TokenMatrix.of(token_vectors).span_maxima(query_tokens, starts, ends)


def maxsim(query_tokens: np.ndarray, token_vectors: TokenMatrix | np.ndarray, starts: np.ndarray,
           ends: np.ndarray) -> np.ndarray:
    """Late-interaction score of each span of token rows [start, end) against the question's tokens.

    For every question token, its best cosine with any token of the span;
    then the mean over question tokens (0 for an empty span or question). A
    span that holds every idea of the question, in whatever words the model
    sees as close, scores high.
    """
    per_token = token_maxima(query_tokens, token_vectors, starts, ends)
    return per_token.mean(axis=1) if per_token.shape[1] else np.zeros(len(starts), dtype=np.float64)


def best_sentence(query_vector: np.ndarray, cand: np.ndarray, sentence_vectors: np.ndarray,
                  sentence_offsets: np.ndarray) -> np.ndarray:
    """The best sentence cosine within each candidate passage."""
    starts, ends = sentence_offsets[cand], sentence_offsets[cand + 1]
    rows = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
    sims = sentence_vectors[rows] @ query_vector
    return np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(ends - starts)[:-1]]))


def _ranks(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks


def fuse(dense: np.ndarray, lexical: np.ndarray, late: np.ndarray, fusion: str) -> np.ndarray:
    """One ranking score per candidate from its dense, BM25 and late-interaction scores."""
    if fusion == "late":
        return late.astype(np.float64)
    if fusion == "dense":
        return dense.astype(np.float64)
    if fusion == "bm25":
        return np.where(lexical > 0, lexical, -np.inf).astype(np.float64)
    if fusion == "rrf":
        out = 1.0 / (RRF_K + _ranks(dense))
        return out + np.where(lexical > 0, 1.0 / (RRF_K + _ranks(lexical)), 0.0)
    if fusion == "blend":
        top = float(lexical.max()) if len(lexical) else 0.0
        lex = lexical / top if top > 0 else np.zeros_like(lexical)
        return (1 - LEXICAL_SHARE) * dense.astype(np.float64) + LEXICAL_SHARE * lex
    raise InputError(f"unknown fusion {fusion!r}; use one of {', '.join(FUSIONS)}.")

