"""Hybrid retrieval: a store's candidates ranked by their features (`rag.stores.signals`).

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

from dataclasses import dataclass

import numpy as np

from rag.errors import InputError
from rag.ingest.text import jaccard, word_set
from rag.search.tuning import Params, shipped
from rag.stores.protocol import Candidates

RRF_K = 60
# Tuned on the gold set with `rag eval` (see README, "Retrieval choices").
LEXICAL_SHARE = 0.2  # weight of max-normalised BM25 in "blend"
SENTENCE_SHARE = 0.5  # weight of the best sentence's cosine in a passage's dense score
FUSIONS = ("fused", "late", "blend", "rrf", "dense", "bm25")


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

