"""rag.storage.bm25 against bm25s as the oracle: equal scores, re-use equal to a build from scratch, damage refused."""

from __future__ import annotations

import itertools
import json
import mmap
from pathlib import Path

import bm25s
import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet

import rag
import rag.storage.bm25 as lexical
import rag.storage.index_folder as store
from rag.embed.model import HashEmbedder
from rag.errors import IndexStateError
from rag.ingest.text import tokens
from rag.storage.bm25 import EMPTY, LexicalWriter

GOLD = Path(__file__).resolve().parent.parent / "gold"


def _passages() -> list[str]:
    """Every paragraph of the development documents, plus an empty passage and one of stopwords only."""
    out = []
    for path in sorted((GOLD / "docs").iterdir()):
        out += [" ".join(p.split()) for p in path.read_text("utf-8").split("\n\n") if p.strip()]
    return [*out[:400], "", "the and of to it", *out[400:]]


def _questions() -> list[str]:
    asked = [json.loads(line)["question"] for path in sorted(GOLD.glob("*.jsonl"))
             for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [*asked[::3], "zyxwvut quuxplugh", "the of and", "", "ship ship ship vessel zyxwvut",
            "posix POSIX Posix mode"]


def _oracle(texts: list[str]) -> bm25s.BM25:
    bm25 = bm25s.BM25()
    bm25.index([tokens(t) or [EMPTY] for t in texts], show_progress=False)
    return bm25


def _oracle_scores(bm25: bm25s.BM25, question: str, n: int) -> np.ndarray:
    query = [t for t in tokens(question) if t in bm25.vocab_dict]
    return np.asarray(bm25.get_scores(query), np.float32) if query else np.zeros(n, np.float32)


def _built(texts: list[str], folder: Path, batch: int = 500) -> lexical.Lexical:
    writer = LexicalWriter()
    for start in range(0, len(texts), batch):
        writer.add(texts[start : start + batch])
    writer.save(folder)
    return lexical.load(folder)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return _passages()


def test_scores_equal_bm25s_on_real_text(corpus, tmp_path) -> None:
    index, oracle = _built(corpus, tmp_path / "bm25"), _oracle(corpus)
    assert index.passages == len(corpus)
    questions = _questions()
    assert len(questions) > 150
    matched = 0
    for question in questions:
        mine, theirs = index.scores(question), _oracle_scores(oracle, question, len(corpus))
        assert mine.dtype == np.float32 and mine.shape == (len(corpus),)
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=0)
        matched += bool(theirs.any())
    assert matched > 100  # most questions share words with the documents


def test_vocabulary_is_bm25s_vocabulary_and_frequencies_count_passages(corpus, tmp_path) -> None:
    index, oracle = _built(corpus, tmp_path / "bm25"), _oracle(corpus)
    assert set(index.vocab) == set(oracle.vocab_dict) - {""}
    assert EMPTY in index.vocab  # the empty passage's stand-in
    counts: dict[str, int] = {}
    for text in corpus:
        for word in set(tokens(text) or [EMPTY]):
            counts[word] = counts.get(word, 0) + 1
    assert all(index.frequency(w) == c for w, c in counts.items())
    del counts[EMPTY]
    assert index.frequencies() == counts
    assert index.frequency("zyxwvut") == 0


def test_unknown_words_and_an_empty_question_score_zero(corpus, tmp_path) -> None:
    index = _built(corpus, tmp_path / "bm25")
    for question in ("zyxwvut quuxplugh", "", "the of and", "∅"):
        assert not index.scores(question).any()
    empty = corpus.index("")
    assert index.scores("mode")[empty] == 0.0
    assert index.scores("posix")[corpus.index("the and of to it")] == 0.0


def test_repeated_question_words_count_again(corpus, tmp_path) -> None:
    index = _built(corpus, tmp_path / "bm25")
    once, twice = index.scores("posix"), index.scores("posix posix")
    assert once.any()
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-6)


def test_reuse_then_add_equals_a_build_from_scratch(corpus, tmp_path) -> None:
    old_texts = corpus[:600]
    old = _built(old_texts, tmp_path / "old")
    # The new corpus drops passages 300-400 (a changed document), keeps the rest in order, adds new ones.
    new_texts = [*old_texts[:300], "a changed paragraph about lighthouse keepers", *old_texts[400:], *corpus[600:]]
    writer = LexicalWriter()
    writer.reuse(old, 0, 150)
    writer.reuse(old, 150, 300)
    writer.add(["a changed paragraph about lighthouse keepers"])
    writer.reuse(old, 400, 600)
    writer.add(corpus[600:])
    writer.save(tmp_path / "reused")
    reused = lexical.load(tmp_path / "reused")
    scratch = _built(new_texts, tmp_path / "scratch", batch=77)
    assert reused.words == scratch.words
    for name in lexical.ARRAYS:
        assert np.array_equal(getattr(reused, name), getattr(scratch, name)), name
    oracle = _oracle(new_texts)
    for question in [*_questions()[::5], "lighthouse keepers"]:
        np.testing.assert_array_equal(reused.scores(question), scratch.scores(question))
        np.testing.assert_allclose(reused.scores(question), _oracle_scores(oracle, question, len(new_texts)),
                                   rtol=1e-5)
    assert "keeper" in reused.vocab
    gone = set(old.vocab) - set(reused.vocab)  # words only the dropped passages held are not kept
    assert all(reused.frequency(w) == 0 for w in gone)


