"""rag.retrieve: FAISS and the fused ranking checked against NumPy oracles; filters; input checks."""

from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPORT_NAME, SMALL_CORPUS

import rag
from rag.embed.model import HashEmbedder
from rag.search.ranking import LEXICAL_SHARE, RRF_K, SENTENCE_SHARE, fuse
from rag.storage.dense import FLAT_LIMIT, faiss_index_for
from rag.stores.signals import maxsim

# --- FAISS against brute force ---------------------------------------------------


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _assert_same_ranking(ids: np.ndarray, scores: np.ndarray, vectors: np.ndarray, q: np.ndarray) -> None:
    exact = vectors.astype(np.float64) @ q.astype(np.float64)
    expected = np.argsort(-exact, kind="stable")[: len(ids)]
    # Returned scores are the true inner products, best first.
    assert np.allclose(scores, exact[ids], atol=1e-5)
    assert np.all(np.diff(scores) <= 1e-6)
    # Same ids in the same order; a swap is tolerated only between exact ties.
    for got, want in zip(ids, expected, strict=True):
        assert got == want or abs(exact[got] - exact[want]) < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flat_faiss_ranking_equals_numpy_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = _unit_rows(rng, 2000, 48)
    index, kind = faiss_index_for(vectors)
    assert kind == "Flat"
    assert len(vectors) <= FLAT_LIMIT
    queries = _unit_rows(rng, 10, 48)
    scores, ids = index.search(queries, 25)
    for row, q in enumerate(queries):
        _assert_same_ranking(ids[row], scores[row], vectors, q)


def test_flat_faiss_returns_every_vector_when_asked_for_all() -> None:
    rng = np.random.default_rng(7)
    vectors = _unit_rows(rng, 57, 16)
    index, _ = faiss_index_for(vectors)
    q = _unit_rows(rng, 1, 16)
    scores, ids = index.search(q, 57)
    assert sorted(ids[0].tolist()) == list(range(57))
    _assert_same_ranking(ids[0], scores[0], vectors, q[0])


def test_corpus_above_the_flat_limit_uses_hnsw_with_high_recall_against_brute_force(monkeypatch) -> None:
    # Lower the limit rather than build a huge index: the branch is the same.
    monkeypatch.setattr(sys.modules["rag.storage.dense"], "FLAT_LIMIT", 3_000)
    rng = np.random.default_rng(3)
    vectors = _unit_rows(rng, 3_001, 16)
    index, kind = faiss_index_for(vectors)
    assert kind.startswith("HNSW")
    queries = _unit_rows(rng, 50, 16)
    _, ids = index.search(queries, 10)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(ids[i]) & set(truth[i])) / 10 for i in range(len(queries))])
    assert recall >= 0.9


# --- fused scores against hand computation --------------------------------------


def test_fuse_dense_is_the_dense_score() -> None:
    dense = np.array([0.2, 0.9, 0.5])
    assert fuse(dense, np.array([3.0, 0.0, 1.0]), np.zeros(3), "dense").tolist() == pytest.approx([0.2, 0.9, 0.5])


def test_fuse_rrf_adds_reciprocal_ranks() -> None:
    dense = np.array([0.9, 0.1, 0.5])  # dense ranks 1, 3, 2
    lexical = np.array([0.0, 4.0, 2.0])  # lexical ranks -, 1, 2
    expected = [1 / (RRF_K + 1), 1 / (RRF_K + 3) + 1 / (RRF_K + 1), 1 / (RRF_K + 2) + 1 / (RRF_K + 2)]
    assert fuse(dense, lexical, np.zeros(3), "rrf").tolist() == pytest.approx(expected)


def test_fuse_blend_weights_max_normalised_bm25() -> None:
    dense = np.array([0.5, 0.3])
    lexical = np.array([2.0, 4.0])
    share = LEXICAL_SHARE
    expected = [(1 - share) * 0.5 + share * 0.5, (1 - share) * 0.3 + share * 1.0]
    assert fuse(dense, lexical, np.zeros(2), "blend").tolist() == pytest.approx(expected)


def test_fuse_bm25_excludes_passages_without_a_lexical_match() -> None:
    out = fuse(np.array([0.9, 0.1]), np.array([0.0, 1.5]), np.zeros(2), "bm25")
    assert out[0] == -np.inf and out[1] == pytest.approx(1.5)


def test_fuse_late_is_the_late_interaction_score() -> None:
    late = np.array([0.4, 0.8, 0.6])
    assert fuse(np.array([0.9, 0.1, 0.5]), np.array([5.0, 0.0, 1.0]), late, "late").tolist() == pytest.approx(
        [0.4, 0.8, 0.6])


