"""rag.ingest.chunk: sentence-aligned passages that are exact slices of one body paragraph."""

from __future__ import annotations

import pytest
from conftest import REPORT, REPORT_NAME
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.ingest.chunk import MAX_WORDS, chunk_document
from rag.ingest.parse import Document, parse
from rag.ingest.text import sentence_spans

_word = st.one_of(
    st.sampled_from(["ships", "Japan", "NATO", "trade", "the", "of", "U.S.", "Dr.", "e.g.", "Eu-rope",
                     "self-defence", "5.5", "(SLOCs)", "“quoted”", "per-cent", "über", "日本", "مرحبا", "👍", "—"]),
    st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=10),
)
_sentence = st.tuples(
    st.lists(_word, min_size=1, max_size=150),
    st.sampled_from([".", "!", "?", "…", ".”", "", ";"]),
).map(lambda t: (t[0][0][:1].upper() + t[0][0][1:] + " " + " ".join(t[0][1:])).strip() + t[1])
_paragraph = st.lists(_sentence, min_size=1, max_size=12).map(" ".join)
_heading = st.lists(st.sampled_from(["Sea", "Lines", "Trade", "Japan", "Outlook", "Risks"]), min_size=1,
                    max_size=5).map(" ".join)
_unit = st.one_of(_paragraph, _paragraph, _paragraph, _heading)
documents = st.tuples(
    st.lists(_unit, min_size=1, max_size=12),
    st.sampled_from(["\n\n", "\n\n\n", "\n \n", "\r\n\r\n", "\n\xa0\n"]),
).map(lambda t: t[1].join(t[0]) + "\n")


def _n_words(text: str) -> int:
    return len(text.split())


def _check_exact_and_inside_one_body_block(doc: Document) -> None:
    chunks = chunk_document(doc)
    body = doc.body
    ids = [c.passage.id for c in chunks]
    assert len(ids) == len(set(ids))
    for chunk in chunks:
        p, cite = chunk.passage, chunk.passage.citation
        assert p.text == doc.text[cite.start : cite.end]
        assert cite.source == doc.source
        owners = [b for b in body if b.start <= cite.start and cite.end <= b.end]
        assert len(owners) == 1, "a passage must lie inside exactly one body block"
        block = owners[0]
        assert cite.paragraph == block.paragraph
        assert cite.section == block.section
        # Sentences listed for the passage are exact, in order, and inside it.
        assert chunk.sentences[0][0] == cite.start and chunk.sentences[-1][1] == cite.end
        for s, e in chunk.sentences:
            assert cite.start <= s < e <= cite.end
    # Nothing of a body paragraph is lost: its passages cover all its non-space text, in order.
    for block in body:
        mine = [c.passage for c in chunks if c.passage.citation.paragraph == block.paragraph]
        assert mine, "every body paragraph yields at least one passage"
        starts = [p.citation.start for p in mine]
        assert starts == sorted(starts)
        joined = "".join(p.text for p in mine)
        assert "".join(joined.split()) == "".join(doc.text[block.start : block.end].split())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents)
def test_passages_are_exact_slices_inside_one_body_paragraph(text: str) -> None:
    _check_exact_and_inside_one_body_block(parse(text, "gen.txt"))


def _check_word_limit(doc: Document) -> None:
    for chunk in chunk_document(doc):
        cite = chunk.passage.citation
        if _n_words(chunk.passage.text) > MAX_WORDS:
            # Allowed only when the passage is a single (long) sentence.
            assert len(sentence_spans(doc.text, cite.start, cite.end)) == 1, (
                f"{_n_words(chunk.passage.text)}-word passage of {len(chunk.sentences)} sentences"
            )


def _equal_sentences(n_sentences: int, words_each: int) -> str:
    sentence = "Alpha " + " ".join(["word"] * (words_each - 1)) + "."
    return "Title\n\n" + " ".join([sentence] * n_sentences) + "\n"


def test_short_paragraph_is_one_passage() -> None:
    text = "Title\n\nShips sail. Ports wait. Trade flows.\n"
    chunks = chunk_document(parse(text, "a.txt"))
    assert [c.passage.text for c in chunks] == ["Ships sail. Ports wait. Trade flows."]


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    text = _equal_sentences(12, 30)  # 360 words in twelve 30-word sentences
    doc = parse(text, "a.txt")
    chunks = chunk_document(doc)
    assert len(chunks) >= 3
    sentences = {text[s:e] for s, e in sentence_spans(text, doc.body[0].start, doc.body[0].end)}
    for c in chunks:
        assert _n_words(c.passage.text) <= MAX_WORDS
        assert all(text[s:e] in sentences for s, e in c.sentences)
    assert [c.passage.id for c in chunks] == [f"a.txt#1.{n}" for n in range(1, len(chunks) + 1)]


def test_single_sentence_longer_than_the_limit_is_kept_whole() -> None:
    text = _equal_sentences(1, 300)
    chunks = chunk_document(parse(text, "a.txt"))
    assert len(chunks) == 1
    assert _n_words(chunks[0].passage.text) == 300


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents)
@example(_equal_sentences(49, 20))
@example(_equal_sentences(6, 100))
def test_passages_are_at_most_max_words_unless_a_single_sentence(text: str) -> None:
    _check_word_limit(parse(text, "gen.txt"))


def test_paragraph_of_twelve_even_sentences_is_split_evenly() -> None:
    # 12 x 30 = 360 words -> 3 parts of 120 words.
    chunks = chunk_document(parse(_equal_sentences(12, 30), "a.txt"))
    assert [_n_words(c.passage.text) for c in chunks] == [120, 120, 120]


# --- the real report ----------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> Document:
    return parse(REPORT.read_bytes().decode("utf-8"), REPORT_NAME)


def test_report_every_passage_is_the_exact_source_slice(report: Document) -> None:
    source = REPORT.read_bytes().decode("utf-8")
    chunks = chunk_document(report)
    assert len(chunks) >= len(report.body)
    for c in chunks:
        assert c.passage.text == source[c.passage.citation.start : c.passage.citation.end]


def test_report_passages_lie_inside_one_body_paragraph(report: Document) -> None:
    _check_exact_and_inside_one_body_block(report)


def test_report_passages_respect_the_word_limit(report: Document) -> None:
    _check_word_limit(report)


def test_report_search_text_is_dehyphenated_but_passage_text_is_verbatim(report: Document) -> None:
    vocab = {"europe"}
    chunk = next(c for c in chunk_document(report, vocabulary=vocab) if "Eu-rope" in c.passage.text)
    assert "Eu-rope" in chunk.passage.text
    assert "Europe" in chunk.search_text
    assert chunk.search_text.startswith("Cybersecurity and Disinformation: ")
