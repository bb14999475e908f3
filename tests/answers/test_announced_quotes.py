"""A quote that ends by announcing what follows ("…can be run via:") takes in what it announces."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from rag.answers import quotes
from rag.answers.pipeline import explain
from rag.answers.quotes import INTRODUCED_WORDS, _introduced, introduces
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


def _spans(text: str, sentences: list[str]) -> list[tuple[int, int]]:
    out, at = [], 0
    for sentence in sentences:
        start = text.index(sentence, at)
        out.append((start, start + len(sentence)))
        at = start + len(sentence)
    return out


def test_within_its_paragraph_a_colon_takes_the_sentences_that_follow_up_to_the_limit() -> None:
    lead = "The rules are these:"
    rules = [f"Rule {n} forbids feeding the harbour gulls on weekdays." for n in range(10)]  # 9 words each
    text = " ".join([lead, *rules])
    spans = _spans(text, [lead, *rules])
    end = _introduced(None, None, text, spans, 0, 0)  # type: ignore[arg-type]  # the paragraph's own sentences only
    taken = rules[: INTRODUCED_WORDS // 9]
    assert 0 < len(taken) < len(rules)
    assert text[: end] == " ".join([lead, *taken])


def test_a_long_block_is_taken_up_to_the_last_line_within_the_limit(make_seeds, build_hash_index) -> None:
    config = "\n".join(f"    lamp_{n} = on  # keeps beacon {n} lit at night" for n in range(40))  # 11 words a line
    doc = f"Beacons\n\nThe beacon configuration file looks like this:\n\n{config}\n\nGulls nest on the pier.\n"
    index = build_hash_index(make_seeds({"beacons.txt": doc}))
    result, _ = explain(index, "What does the beacon configuration file look like?", params=ALWAYS_ANSWER)
    first = result.quotes[0]
    assert first.text.startswith("The beacon configuration file looks like this:\n\n    lamp_0 = on")
    taken = first.text.split("\n\n", 1)[1]
    assert taken.endswith("at night")  # a whole line
    assert 0 < len(taken.split()) <= INTRODUCED_WORDS
    assert first.text == index.source_text("beacons.txt")[first.citation.start : first.citation.end]


def test_a_quote_that_runs_into_the_next_paragraph_absorbs_a_quote_of_that_paragraph(
        make_seeds, build_hash_index, monkeypatch) -> None:
    monkeypatch.setattr(quotes, "QUOTE_MARGIN", 100.0)  # quote every candidate sentence, up to three
    doc = ("Zeppelins\n\nGulls like the hangar roof. Inspectors test the zeppelin each spring via:\n\n"
           "Check the helium valves carefully.\n\nGulls nest on the hangar roof.\n")
    index = build_hash_index(make_seeds({"z.txt": doc}))
    for question in ("How do inspectors test the zeppelin helium valves?", "helium valves inspectors"):
        result, _ = explain(index, question, params=ALWAYS_ANSWER)
        assert sum("Check the helium valves carefully." in q.text for q in result.quotes) == 1
        spans = sorted((q.citation.start, q.citation.end) for q in result.quotes)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end < start, f"two quotes overlap: {spans}"
