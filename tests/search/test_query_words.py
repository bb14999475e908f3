"""Which words of a question late interaction matches on."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed.model import HashEmbedder, is_content_word
from rag.stores.signals import maxsim


@pytest.mark.parametrize("word, first", [("US", False), ("WHO", False), ("May", False), ("not", False),
                                         ("Taiwan", True), ("shipping", False)])
def test_words_that_carry_meaning_are_kept(word, first):
    assert is_content_word(word, first=first)


@pytest.mark.parametrize("word, first", [("the", False), ("What", True), ("does", False), ("?", False),
                                         ("may", False), ("us", False)])
def test_stopwords_question_words_and_punctuation_are_left_out(word, first):
    assert not is_content_word(word, first=first)


def test_hash_embedder_keeps_acronyms_and_negations_of_a_question():
    embedder = HashEmbedder()
    # "What", "role", "does", "the" are left out; "US", "not", "play" stay.
    assert len(embedder.encode_query("What role does the US not play?").tokens) == 3


def test_maxsim_of_a_question_without_tokens_is_zero_not_nan():
    scores = maxsim(np.zeros((0, 4)), np.eye(4), np.array([0, 2]), np.array([2, 4]))
    assert scores.tolist() == [0.0, 0.0]
