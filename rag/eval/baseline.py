"""The naive baseline `rag eval --ablations` measures the pipeline against.

What a plain framework does: blank-line paragraphs, cut into pieces of about
120 words, each embedded with the same model and ranked by cosine alone. No
ingestion rules, no BM25, no late interaction, no context. Every document
shows what the pipeline adds over it.

Does not answer or quote: it only ranks spans for the retrieval metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

PIECE_WORDS = 120


@dataclass(frozen=True)
class Piece:
    source: str
    start: int
    end: int


def pieces(source: str, text: str, words: int = PIECE_WORDS) -> list[Piece]:
    """Blank-line paragraphs of `text`, each cut into runs of at most `words` words."""
    out: list[Piece] = []
    for para in re.finditer(r"\S(?:.*?\S)?(?=\n[ \t\r\f\v]*\n|\s*\Z)", text, re.DOTALL):
        spans = [m.span() for m in re.finditer(r"\S+", para.group())]
        for i in range(0, len(spans), words):
            group = spans[i : i + words]
            out.append(Piece(source, para.start() + group[0][0], para.start() + group[-1][1]))
    return out


class NaiveRanker:
    """Cosine ranking over naive pieces of every document in an index."""

    def __init__(self, texts: dict[str, str], embedder: Any):
        self.pieces = [p for source, text in texts.items() for p in pieces(source, text)]
        bodies = [" ".join(texts[p.source][p.start : p.end].split()) for p in self.pieces]
        self.vectors = embedder.encode(bodies) if bodies else np.zeros((0, embedder.dimension), np.float32)

    def rank(self, query_vector: np.ndarray, depth: int = 10) -> list[int]:
        """Positions in `self.pieces`, best first."""
        sims = self.vectors @ query_vector
        return [int(i) for i in np.argsort(-sims, kind="stable")[:depth]]
