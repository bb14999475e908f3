"""One forward pass per passage with the real model: its outputs against the model's own encode."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed.model import packaged_model_path
from rag.embed.runtime import load_embedder

pytestmark = pytest.mark.model


def _token_count(text: str) -> int:
    """Tokens of `text` without the special ones, by the model's own tokenizer (whichever runtime reads it)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(packaged_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def _spans(text: str, sentences: list[str]) -> list[tuple[int, int]]:
    out, at = [], 0
    for s in sentences:
        at = text.index(s, at)
        out.append((at, at + len(s)))
        at += len(s)
    return out


def test_passage_vector_equals_the_models_own_and_sentences_get_their_tokens() -> None:
    embedder = load_embedder()
    sentences = ["Rotterdam connected its terminals to shore power.", "Ships at berth no longer burn diesel."]
    text = "Harbour report: Shore power: " + " ".join(sentences)
    [encoded] = embedder.encode_spans([text], [_spans(text, sentences)])
    np.testing.assert_allclose(encoded.vector, embedder.encode([text])[0], atol=1e-5)
    for n, sentence in enumerate(sentences):
        rows = encoded.tokens[n]
        assert len(rows) == _token_count(sentence)
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    # Read in its passage, each sentence's vector is still nearer its own sentence read alone than the other's.
    alone = embedder.encode(sentences)
    similarity = encoded.spans @ alone.T
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]


def test_a_sentence_cut_off_by_the_token_limit_is_read_again_alone() -> None:
    embedder = load_embedder()
    filler = " ".join(f"Clause {n} sets out the duties of party {n}." for n in range(60))
    last = "The tenant pays the rent on the first day of each month."
    text = filler + " " + last
    spans = [(0, len(filler)), (len(filler) + 1, len(text))]
    [encoded] = embedder.encode_spans([text], [spans])
    assert len(encoded.tokens[1]) == _token_count(last)
    assert float(encoded.spans[1] @ embedder.encode([last])[0]) > 0.95
