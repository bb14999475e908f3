"""The store contract: what every backend promises the question's stages, one test class run against each.

`StoreContract` holds the tests; each backend gets a subclass whose `store`
fixture builds the same small corpus (three text files and a development
document) into that backend: the index folder, and milvus-lite. A new backend
passes when a subclass of its own passes. Does not compare backends with
each other (tests/stores/test_store_milvus.py does that).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet, write_seeds

import rag
from rag.embed.model import HashEmbedder
from rag.stores.signals import RANK_FEATURES

DOC = Path(__file__).parent.parent / "gold" / "docs" / "valgrind-faq.txt"
QUESTIONS = ("Which city connected its container terminals to shore power?", "Why paint hives white?",
             "How do I suppress errors in a system library?", "Who won the 1998 world cup?")


def _seeds(root: Path) -> Path:
    seeds = write_seeds(root / "seeds", SMALL_CORPUS)
    shutil.copy(DOC, seeds / DOC.name)
    return seeds


class StoreContract:
    """Every backend: sources, exact passages, candidates in range and filtered, current text, pages."""

    @pytest.fixture
    def store(self):  # overridden by each backend's class
        raise NotImplementedError

    def test_sources_are_the_seed_files_sorted(self, store):
        assert store.sources == sorted([*SMALL_CORPUS, DOC.name])
        assert set(store.manifest.sources) == set(store.sources)

    def test_every_passage_is_its_documents_text_between_its_offsets(self, store):
        assert store.chunks, "the store holds no passages"
        for chunk in store.chunks:
            c = chunk.passage.citation
            assert store.text_of(c.source)[c.start:c.end] == chunk.passage.text
            for start, end in chunk.sentences:
                assert c.start <= start < end <= c.end

    @pytest.mark.parametrize("question", QUESTIONS)
    def test_candidates_are_in_range_and_carry_every_signal(self, store, question):
        found = store.candidates(HashEmbedder().encode_query(question), question, k=5)
        n = len(found.ids)
        assert 0 < n <= len(store.chunks) and len(set(found.ids.tolist())) == n
        assert found.ids.min() >= 0 and found.ids.max() < len(store.chunks)
        assert set(RANK_FEATURES) <= set(found.features)
        assert all(len(found.features[f]) == n for f in RANK_FEATURES) and len(found.bm25) == n
        assert np.isfinite(found.bm25).all()
        for i in found.ids.tolist():
            assert found.chunks[i].passage.text == store.chunks[i].passage.text
            first, end = found.sentence_rows(i)
            assert 0 <= first < end <= len(found.sentence_vectors)
        assert found.passages == len(store.chunks)

    def test_candidates_keep_to_the_sources_asked_for(self, store):
        question = "What does the harbour do about diesel?"
        only = [DOC.name]
        found = store.candidates(HashEmbedder().encode_query(question), question, k=5, sources=only)
        assert len(found.ids) > 0
        assert {store.chunks[i].passage.citation.source for i in found.ids.tolist()} == set(only)

    def test_current_text_holds_the_passages_until_the_file_changes(self, store):
        """`current` is what quotes are verified against: an edited file may give None or its new text,
        but never text in which the indexed passages still stand at their offsets."""
        source = DOC.name
        passages = [c.passage for c in store.chunks if c.passage.citation.source == source]
        assert store.current(source) == store.text_of(source)
        seed = Path(store.manifest.seeds_dir) / source
        seed.write_text("Replaced after indexing.\n", "utf-8")
        now = store.current(source)
        assert now is None or not any(now[p.citation.start:p.citation.end] == p.text for p in passages)

    def test_a_documents_passages_are_its_passage_range(self, store):
        for source in store.sources:
            held = [i for i, c in enumerate(store.chunks) if c.passage.citation.source == source]
            assert list(store.passage_range(source)) == held

    def test_a_text_file_has_no_pages(self, store):
        assert store.page_at(DOC.name, 0) is None


class TestFolderStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return rag.build_index(_seeds(tmp_path), tmp_path / "index", embedder=HashEmbedder(), log=quiet).store


class TestMilvusLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        pytest.importorskip("pymilvus")
        pytest.importorskip("milvus_lite")
        from rag.stores.milvus_build import upload

        files = rag.build_index(_seeds(tmp_path), tmp_path / "index", embedder=HashEmbedder(), log=quiet)
        uri = f"milvus-lite:{tmp_path}/store.db/docs"
        upload(files.store, uri, log=quiet)  # type: ignore[arg-type]
        return rag.open_store(uri, embedder=HashEmbedder()).store
