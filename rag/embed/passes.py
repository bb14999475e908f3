"""One forward pass per text: its vector, and per span of it a vector and the token vectors.

all-MiniLM-L6-v2 pools by mean, so a text's vector is the mean of all its
token outputs, exactly as the model's own `encode` gives it. A span's token rows are
the outputs whose characters (the tokenizer's offset mapping) fall inside
it, and its vector is their mean. A span the pass cut off (the model reads
at most `max_tokens` tokens) is read again on its own, so no span loses its
tokens. Texts are batched by length, so short ones are not padded to the
longest.

Does not decide what the texts or spans are: `rag.build.vectors` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

Span = tuple[int, int]


@dataclass(frozen=True)
class Encoded:
    """One text read once: its vector, and per span of it a vector and token rows (all normalised)."""

    vector: np.ndarray  # (d,)
    spans: np.ndarray  # (n, d): each span's mean-pooled vector
    tokens: tuple[np.ndarray, ...]  # per span, (t, d) float32 rows; (0, d) when the span has no token


def unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def by_length(texts: list[str], batch_size: int) -> Iterator[list[int]]:
    """Positions of `texts` in batches of similar length, longest first."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def split_tokens(rows: np.ndarray, offsets: np.ndarray, spans: list[Span]) -> list[np.ndarray]:
    """The rows whose characters lie wholly inside each span (spans sorted, not overlapping)."""
    starts = np.array([s for s, _ in spans], dtype=np.int64)
    ends = np.array([e for _, e in spans], dtype=np.int64)
    real = offsets[:, 1] > offsets[:, 0]  # special and padding tokens map to no characters
    owner = np.searchsorted(starts, offsets[:, 0], side="right") - 1
    inside = real & (owner >= 0) & (offsets[:, 1] <= ends[np.clip(owner, 0, None)])
    return [rows[inside & (owner == n)] for n in range(len(spans))]


# A reader reads a batch of texts: per text its token outputs (b, t, d), its pooled vector (b, d), the
# attention mask (b, t) and each token's characters (b, t, 2), padded to the batch's longest; float32 arrays.
Reader = Callable[[list[str]], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def torch_reader(model: Any, max_tokens: int) -> Reader:
    """A `Reader` over a sentence-transformers `model` (its tokenizer, then its forward pass)."""

    def read(batch: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        import torch

        features = model.tokenizer(batch, padding=True, truncation=True, max_length=max_tokens,
                                   return_tensors="pt", return_offsets_mapping=True)
        offsets = features.pop("offset_mapping").numpy()
        with torch.inference_mode():
            result = model.forward(dict(features))
        return (result["token_embeddings"].float().numpy(), result["sentence_embedding"].float().numpy(),
                features["attention_mask"].numpy().astype(bool), offsets)

    return read


def forward_passes(read: Reader, texts: list[str], spans: list[list[Span]], *, max_tokens: int,
                   batch_size: int = 32, on_batch: Callable[[int], None] | None = None) -> list[Encoded]:
    """Encode each text once with `read` (`torch_reader`, or `rag.embed.onnx`'s); see the module docstring."""
    out, again = _passes(read, texts, spans, max_tokens, batch_size, on_batch)
    if again:
        alone, _ = _passes(read, [t for _, _, t in again], [[(0, len(t))] for _, _, t in again], max_tokens,
                           batch_size, None)
        for (i, n, _), enc in zip(again, alone, strict=True):
            done = out[i]
            # A span with no token at all (say, only symbols the tokenizer drops) takes its text's pooled vector.
            done.spans[n] = enc.spans[0] if len(enc.tokens[0]) else enc.vector
            out[i] = Encoded(done.vector, done.spans, (*done.tokens[:n], enc.tokens[0], *done.tokens[n + 1:]))
    return out


def _passes(read: Reader, texts: list[str], spans: list[list[Span]], max_tokens: int, batch_size: int,
            on_batch: Callable[[int], None] | None) -> tuple[list[Encoded], list[tuple[int, int, str]]]:
    """Each text encoded, and the spans to read again alone: (text, span, the span's text)."""
    out: dict[int, Encoded] = {}
    again: list[tuple[int, int, str]] = []  # (text, span, span's own text) cut off by truncation
    for batch in by_length(texts, batch_size):
        hidden, pooled, mask, offsets = read([texts[i] for i in batch])
        for row, i in enumerate(batch):
            parts = split_tokens(hidden[row][mask[row]], offsets[row][mask[row]], spans[i])
            truncated = int(mask[row].sum()) >= max_tokens
            covered = int(offsets[row][mask[row]][:, 1].max(initial=0))
            for n, (start, end) in enumerate(spans[i]):
                if len(parts[n]) == 0 or (truncated and end > covered):
                    again.append((i, n, texts[i][start:end]))
            out[i] = _encoded(pooled[row], parts)
        if on_batch:
            on_batch(len(batch))
    return [out[i] for i in range(len(texts))], again


def _encoded(pooled: np.ndarray, parts: list[np.ndarray]) -> Encoded:
    width = pooled.shape[-1]
    means = np.array([p.mean(axis=0) if len(p) else np.zeros(width) for p in parts], dtype=np.float32)
    return Encoded(unit(pooled), unit(means.reshape(len(parts), width)), tuple(unit(p) for p in parts))
