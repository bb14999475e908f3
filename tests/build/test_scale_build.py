"""A build past the exact-search limit, and a build that reads its documents one batch at a time.

Above `rag.storage.dense.FLAT_LIMIT` passages FAISS holds 8-bit codes and the exact
vectors go to a file of their own: the oracle is the same corpus built with
Flat search, whose vectors and answers must be the same. A streaming build
must give the index a build that read every document first would give.
"""

from __future__ import annotations

import re
import sys

import faiss
import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet

import rag
import rag.build.builder
import rag.ingest.intake
import rag.storage.dense
import rag.storage.index_folder as store
from rag.embed.model import HashEmbedder
from rag.errors import IndexStateError, IngestError
from rag.ingest.intake import Chunked, Intake
from rag.storage.dense import EXACT_KIND, faiss_index_for, flat_vectors

QUESTIONS = ("Why do beekeepers paint hives?", "What does Rotterdam connect to shore power?", "How are endgames won?")


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    rows = rng.standard_normal((n, d)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_vectors_added_a_block_at_a_time_are_the_vectors_added_at_once(monkeypatch) -> None:
    monkeypatch.setattr(rag.storage.dense, "BLOCK", 7)
    vectors = _unit_rows(np.random.default_rng(5), 50, 16)
    index, kind = faiss_index_for(vectors)
    assert kind == "Flat"
    np.testing.assert_array_equal(flat_vectors(index), vectors)


def test_past_the_flat_limit_faiss_holds_8_bit_codes_that_find_the_exact_neighbours(monkeypatch) -> None:
    monkeypatch.setattr(rag.storage.dense, "FLAT_LIMIT", 1_000)
    monkeypatch.setattr(rag.storage.dense, "BLOCK", 300)
    rng = np.random.default_rng(11)
    centres = _unit_rows(rng, 40, 32)
    vectors = centres[rng.integers(0, 40, 2_000)] + 0.5 * rng.standard_normal((2_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index, kind = faiss_index_for(vectors)
    assert kind == EXACT_KIND and index.ntotal == 2_000
    assert faiss.downcast_index(index.storage).code_size == 32  # one byte a component, a quarter of float32
    queries = vectors[rng.choice(2_000, 50, replace=False)]
    _, found = index.search(queries, 50)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(truth[i]) & set(found[i])) / 10 for i in range(len(queries))])
    assert recall >= 0.95  # the top ten among the fifty candidates re-scored exactly


def test_an_index_past_the_flat_limit_keeps_exact_vectors_and_answers_as_a_flat_one(tmp_path, monkeypatch, make_seeds) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    flat = rag.build_index(seeds, tmp_path / "flat", model="hash-embedder:64", log=quiet)
    monkeypatch.setattr(rag.storage.dense, "FLAT_LIMIT", 3)
    coded = rag.build_index(seeds, tmp_path / "coded", model="hash-embedder:64", log=quiet)
    one, two = store.read(tmp_path / "flat"), store.read(tmp_path / "coded")
    assert (one.manifest.faiss, two.manifest.faiss) == ("Flat", EXACT_KIND)
    assert "passage_vectors" not in one.manifest.files and "passage_vectors" in two.manifest.files
    np.testing.assert_array_equal(one.passage_vectors, two.passage_vectors)
    for q in QUESTIONS:
        a, b = flat.answer(q, 3), coded.answer(q, 3)
        assert [(x.citation.start, x.citation.end) for x in a.quotes] == [(x.citation.start, x.citation.end)
                                                                          for x in b.quotes]
    # Its rows are re-used like any other's: changing one document embeds only it.
    (seeds / "chess.txt").write_text(SMALL_CORPUS["chess.txt"] + "\n\nA draw is agreed when neither side can win.\n",
                                     "utf-8")
    again = rag.build_index(seeds, tmp_path / "coded", model="hash-embedder:64", log=quiet)
    assert store.raw_manifest(tmp_path / "coded")["build"] == {"reused": len(SMALL_CORPUS) - 1, "embedded": 1}
    fresh = rag.build_index(seeds, tmp_path / "fresh", model="hash-embedder:64", log=quiet)
    np.testing.assert_array_equal(store.read(tmp_path / "coded").passage_vectors,
                                  store.read(tmp_path / "fresh").passage_vectors)
    assert again.answer(QUESTIONS[2], 3).quotes[0].text == fresh.answer(QUESTIONS[2], 3).quotes[0].text