def test_maxsim_equals_a_hand_computed_late_interaction() -> None:
    rng = np.random.default_rng(7)
    query = rng.standard_normal((3, 8))
    rows = rng.standard_normal((7, 8))
    spans = [(0, 2), (2, 7)]
    got = maxsim(query, rows, np.array([s for s, _ in spans]), np.array([e for _, e in spans]))
    for n, (start, end) in enumerate(spans):
        # For each question token, its best dot product with any row of the span; then the mean.
        expected = np.mean([max(float(q @ r) for r in rows[start:end]) for q in query])
        assert got[n] == pytest.approx(expected)


def test_fuse_unknown_fusion_raises() -> None:
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse(np.array([0.1]), np.array([0.1]), np.array([0.1]), "magic")


# --- dense ranking of a whole index against NumPy --------------------------------

_VOCAB = [f"w{n:03d}" for n in range(150)]


def _random_corpus(seed: int) -> dict[str, str]:
    rnd = random.Random(seed)
    files = {}
    for f in range(3):
        paragraphs = []
        for _ in range(8):
            sentences = [
                "Alpha " + " ".join(rnd.choice(_VOCAB) for _ in range(rnd.randint(6, 14))) + "."
                for _ in range(rnd.randint(2, 4))
            ]
            paragraphs.append(" ".join(sentences))
        files[f"doc{f}.txt"] = f"Document {f}\n\n" + "\n\n".join(paragraphs) + "\n"
    return files


def _oracle_dense(index: rag.Index, question: str) -> dict[str, float]:
    """SENTENCE_SHARE * best sentence cosine + (1 - SENTENCE_SHARE) * passage cosine, from scratch."""
    emb = HashEmbedder()
    q = emb.encode([question])[0].astype(np.float64)
    out = {}
    for p in index.passages:
        # Passages are embedded under their document's label: its title ("Document 3", see _random_corpus)
        # and, since the title lacks the file name's word "doc3", that name in brackets.
        number = p.citation.source[3:-4]
        prefix = f"Document {number} (doc{number}): " + (f"{p.citation.section}: " if p.citation.section else "")
        passage_vec = emb.encode([prefix + " ".join(p.text.split())])[0]
        sentences = re.split(r"(?<=\.)\s+", p.text)
        sentence_vecs = emb.encode(sentences)
        out[p.id] = SENTENCE_SHARE * float(np.max(sentence_vecs @ q)) + (1 - SENTENCE_SHARE) * float(passage_vec @ q)
    return out


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_dense_fusion_ranking_equals_numpy_computation(make_seeds, build_hash_index, seed: int) -> None:
    index = build_hash_index(make_seeds(_random_corpus(seed)))
    n = len(index.passages)
    assert 10 < n <= 50  # every passage is a candidate, so the ranking is over all of them
    rnd = random.Random(seed)
    for _ in range(5):
        question = " ".join(rnd.choice(_VOCAB) for _ in range(4))
        oracle = _oracle_dense(index, question)
        got = index.retrieve(question, k=n, fusion="dense")
        assert sorted(p.id for p in got) == sorted(oracle)
        for p in got:
            assert p.score == pytest.approx(oracle[p.id], abs=2e-6)
        values = [oracle[p.id] for p in got]
        assert all(a >= b - 1e-6 for a, b in itertools.pairwise(values))
        k = 5
        top = index.retrieve(question, k=k, fusion="dense")
        cutoff = sorted(oracle.values(), reverse=True)[k - 1]
        assert all(oracle[p.id] >= cutoff - 1e-6 for p in top)


# --- duplicates, filters, ordering -------------------------------------------------

SHARED = ("Lighthouse keepers logged every passing steamer in a leather book. The entries record weather, cargo "
          "and the names of the captains.")


def test_near_duplicate_passages_are_returned_once(make_seeds, build_hash_index) -> None:
    seeds = make_seeds({
        **SMALL_CORPUS,
        "log1.txt": f"Coast Log\n\n{SHARED}\n",
        "log2.txt": f"Harbour Log\n\n{SHARED}\n\nA different paragraph about gardening and tomatoes follows.\n",
    })
    index = build_hash_index(seeds)
    assert sum(p.text == SHARED for p in index.passages) == 2  # both copies are indexed
    for fusion in ("blend", "rrf", "dense", "bm25"):
        got = index.retrieve("lighthouse keepers logged steamers", k=5, fusion=fusion)
        assert sum(p.text == SHARED for p in got) == 1, fusion


