"""The ranking signals every store computes for its candidates: late interaction, cosines, BM25 share.

A store proposes candidates (`rag.stores.protocol.Store.candidates`) and scores
each with `features`, from the rows it gathered; `rag.search.ranking` weighs
them. Here so that a backend depends on the signals' definition, never on
the ranking that weighs them.

Does not rank, fit weights or read files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from rag.embed.model import QueryVectors
from rag.ingest.text import tokens
from rag.storage.quantize import TokenMatrix

CANDIDATES = 50  # passages a store proposes from each side (dense, BM25) before ranking
RANK_FEATURES = ("late", "late_rare", "late_context", "late_rare_context", "dense", "sentence", "lexical")


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