def test_reuse_of_nothing_and_an_empty_index(tmp_path) -> None:
    writer = LexicalWriter()
    writer.save(tmp_path / "empty")
    empty = lexical.load(tmp_path / "empty")
    assert empty.passages == 0 and len(empty.vocab) == 0
    assert empty.scores("anything").shape == (0,)
    writer = LexicalWriter()
    writer.reuse(empty, 0, 0)
    writer.add(["one passage"])
    writer.save(tmp_path / "one")
    assert lexical.load(tmp_path / "one").scores("passage")[0] > 0


def test_arrays_are_memory_mapped(corpus, tmp_path) -> None:
    index = _built(corpus, tmp_path / "bm25")
    for array in (index.data, index.indices, index.terms):
        while not isinstance(array, mmap.mmap):  # the chain of bases ends in the file's map
            array = array.base
            assert array is not None


@pytest.mark.parametrize("damage", ["missing", "truncated", "vocab", "params", "shape"])
def test_a_damaged_index_is_a_one_line_error(corpus, tmp_path, damage: str) -> None:
    folder = tmp_path / "bm25"
    _built(corpus[:200], folder)
    lexical.load(folder)  # whole, it loads
    if damage == "missing":
        (folder / "indices.npy").unlink()
    elif damage == "truncated":
        data = (folder / "data.npy").read_bytes()
        (folder / "data.npy").write_bytes(data[: len(data) // 2])
    elif damage == "vocab":
        (folder / "vocab.json").write_text('["a", "b"', "utf-8")
    elif damage == "params":
        (folder / "params.json").write_text('{"format": "something else"}', "utf-8")
    else:
        np.save(folder / "offsets.npy", np.zeros(3, np.int64))
    with pytest.raises(IndexStateError) as err:
        lexical.load(folder)
    message = str(err.value)
    assert "\n" not in message and str(folder) in message and "rebuild" in message


@pytest.mark.parametrize("change", ["edit", "add", "remove", "none"])
def test_a_build_tokenises_only_new_passages_and_equals_a_fresh_one(make_seeds, tmp_path, monkeypatch,
                                                                    change: str) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    rag.build_index(seeds, tmp_path / "index", embedder=HashEmbedder(32), log=quiet)
    if change == "edit":
        (seeds / "bees.txt").write_text(SMALL_CORPUS["bees.txt"].replace("white", "pale blue"), "utf-8")
    elif change == "add":
        (seeds / "workshop.txt").write_text("Workshop\n\nCopper pipes resist corrosion in hard water.\n", "utf-8")
    elif change == "remove":
        (seeds / "chess.txt").unlink()
    tokenised: list[str] = []
    add = LexicalWriter.add
    monkeypatch.setattr(LexicalWriter, "add", lambda self, texts: (tokenised.extend(texts), add(self, texts))[1])
    rag.build_index(seeds, tmp_path / "index", embedder=HashEmbedder(32), log=quiet)
    monkeypatch.undo()
    rag.build_index(seeds, tmp_path / "fresh", embedder=HashEmbedder(32), log=quiet)
    again, fresh = store.read(tmp_path / "index"), store.read(tmp_path / "fresh")
    assert again.bm25.words == fresh.bm25.words
    for name in lexical.ARRAYS:
        assert np.array_equal(getattr(again.bm25, name), getattr(fresh.bm25, name)), name
    changed = {"edit": "bees.txt", "add": "workshop.txt"}.get(change)
    assert tokenised == [c.search_text for c in again.chunks if c.passage.citation.source == changed]
    assert again.bm25.passages == len(again.chunks)


def test_token_sums_per_passage_equal_slicing_with_empty_slices_anywhere() -> None:
    from rag.storage.bm25 import _sums

    rng = np.random.default_rng(7)
    for _ in range(200):
        sizes = rng.integers(0, 4, rng.integers(0, 12))  # a quarter of the passages without a token
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        counts = rng.integers(1, 9, int(offsets[-1])).astype(np.int32)
        assert _sums(counts, offsets).tolist() == [int(counts[a:b].sum()) for a, b in itertools.pairwise(offsets)]
