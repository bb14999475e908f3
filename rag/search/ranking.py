"""Hybrid retrieval: the ranking features of a store's candidates, then ranking.

Candidates come from both sides, dense and lexical (see `rag.stores`). The default ranking ("late") is late
interaction over contextual token vectors of the same model: each content
token of the question finds its best match in the passage. `rag eval
--ablations` measures it against a weighted blend of dense and BM25 scores
("blend"), reciprocal rank fusion ("rrf") and each side alone. Near-duplicate
results (the same sentences reached twice) are suppressed, best first.

Does not load models or files or search a store: it works on the arrays a
store gathered (`rag.stores.Candidates`). FAISS is `rag.storage.dense`, BM25 `rag.storage.bm25`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rag.embed.model import QueryVectors
from rag.errors import InputError
from rag.ingest.text import jaccard, tokens, word_set
from rag.search.tuning import Params, shipped
from rag.storage.quantize import TokenMatrix
from rag.stores.protocol import Candidates

RRF_K = 60
# Tuned on the gold set with `rag eval` (see README, "Retrieval choices").
LEXICAL_SHARE = 0.2  # weight of max-normalised BM25 in "blend"
SENTENCE_SHARE = 0.5  # weight of the best sentence's cosine in a passage's dense score
FUSIONS = ("fused", "late", "blend", "rrf", "dense", "bm25")
CANDIDATES = 50


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


def features(encoded: QueryVectors, *, first: np.ndarray, counts: np.ndarray, passage: np.ndarray,
             lexical: np.ndarray, sentence_vectors: np.ndarray, tokens: TokenMatrix, token_offsets: np.ndarray,
             contexts: np.ndarray, frequencies: Mapping[str, int], passages: int) -> dict[str, np.ndarray]:
    """Every ranking feature of the candidates, from what a store gathered for them.

    Per candidate: `first`, the number of its first sentence (rows of
    `sentence_vectors`; sentence s has token rows `token_offsets[s]:token_offsets[s + 1]`),
    `counts` its sentences, `passage` its passage cosine, `lexical` its BM25 score and
    `contexts` the number of its context's token span (document name and section).
    """
    vector = encoded.vector
    sentence = best_sentence(vector, first, first + counts, sentence_vectors)
    starts, ends = token_offsets[first], token_offsets[first + counts]
    per_token = token_maxima(encoded.tokens, tokens, starts, ends)
    # Each question word's best match in the passage or in its context (document name, section heading).
    # Many candidates share a context (a section): score each distinct one once.
    distinct, which = np.unique(contexts, return_inverse=True)
    per_context = token_maxima(encoded.tokens, tokens, token_offsets[distinct], token_offsets[distinct + 1])
    in_context = np.maximum(per_token, per_context[which])
    weights = rarity(encoded.words, frequencies, passages)
    top = float(lexical.max())
    return {"late": _mean(per_token), "late_rare": _mean(per_token, weights),
            "late_context": _mean(in_context), "late_rare_context": _mean(in_context, weights),
            "dense": passage.astype(np.float64), "sentence": sentence.astype(np.float64),
            "lexical": lexical / top if top > 0 else np.zeros(len(first))}


def rarity(words: tuple[str, ...], frequencies: Mapping[str, int], passages: int) -> np.ndarray:
    """An IDF weight per question word: words in every passage count little, rare ones much."""
    n = max(1, passages)
    out = []
    for word in words:
        counts = [frequencies.get(t, 0) for t in tokens(word)]
        out.append(math.log(1 + n / (min(counts) + 0.5)) if counts else 0.0)
    return np.array(out, dtype=np.float64)


def rank(found: Candidates, *, k: int, fusion: str = "fused", weights: dict[str, float] | None = None) -> list[Hit]:
    """The best `k` candidates, best first, near-duplicates removed.

    "fused" (the default) is a weighted sum of the ranking features, with
    weights fitted on the development gold sets (`rag.search.tuning`); "late" is late
    interaction alone; "blend" and "rrf" fuse dense and BM25 scores; "dense"
    and "bm25" use one side alone (for ablations). A pure function of `found`.
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
        words = word_set(found.chunks[i].passage.text)
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


def best_sentence(query_vector: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  sentence_vectors: np.ndarray) -> np.ndarray:
    """The best sentence cosine within each candidate passage (its sentence rows [start, end))."""
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