def test_a_damaged_exact_vectors_file_is_refused_with_the_rebuild_command(tmp_path, monkeypatch, make_seeds) -> None:
    monkeypatch.setattr(rag.storage.dense, "FLAT_LIMIT", 3)
    rag.build_index(make_seeds(SMALL_CORPUS), tmp_path / "coded", model="hash-embedder:64", log=quiet)
    path = tmp_path / "coded" / store.read(tmp_path / "coded").manifest.files["passage_vectors"]
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 64)
    with pytest.raises(IndexStateError, match="rag build"):
        store.read(tmp_path / "coded")


def test_a_build_reads_one_batch_of_documents_at_a_time_and_writes_what_reading_all_first_gives(
        tmp_path, monkeypatch, make_seeds) -> None:
    corpus = {f"{name.split('.')[0]}-{n}.txt": text for n in range(4) for name, text in SMALL_CORPUS.items()}
    seeds = make_seeds(corpus)
    rag.build_index(seeds, tmp_path / "whole", model="hash-embedder:64", log=quiet)
    monkeypatch.setattr(rag.build.builder, "BATCH", 2)
    held: list[int] = []
    real = Intake._next

    def counting(self):
        held.append(sum(isinstance(i, Chunked) for i in self._waiting))
        return real(self)

    monkeypatch.setattr(Intake, "_next", counting)
    rag.build_index(seeds, tmp_path / "batched", model="hash-embedder:64", log=quiet)
    assert len(held) == len(corpus) and max(held) <= 2  # never the corpus parsed ahead of the model
    one, two = store.read(tmp_path / "whole"), store.read(tmp_path / "batched")
    assert list(one.chunks) == list(two.chunks)
    np.testing.assert_array_equal(one.passage_vectors, two.passage_vectors)
    np.testing.assert_array_equal(one.token_vectors.values, two.token_vectors.values)
    assert one.manifest.ranges == two.manifest.ranges and one.manifest.sources == two.manifest.sources


def test_progress_has_an_estimated_total_from_the_start_and_the_exact_one_at_the_end(tmp_path, monkeypatch, make_seeds) -> None:
    corpus = {f"{name.split('.')[0]}-{n}.txt": text for n in range(3) for name, text in SMALL_CORPUS.items()}
    monkeypatch.setattr(rag.build.builder, "BATCH", 2)
    heard: list[tuple[str, int, int]] = []
    rag.build_index(make_seeds(corpus), tmp_path / "i", embedder=HashEmbedder(32), log=quiet,
                    on_progress=lambda *s: heard.append(s))
    embedding = [(done, total) for stage, done, total in heard if stage == "embedding"]
    assert embedding[0][0] == 0 and embedding[0][1] > 0
    assert all(done <= total for done, total in embedding)
    assert [done for done, _ in embedding] == sorted(done for done, _ in embedding)
    assert embedding[-1][0] == embedding[-1][1] == embedding[-2][0]
    # The first estimate, from the first batch's texts per byte, is within a factor of two of the truth.
    assert embedding[-1][1] / 2 <= embedding[0][1] <= embedding[-1][1] * 2


def test_a_folder_of_unreadable_files_fails_before_the_model_is_loaded_and_names_a_few(tmp_path, monkeypatch, make_seeds) -> None:
    seeds = make_seeds({f"empty-{n:02}.txt": " \n" for n in range(12)})
    monkeypatch.setattr(rag.build.builder, "load_embedder", lambda name: pytest.fail("the model was loaded"))
    with pytest.raises(IngestError) as raised:
        rag.build_index(seeds, tmp_path / "i", log=quiet)
    message = str(raised.value)
    assert "empty-00.txt: the file is empty" in message and "and 7 more" in message
    assert "empty-11.txt" not in message and len(message) < 600
    assert sys.modules["rag.ingest.intake"] is rag.ingest.intake


def test_a_file_removed_between_the_survey_and_its_reading_is_skipped_with_why(tmp_path, make_seeds) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    intake = Intake(seeds, {}, max_words=80, say=quiet)
    (seeds / "chess.txt").unlink()
    items = list(intake)
    assert "chess.txt" not in {i.doc.source for i in items if isinstance(i, Chunked)}
    assert [(s.source, s.reason) for s in intake.skipped] == [
        ("chess.txt", "removed while the build was reading the folder")]


def test_lines_said_while_the_progress_bar_runs_go_above_it(tmp_path, make_seeds, capsys) -> None:
    corpus = {f"{name.split('.')[0]}-{n}.txt": text for n in range(3) for name, text in SMALL_CORPUS.items()}
    rag.build_index(make_seeds(corpus), tmp_path / "i", embedder=HashEmbedder(32), progress=True, verbose=True)
    err = capsys.readouterr().err
    said = [part for part in re.split(r"[\r\n]", err) if "title '" in part]
    assert len(said) == len(corpus)
    assert not [part for part in said if "Embedding" in part]  # the bar was cleared before each line
