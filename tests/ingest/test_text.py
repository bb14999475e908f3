"""rag.ingest.text: sentence spans with exact offsets, de-hyphenation and search tokens."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rag.ingest.text import dehyphenate, sentence_spans, tokens

# Text that looks like prose: words, sentence punctuation, quotes, unicode
# letters, and every kind of whitespace including newlines and NBSP.
_word = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=12)
_sep = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", "\xa0", "\u2028", ". ", "! ", "? ", "… ", ".\" ", "’ ",
                        ".) ", ", ", " — ", ".", "?!", " U.S. ", " Dr. ", " e.g. ", "\r\n"])
prose = st.lists(st.tuples(_word, _sep), max_size=60).map(lambda parts: "".join(w + s for w, s in parts))
any_text = st.one_of(prose, st.text(max_size=300))


def _assert_spans_are_the_sentences(text: str, spans: list[tuple[int, int]], lo: int, hi: int) -> None:
    # Each slice is non-empty and already stripped of surrounding whitespace.
    for s, e in spans:
        assert lo <= s < e <= hi
        piece = text[s:e]
        assert piece == piece.strip()
    # In order and non-overlapping.
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 <= s2
    # Together they cover every non-space character of text[lo:hi], and the
    # gaps between them are whitespace only.
    covered = "".join(text[s:e] for s, e in spans)
    assert "".join(ch for ch in covered if not ch.isspace()) == "".join(
        ch for ch in text[lo:hi] if not ch.isspace()
    )
    cursor = lo
    for s, e in spans:
        assert text[cursor:s].strip() == ""
        cursor = e
    assert text[cursor:hi].strip() == ""


@settings(max_examples=300, deadline=None)
@given(any_text)
@example("")
@example("   \n\t ")
@example("One. Two! Three? Four…")
@example("Ünïcödé façade. 日本は島国です。 Done.\nNext line. Ω.")
def test_sentence_spans_are_stripped_and_cover_all_non_space_text_in_order(text: str) -> None:
    _assert_spans_are_the_sentences(text, sentence_spans(text), 0, len(text))


@settings(max_examples=200, deadline=None)
@given(any_text, st.data())
def test_sentence_spans_of_a_window_stay_inside_the_window(text: str, data: st.DataObject) -> None:
    lo = data.draw(st.integers(0, len(text)))
    hi = data.draw(st.integers(lo, len(text)))
    _assert_spans_are_the_sentences(text, sentence_spans(text, lo, hi), lo, hi)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_are_split_at_full_stops_question_and_exclamation_marks() -> None:
    text = "Tokyo watches the strait. Why? Because trade flows through it! That is all."
    assert _sentences(text) == ["Tokyo watches the strait.", "Why?", "Because trade flows through it!", "That is all."]


@pytest.mark.parametrize(
    "text",
    [
        "As Mirna Galic of the U.S. Institute of Peace writes, there are obstacles.",
        "Dr. Smith met Prof. Jones in the morning.",
        "The talks, e.g. the Vilnius summit, mattered.",
        "He moved to the U.K. Embassy last year.",
    ],
)
def test_abbreviations_and_initialisms_do_not_end_a_sentence(text: str) -> None:
    assert _sentences(text) == [text]


def test_abbreviation_inside_a_longer_text_keeps_neighbouring_sentences_whole() -> None:
    first = "As Mirna Galic, Senior Policy Analyst at the U.S. Institute of Peace writes, there are obstacles."
    second = "Dr. Smith agreed with her."
    assert _sentences(f"{first} {second}") == [first, second]


def test_sentence_offsets_are_absolute_when_a_start_is_given() -> None:
    prefix = "Ignored heading\n\n"
    body = "First sentence here. Second one follows."
    text = prefix + body + "\n\nAnother paragraph."
    spans = sentence_spans(text, len(prefix), len(prefix) + len(body))
    assert [text[s:e] for s, e in spans] == ["First sentence here.", "Second one follows."]
    assert spans[0][0] == text.index("First")


@pytest.mark.parametrize(
    ("split", "joined"),
    [("Eu-rope", "Europe"), ("con-tribute", "contribute"), ("ad-dress", "address"), ("Eu-\nrope", "Europe")],
)
def test_dehyphenate_joins_words_split_by_a_line_break_hyphen(split: str, joined: str) -> None:
    assert dehyphenate(f"disinformation in {split} matters") == f"disinformation in {joined} matters"


@pytest.mark.parametrize("compound", ["Japan-NATO", "de-escalation", "self-defence", "deep-seated", "might-is-right"])
def test_dehyphenate_keeps_real_compounds(compound: str) -> None:
    text = f"a {compound} approach"
    assert dehyphenate(text) == text


def test_dehyphenate_joins_a_word_known_only_from_the_documents() -> None:
    # "zorblat" is in no dictionary; the documents' own vocabulary makes it a word.
    assert dehyphenate("the zor-blat rule") == "the zor-blat rule"
    assert dehyphenate("the zor-blat rule", {"zorblat"}) == "the zorblat rule"


def test_tokens_of_a_split_word_contain_the_joined_word() -> None:
    assert "europe" in tokens("Russia’s use of disinformation in Eu-rope")
    assert "europe" in tokens("Europe")


def test_tokens_of_a_compound_contain_its_parts() -> None:
    toks = tokens("Japan-NATO cooperation")
    assert "nato" in toks
    assert "japan" in toks
