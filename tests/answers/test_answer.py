"""Answers with the real model: verbatim quotes cut from the source, or an honest abstention."""

from __future__ import annotations

import pytest
from conftest import REPORT, REPORT_NAME

import rag
from rag.ingest.text import sentence_spans

pytestmark = pytest.mark.model

QUESTIONS = [
    "How much did shipping costs increase when ships avoided the Red Sea?",
    "Why does Taiwan matter to Japan?",
    "What is Article 9 of the Japanese Constitution?",
    "When did Russia invade Ukraine?",
    "What does NATO prioritise among emerging and disruptive technologies?",
    "What disinformation campaign targets Okinawa?",
    "What is the Individually Tailored Partnership Programme?",
    "Who wrote the report?",
    "How do I reverse a list in Python?",
]

OFF_TOPIC = "How do I reverse a list in Python?"
ANSWERABLE = "How much did shipping costs increase when ships avoided the Red Sea?"


def _source() -> str:
    return REPORT.read_bytes().decode("utf-8")


def _check_answer(index: rag.Index, result: rag.Answer) -> None:
    """Invariants every Answer must satisfy, whatever the question."""
    source = _source()
    assert isinstance(result, rag.Answer)
    assert len(result.quotes) <= 3
    for quote in result.quotes:
        c = quote.citation
        assert quote.text == index.source_text(c.source)[c.start : c.end]
        assert quote.text == source[c.start : c.end]  # and equal to the file on disk
        # A quote lies inside one body paragraph, with that paragraph's section and number.
        owners = [p.citation for p in index.passages
                  if (p.citation.source, p.citation.paragraph) == (c.source, c.paragraph)]
        assert owners
        assert {o.section for o in owners} == {c.section}
        lo, hi = min(o.start for o in owners), max(o.end for o in owners)
        assert lo <= c.start < c.end <= hi
        # It is whole sentences: it starts and ends on sentence boundaries of its paragraph.
        spans = sentence_spans(source, lo, hi)
        assert c.start in {s for s, _ in spans}
        assert c.end in {e for _, e in spans}
    for p in result.passages:
        assert p.text == index.source_text(p.citation.source)[p.citation.start : p.citation.end]
    if result.abstained:
        assert result.quotes == []
        assert result.message
        assert "[1]" not in result.text
    else:
        assert result.quotes
        assert "[1]" in result.text
        assert result.quotes[0].citation.label() in result.text
        for n, quote in enumerate(result.quotes, start=1):
            assert f"[{n}] {quote.citation.label()}" in result.text


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_quote_is_the_exact_source_slice(real_index, question: str) -> None:
    _check_answer(real_index, real_index.answer(question))


def test_off_topic_question_abstains_with_a_plain_message(real_index) -> None:
    result = real_index.answer(OFF_TOPIC)
    assert result.abstained
    assert result.quotes == []
    assert result.message == "The documents do not answer this question."
    assert result.text.startswith(result.message)


@pytest.mark.parametrize("question", ["What is the capital of France?", "What is the recipe for a chocolate cake?"])
def test_other_unrelated_questions_abstain(real_index, question: str) -> None:
    assert real_index.answer(question).abstained


def test_answerable_question_is_answered_with_the_cost_figure(real_index) -> None:
    result = real_index.answer(ANSWERABLE)
    assert not result.abstained
    assert any("175 to 200 per cent" in q.text for q in result.quotes)
    assert result.quotes[0].citation.source == REPORT_NAME
    _check_answer(real_index, result)


def test_rendered_answer_numbers_quotes_and_lists_citation_labels(real_index) -> None:
    result = real_index.answer(ANSWERABLE)
    assert "[1]" in result.text
    assert result.quotes[0].citation.label() in result.text
    # The label names the file and the paragraph number.
    label = result.quotes[0].citation.label()
    assert label.startswith(REPORT_NAME)
    assert f"¶{result.quotes[0].citation.paragraph}" in label


def test_same_question_gives_the_same_answer(real_index) -> None:
    assert real_index.answer(ANSWERABLE, k=5) == real_index.answer(ANSWERABLE, k=5)


def test_hundred_kilobyte_question_is_truncated_and_says_so(real_index) -> None:
    question = ("Why does Taiwan matter to Japan? " * 4000)[:100_000]
    assert len(question) == 100_000
    result = real_index.answer(question)
    assert result.truncated is True
    assert "shortened" in result.message
    assert len(result.question) < len(question)
    _check_answer(real_index, result)


def test_question_over_the_model_token_limit_is_flagged_truncated(real_index) -> None:
    # Under the character cap but far over the model's 256 tokens.
    question = "NATO Japan " * 150
    assert len(question) < 2_000
    from tokenizers import Tokenizer

    from rag.embed.model import packaged_model_path

    tokenizer = Tokenizer.from_file(str(packaged_model_path() / "tokenizer.json"))  # the model's own, uncut
    tokenizer.no_truncation()
    assert len(tokenizer.encode(question).ids) > real_index.embedder.max_tokens == 256
    result = real_index.answer(question)
    assert result.truncated is True
    assert "shortened" in result.message


@pytest.mark.parametrize(
    "question",
    [
        "\x00\x07 Taiwan \x1b[31m strait\x7f",
        "\x00\x01\x02",
        "<script>alert('x')</script> What about NATO?",
        "<img src=x onerror=alert(1)>",
        "日本と北大西洋条約機構の関係は？",
        "ما هي علاقة اليابان بحلف الناتو؟",
        "🤔🚢🇯🇵",
        "\u200b\u200b",
        "\ud800 lone surrogate",
        "Taiwan\u202eNATO",
        "' OR 1=1; DROP TABLE passages; --",
    ],
)
def test_hostile_or_foreign_input_gives_input_error_or_an_ordinary_answer(real_index, question: str) -> None:
    try:
        result = real_index.answer(question)
    except rag.InputError as err:
        assert str(err)
        return
    _check_answer(real_index, result)


def test_blank_question_raises_input_error(real_index) -> None:
    with pytest.raises(rag.InputError):
        real_index.answer("   ")


def test_sources_filter_limits_quotes(real_index) -> None:
    with pytest.raises(rag.InputError):
        real_index.answer(ANSWERABLE, sources=["other.txt"])
    result = real_index.answer(ANSWERABLE, sources=[REPORT_NAME])
    assert all(q.citation.source == REPORT_NAME for q in result.quotes)
