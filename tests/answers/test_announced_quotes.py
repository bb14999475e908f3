"""A quote that ends by announcing what follows ("…can be run via:") takes in what it announces."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answers.pipeline import explain
from rag.answers.quotes import INTRODUCED_WORDS, introduces
from rag.search.tuning import shipped

ALWAYS_ANSWER = replace(shipped(), threshold=0.0, quote_words=0)

RUN = "The lighthouse test suite can be run via:"
COMMAND = "$ ./beacon/run-lamp-tests --all"
LIKE = "To rebuild the fog horn tables you should run the tool like\nthis"
TOOL = "hornctl rebuild --tables"
STEPS = "Ferry tickets are checked in three steps: the clerk scans the barcode. The gate then opens."
END = "The harbour master keeps the following keys:"
DOC = (
    "# Harbour Manual\n\n## Lamps\n\n"
    f"{RUN}\n\n    {COMMAND}\n\n"
    "Seagulls nest on the pier every spring and leave in autumn.\n\n"
    f"{LIKE}\n\n    {TOOL}\n\n"
    f"{STEPS}\n\n"
    f"{END}\n\n"
    "## Moorings\n\n"
    "Every mooring ring is inspected once a year by the port engineer.\n"
)


@pytest.fixture
def harbour(make_seeds, build_hash_index):
    return build_hash_index(make_seeds({"manual.md": DOC}))


def _first(index, question: str) -> str:
    result, _ = explain(index, question, params=ALWAYS_ANSWER)
    text = index.source_text("manual.md")
    for quote in result.quotes:
        assert quote.text == text[quote.citation.start : quote.citation.end]
    return result.quotes[0].text


@pytest.mark.parametrize("sentence", [RUN, LIKE, "The steps are as follows", "Specifically:  "])
def test_sentences_that_announce_what_follows(sentence: str) -> None:
    assert introduces(sentence)


@pytest.mark.parametrize("sentence", ["The suite runs nightly.", "Ratio 3:2 is common.", "It looks like this one."])
def test_sentences_that_do_not(sentence: str) -> None:
    assert not introduces(sentence)


def test_a_quote_ending_in_a_colon_takes_in_the_command_it_announces(harbour) -> None:
    assert _first(harbour, "How is the lighthouse test suite run?") == f"{RUN}\n\n    {COMMAND}"


def test_like_this_announces_too(harbour) -> None:
    assert _first(harbour, "How do I rebuild the fog horn tables?") == f"{LIKE}\n\n    {TOOL}"


def test_within_a_paragraph_the_next_sentence_is_taken(harbour) -> None:
    first = _first(harbour, "How many steps does the ferry ticket check take?")
    assert first == STEPS  # "…three steps: the clerk scans the barcode." ends in a full stop, not a colon


def test_a_colon_before_a_heading_does_not_cross_into_the_next_section(harbour) -> None:
    assert _first(harbour, "Which keys does the harbour master keep?") == END


def test_a_long_announced_block_is_cut_at_a_sentence_within_the_word_limit(make_seeds, build_hash_index) -> None:
    sentences = [f"Buoy {n} marks the channel edge near the northern breakwater." for n in range(12)]
    doc = "Buoys\n\nThe buoys are laid out as follows:\n\n" + " ".join(sentences) + "\n"
    index = build_hash_index(make_seeds({"buoys.txt": doc}))
    result, _ = explain(index, "How are the buoys laid out?", params=ALWAYS_ANSWER)
    first = result.quotes[0].text
    assert first.startswith("The buoys are laid out as follows:\n\nBuoy 0 marks")
    assert first.endswith("breakwater.")  # whole sentences only
    taken = first.split("\n\n", 1)[1]
    assert 0 < len(taken.split()) <= INTRODUCED_WORDS < len(" ".join(sentences).split())
