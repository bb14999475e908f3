"""The vectors an index holds: two reads, no more.

Each passage is read once as "document label: section: text" for its vector
(a question often names what it is about, "ssh" or "the licence", in words
the passage does not repeat). Each sentence is read once, alone, for both its
vector and its token rows (special tokens left out, `rag.embed.passes`); each
distinct context (document name and section, `rag.ingest.context`) once for the
token rows that follow every sentence's. Pooling the passage vector from its
sentences' and context's token outputs would save the passage read, but
lowered MRR@10 by 0.018 on the development gold sets (dense alone by 0.010),
so the passage keeps its own read. Texts are read a slice of passages at a
time and their token rows quantised at once.

Does not store anything: `rag.storage.index_folder` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.embed.model import BATCH, Embedder
from rag.errors import ModelError
from rag.ingest.chunk import Chunk
from rag.ingest.context import context_ids, context_text
from rag.ingest.text import dehyphenate
from rag.storage.quantize import TokenMatrix, stack

SLICE = 1024  # passages read between two quantisations


@dataclass(frozen=True)
class ChunkVectors:
    passages: np.ndarray  # (passages, d), normalised
    sentences: np.ndarray  # (sentences, d), normalised, in chunk order
    tokens: TokenMatrix  # every sentence's rows, then every context's (see rag.ingest.context), int8
    token_offsets: np.ndarray  # where each sentence's or context's rows start, and the end
    contexts: int


def embed_chunks(embedder: Embedder, chunks: list[Chunk], *, texts: dict[str, str], labels: dict[str, str],
                 vocabularies: dict[str, set[str]], on_batch: Callable[[int], None] | None = None,
                 slice_size: int = SLICE) -> ChunkVectors:
    """Every vector of `chunks`; `texts`, `labels` and `vocabularies` (rag.ingest.text) by source; `on_batch(n)` after
    each n texts read.

    Passages are read `slice_size` at a time and their token rows quantised at once, so the float32
    rows of one slice at most are held.
    """
    d = embedder.dimension
    keys = context_ids(chunks)[1]
    contexts = [context_text(labels[source], section) for source, section in keys]
    read_contexts = embedder.encode_spans(contexts, [[(0, len(t))] for t in contexts], on_batch=on_batch)
    passages: list[np.ndarray] = []
    sentences: list[np.ndarray] = []
    blocks: list[TokenMatrix] = []
    counts = [0]
    for first in range(0, len(chunks), slice_size):
        part = chunks[first : first + slice_size]
        texts_of = [[" ".join(dehyphenate(texts[source][s:e], vocabularies[source]).split()) for s, e in c.sentences]
                    for c in part for source in (c.passage.citation.source,)]
        flat = [t for sentences_of in texts_of for t in sentences_of]
        encoded = embedder.encode_spans(flat, [[(0, len(t))] for t in flat], on_batch=on_batch)
        passages.append(embedder.encode([f"{labels[c.passage.citation.source]}: {c.search_text}" for c in part],
                                         batch_size=BATCH))
        if on_batch:
            on_batch(len(part))
        sentences.append(np.array([e.vector for e in encoded], dtype=np.float32).reshape(len(encoded), d))
        # A sentence with no token of its own (say, only symbols) is matched by its vector.
        rows = [e.tokens[0] if len(e.tokens[0]) else e.vector[None, :] for e in encoded]
        blocks.append(stack(rows, d))
        counts.extend(len(r) for r in rows)
    rows = []
    for enc in read_contexts:
        rows.append(enc.tokens[0] if len(enc.tokens[0]) else np.zeros((1, d), np.float32))
    blocks.append(stack(rows, d))
    counts.extend(len(r) for r in rows)
    widths = {b.shape[1] for b in blocks if len(b)}
    if widths - {d}:
        raise ModelError(
            f"Model {embedder.name!r} gives {sorted(widths)}-wide token vectors but {d}-wide sentence vectors; "
            "late interaction needs them equal. Pass --model with a model whose token and sentence vectors "
            "share one size (as all-MiniLM-L6-v2's do)."
        )
    tokens = TokenMatrix(np.concatenate([b.values for b in blocks]), np.concatenate([b.scales for b in blocks]))
    return ChunkVectors(np.concatenate(passages).astype(np.float32) if passages else np.zeros((0, d), np.float32),
                        np.concatenate(sentences).astype(np.float32) if sentences else np.zeros((0, d), np.float32),
                        tokens, np.cumsum(counts), len(contexts))
