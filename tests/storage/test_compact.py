"""Compact token vectors, linear-time top-k and the zero-copy view of FAISS's vectors, each against an oracle."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed.model import HashEmbedder
from rag.embed.passes import split_tokens
from rag.storage.dense import faiss_index_for, flat_vectors
from rag.storage.quantize import TokenMatrix, quantize, stack
from rag.stores.signals import maxsim, top_k


def _unit_rows(rng: np.random.Generator, n: int, d: int = 64) -> np.ndarray:
    rows = rng.standard_normal((n, d)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _spans(rng: np.random.Generator, n_rows: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    starts = rng.integers(0, n_rows, n)
    ends = np.minimum(starts + rng.integers(0, 12, n), n_rows)  # some spans empty
    return starts, ends


def _oracle_maxima(query: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    out = np.zeros((len(starts), len(query)))
    for n, (s, e) in enumerate(zip(starts, ends, strict=True)):
        if e > s:
            out[n] = (query @ rows[s:e].T).max(axis=1)
    return out


def test_quantised_rows_stay_within_half_a_step_of_the_original() -> None:
    rows = _unit_rows(np.random.default_rng(0), 500, 384)
    values, scales = quantize(rows)
    assert values.dtype == np.int8 and scales.dtype == np.float32
    error = np.abs(values * scales[:, None] - rows)
    assert np.all(error <= scales[:, None] / 2 + 1e-7)
    assert np.all(np.abs(values).max(axis=1) == 127)  # every row uses the full range


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_span_maxima_of_exact_rows_equal_a_loop_over_spans(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, query = _unit_rows(rng, 300), _unit_rows(rng, 5)
    starts, ends = _spans(rng, 300, 40)
    got = TokenMatrix.exact(rows).span_maxima(query, starts, ends)
    np.testing.assert_allclose(got, _oracle_maxima(query, rows, starts, ends), atol=1e-6)


@pytest.mark.parametrize("seed", [4, 5])
def test_int8_late_interaction_is_within_a_hundredth_of_float32(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, query = _unit_rows(rng, 400, 384), _unit_rows(rng, 6, 384)
    starts, ends = _spans(rng, 400, 60)
    compact = stack([rows[:150], rows[150:151], rows[151:]], 384, group=100)
    assert compact.values.dtype == np.int8 and compact.shape == rows.shape
    exact = maxsim(query, rows, starts, ends)
    assert np.max(np.abs(maxsim(query, compact, starts, ends) - exact)) < 0.01
    np.testing.assert_allclose(compact.rows(10, 20), rows[10:20], atol=0.01)


def test_late_interaction_of_an_empty_span_or_question_is_zero() -> None:
    rows = np.eye(4, dtype=np.float32)
    assert maxsim(rows[:2], rows, np.array([1, 3]), np.array([1, 2])).tolist() == [0.0, 0.0]
    assert maxsim(np.zeros((0, 4)), rows, np.array([0]), np.array([4])).tolist() == [0.0]


@pytest.mark.parametrize("k", [0, 1, 5, 17, 50, 200])
def test_top_k_equals_the_head_of_a_stable_descending_sort(k: int) -> None:
    rng = np.random.default_rng(k)
    for _ in range(20):
        scores = rng.integers(0, 6, 120).astype(np.float32)  # many ties, at the cut-off too
        np.testing.assert_array_equal(top_k(scores, k), np.argsort(-scores, kind="stable")[:k])


@pytest.mark.parametrize("n", [40, 60_000])
def test_flat_vectors_are_faiss_own_vectors_without_a_copy(n: int) -> None:
    vectors = _unit_rows(np.random.default_rng(n), n, 16)
    index, _ = faiss_index_for(vectors)
    view = flat_vectors(index)
    np.testing.assert_array_equal(view, vectors)
    assert not view.flags.owndata and not view.flags.writeable


def test_tokens_are_split_by_the_characters_they_cover() -> None:
    rows = np.arange(7, dtype=np.float32)[:, None]
    # [CLS] "Doc" ":" "one" "two" "." [SEP] over the text "Doc: one two."
    offsets = np.array([[0, 0], [0, 3], [3, 4], [5, 8], [9, 12], [12, 13], [0, 0]])
    parts = split_tokens(rows, offsets, [(5, 8), (9, 13)])
    assert [p[:, 0].tolist() for p in parts] == [[3.0], [4.0, 5.0]]


def test_hash_embedder_reads_each_span_as_its_own_text() -> None:
    embedder = HashEmbedder()
    text = "Label: alpha beta. gamma delta."
    [encoded] = embedder.encode_spans([text], [[(7, 18), (19, 31)]])
    np.testing.assert_array_equal(encoded.vector, embedder.encode([text])[0])
    np.testing.assert_array_equal(encoded.spans, embedder.encode(["alpha beta.", "gamma delta."]))
    assert [len(t) for t in encoded.tokens] == [2, 2]


def test_reading_passages_in_slices_gives_the_same_vectors_as_all_at_once() -> None:
    from rag.build.vectors import embed_chunks
    from rag.ingest.chunk import chunk_document
    from rag.ingest.parse import parse

    text = "Notes\n\n" + "\n\n".join(f"Paragraph {n} is about topic {n}. It has a second sentence {n}." for n in range(9))
    doc = parse(text, "notes.txt")
    chunks = chunk_document(doc)
    args = {"texts": {"notes.txt": text}, "labels": {"notes.txt": "Notes"}, "vocabularies": {"notes.txt": set()}}
    whole = embed_chunks(HashEmbedder(), chunks, **args)
    sliced = embed_chunks(HashEmbedder(), chunks, slice_size=2, **args)
    assert len(chunks) == 9 and whole.contexts == sliced.contexts == 1
    for a, b in [(whole.passages, sliced.passages), (whole.sentences, sliced.sentences),
                 (whole.tokens.values, sliced.tokens.values), (whole.tokens.scales, sliced.tokens.scales),
                 (whole.token_offsets, sliced.token_offsets)]:
        np.testing.assert_array_equal(a, b)
    assert whole.token_offsets[-1] == len(whole.tokens) and len(whole.token_offsets) == len(whole.sentences) + 2



def test_the_byte_ranges_advised_cover_exactly_the_pages_of_the_rows_asked_for() -> None:
    from rag.storage.rowfile import advised_ranges

    page, size, here = 4096, 1536, 128
    ranges = advised_ranges(here, size, [0, 5, 9], [2, 5, 40], page)
    assert len(ranges) == 2  # an empty range asks for nothing
    for (first, length), (s, e) in zip(ranges, [(0, 2), (9, 40)], strict=True):
        assert first % page == 0 and first <= here + s * size < first + page
        assert first + length == here + e * size  # up to the last byte of the last row, no further


def test_rows_of_a_mapped_file_or_of_a_view_of_it_are_advised_at_their_place_in_the_mapping(tmp_path) -> None:
    from rag.storage.rowfile import mapped_position, will_need

    np.save(tmp_path / "rows.npy", np.arange(3_000 * 48, dtype=np.float32).reshape(3_000, 48))
    mapped = np.load(tmp_path / "rows.npy", mmap_mode="r")
    view = mapped[1_000:]
    assert mapped_position(mapped) == mapped.offset  # just after the .npy header
    assert mapped_position(view) == mapped.offset + 1_000 * mapped.strides[0]
    assert mapped_position(np.zeros((3, 4))) is None
    will_need(view, np.array([0, 1_990]), np.array([10, 2_000]))  # the kernel refuses a range off the mapping
    np.testing.assert_array_equal(view[1_990:2_000], np.load(tmp_path / "rows.npy")[2_990:3_000])