def test_sources_filter_returns_only_those_documents(hash_index) -> None:
    got = hash_index.retrieve("electric ships shore power", k=5, sources=["bees.txt"])
    assert got
    assert {p.citation.source for p in got} == {"bees.txt"}
    both = hash_index.retrieve("electric ships shore power", k=10, sources=["bees.txt", "chess.txt"])
    assert {p.citation.source for p in both} <= {"bees.txt", "chess.txt"}


def test_sources_filter_with_an_unknown_document_raises_input_error(hash_index) -> None:
    with pytest.raises(rag.InputError, match=r"nope\.txt"):
        hash_index.retrieve("ships", sources=["nope.txt"])


def test_retrieve_returns_at_most_k_scored_passages_best_first(hash_index) -> None:
    for k in (1, 2, 3, 50):
        got = hash_index.retrieve("ships harbour power", k=k)
        assert 0 < len(got) <= k
        scores = [p.score for p in got]
        assert all(s is not None for s in scores)
        assert scores == sorted(scores, reverse=True)


def test_retrieved_passages_are_exact_source_slices(hash_index, tmp_path) -> None:
    seeds = tmp_path / "seeds"
    for p in hash_index.retrieve("bees pawn ships", k=10):
        text = (seeds / p.citation.source).read_bytes().decode("utf-8")
        assert text[p.citation.start : p.citation.end] == p.text


@pytest.mark.parametrize(
    ("question", "k"),
    [("", 5), ("   \n\t ", 5), ("\x00\x01", 5), ("ships", 0), ("ships", -1), ("ships", "3"), ("ships", 2.5),
     ("ships", True), (None, 5), (42, 5), (b"ships", 5), (["ships"], 5)],
)
def test_bad_question_or_k_raises_input_error(hash_index, question, k) -> None:
    with pytest.raises(rag.InputError) as info:
        hash_index.retrieve(question, k=k)
    assert isinstance(info.value, ValueError)
    assert str(info.value)


def test_module_level_retrieve_validates_before_touching_any_index(monkeypatch, tmp_path) -> None:
    # No index or seeds here: a bad question must fail on the question, not on the index.
    monkeypatch.setenv("RAG_SEEDS", str(tmp_path / "none"))
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "none-index"))
    with pytest.raises(rag.InputError):
        rag.retrieve("   ")
    with pytest.raises(rag.InputError):
        rag.retrieve("ships", k=0)


@pytest.fixture
def default_hash_index(make_seeds, build_hash_index, tmp_path, monkeypatch) -> rag.Index:
    """A fake-embedder index set up as the default index through $RAG_SEEDS / $RAG_INDEX."""
    seeds = make_seeds(SMALL_CORPUS)
    index = build_hash_index(seeds, tmp_path / "default-index")
    monkeypatch.setenv("RAG_SEEDS", str(seeds))
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "default-index"))
    return index


def test_package_retrieve_uses_the_default_index(default_hash_index) -> None:
    question = "electric ships shore power"
    expected = default_hash_index.retrieve(question, k=3)
    assert rag.retrieve(question, k=3) == expected
    assert rag.retrieve(question, k=3) == expected  # and again


def test_package_answer_can_be_called_twice_in_a_fresh_process(default_hash_index) -> None:
    # A fresh interpreter, as a user's script: answer two questions in a row.
    script = (
        "import rag\n"
        "first = rag.answer('What do honey bees visit?')\n"
        "second = rag.answer('What do honey bees visit?')\n"
        "assert first == second\n"
        "assert rag.retrieve('What do honey bees visit?', 1) == rag.retrieve('What do honey bees visit?', 1)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=os.environ.copy())
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0
    assert result.stdout.strip() == "ok"


# --- the real model -------------------------------------------------------------------


@pytest.mark.model
def test_real_index_finds_the_paragraph_with_the_split_word_europe(real_index) -> None:
    got = real_index.retrieve("Europe disinformation elections", k=5)
    assert any("Eu-rope" in p.text for p in got)


@pytest.mark.model
def test_real_index_results_are_best_first_with_scores_and_exact(real_index) -> None:
    source = real_index.source_text(REPORT_NAME)
    for question in ("Why does Taiwan matter to Japan?", "What did shipping companies do about the Red Sea?"):
        got = real_index.retrieve(question, k=5)
        assert len(got) == 5
        scores = [p.score for p in got]
        assert all(isinstance(s, float) for s in scores)
        assert scores == sorted(scores, reverse=True)
        for p in got:
            assert source[p.citation.start : p.citation.end] == p.text


@pytest.mark.model
def test_real_index_red_sea_question_retrieves_the_shipping_cost_paragraph(real_index) -> None:
    got = real_index.retrieve("How much did shipping costs increase when ships avoided the Red Sea?", k=5)
    assert any("175 to 200 per cent" in p.text for p in got)
