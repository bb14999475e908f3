"""A quoted sentence brings the sentences it depends on, so that each quote reads on its own."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from rag.answers.pipeline import explain, is_dependent
from rag.search.tuning import shipped

# Always answer, and quote only what dependence brings: these tests are about that mechanism.
ALWAYS_ANSWER = replace(shipped(), threshold=0.0, quote_words=0)


@pytest.mark.parametrize("sentence", [
    "This would further increase energy costs.",
    "These include rethinking legislation.",
    "Both contribute to a high probability of accidental conflict.",
    "It is this response that has helped Ukraine.",
    "First, the use of sea routes that bypass the Red Sea increases costs.",
    "“Second, disruptions in SLOCs may impact economies.",
    "On the top of this list is a conflict across the Taiwan Strait.",
    "As a result, Japan is worried.",
    "For example, disinformation targets Taiwan.",
    "Collectively, these are all critical arteries.",
    "Fourth, budgets shrink.",
    "Next, the ships are refuelled.",
])
def test_sentences_that_point_back_are_dependent(sentence: str) -> None:
    assert is_dependent(sentence)


@pytest.mark.parametrize("sentence", [
    "Japan has limits to the extent of its cooperation with NATO.",
    "Tokyo sees China as an important economic neighbour.",
    "Thistle grows on the hills.",  # a word that merely starts with "this"
    "Article 9 of the constitution needs to be reconsidered.",
    "Lawfare operations enable the Coast Guard to use force.",
    "Both Japan and Korea signed the agreement.",  # names both things itself
    "It is widely believed that ports will electrify.",
    "IT budgets grew.",
    "Second World War veterans gathered in Tokyo.",
    "First Lady visits the port.",
    "That the plan failed is clear.",
])
def test_sentences_that_stand_alone_are_not(sentence: str) -> None:
    assert not is_dependent(sentence)


LEAD = "Shore power cuts diesel fumes from ships at berth."
FOLLOW = "This lowers asthma rates in harbour towns."
INTRO = "The fishing law will have two effects on coastal fleets."
FIRST = "First, quotas shrink every spring."
DOC = (
    "Harbour Notes\n\n"
    f"{LEAD} {FOLLOW} Cranes are painted yellow.\n\n"
    f"{INTRO}\n\n"
    f"{FIRST} Boats then stay in port for longer stretches.\n\n"
    "Lighthouses were automated decades ago and need little upkeep.\n"
)


@pytest.fixture
def harbour(make_seeds, build_hash_index):
    return build_hash_index(make_seeds({"harbour.txt": DOC}))


def _quote_texts(index, question: str) -> list[str]:
    result, _ = explain(index, question, params=ALWAYS_ANSWER)  # this is about quoting
    source = index.source_text("harbour.txt")
    for quote in result.quotes:
        assert quote.text == source[quote.citation.start : quote.citation.end]
    return [quote.text for quote in result.quotes]


def test_a_dependent_sentence_is_quoted_with_the_sentence_it_points_back_to(harbour) -> None:
    texts = _quote_texts(harbour, "What lowers asthma rates in harbour towns?")
    assert f"{LEAD} {FOLLOW}" in texts


def test_a_sentence_is_quoted_with_the_dependent_sentence_that_follows(harbour) -> None:
    texts = _quote_texts(harbour, "Does shore power cut diesel fumes from ships at berth?")
    assert f"{LEAD} {FOLLOW}" in texts
    assert not any("Cranes" in t for t in texts[:1])  # a sentence that does not depend on it stays out


def test_a_paragraph_continued_by_the_next_one_brings_its_opening_sentence(harbour) -> None:
    result, _ = explain(harbour, "What effects will the fishing law have on coastal fleets?", params=ALWAYS_ANSWER)
    texts = [q.text for q in result.quotes]
    assert texts[0] == INTRO
    assert texts[1] == FIRST  # quoted right after, as its own quote with its own paragraph
    assert result.quotes[1].citation.paragraph == result.quotes[0].citation.paragraph + 1
    assert len(result.quotes) <= 3


def test_a_span_that_bridges_two_quotes_merges_them_all(make_seeds, build_hash_index) -> None:
    sentences = ["Ports buy cranes.", "This hires welders.", "This trains pilots.", "This funds ferries.",
                 "This paints lighthouses.", "This feeds gulls."]
    index = build_hash_index(make_seeds({"p.txt": "Harbour\n\n" + " ".join(sentences) + "\n"}))
    for question in ("lighthouses gulls trains", "welders ferries gulls", "cranes pilots lighthouses"):
        result, _ = explain(index, question, params=ALWAYS_ANSWER)
        spans = sorted((q.citation.start, q.citation.end) for q in result.quotes)
        source = index.source_text("p.txt")
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end < start and source[end:start].strip(), f"quotes overlap or touch: {spans}"


def test_a_continuation_is_not_quoted_twice_from_two_documents(make_seeds, build_hash_index) -> None:
    index = build_hash_index(make_seeds({
        "a.txt": f"Fishing Notes\n\n{INTRO}\n\n{FIRST} Boats then stay in port for longer stretches.\n",
        "b.txt": f"Quota Notes\n\n{FIRST} The fishing law has effects on coastal fleets.\n",
    }))
    for question in ("law quotas two", "What two effects does the law have on quotas?"):
        result, _ = explain(index, question, params=ALWAYS_ANSWER)
        texts = [q.text for q in result.quotes]
        assert len(texts) == len(set(texts)), texts


def test_a_quote_takes_in_following_sentences_of_its_paragraph_up_to_the_word_limit(harbour) -> None:
    question = "Does shore power cut diesel fumes from ships at berth?"
    roomy, _ = explain(harbour, question, params=replace(ALWAYS_ANSWER, quote_words=45))
    tight, _ = explain(harbour, question, params=replace(ALWAYS_ANSWER, quote_words=17))
    text = harbour.text_of("harbour.txt")
    assert f"{LEAD} {FOLLOW} Cranes are painted yellow." in [q.text for q in roomy.quotes]
    # 17 words hold the lead and its dependent sentence (15 words) but not the next one.
    assert f"{LEAD} {FOLLOW}" in [q.text for q in tight.quotes]
    for result in (roomy, tight):
        for quote in result.quotes:
            assert text[quote.citation.start : quote.citation.end] == quote.text
            assert "\n\n" not in quote.text  # never past the paragraph
