"""Incremental builds: an index folder's own index lends the rows of unchanged documents.

A build over an edited seeds folder must give the index a build from scratch
gives (same rows, same answers) while the model reads only the changed
documents' texts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet
from format_fixtures import tiny_pdf

import rag
import rag.build.builder
import rag.build.rowwriter
import rag.storage.index_folder as store
from rag.cli import main
from rag.embed.model import HashEmbedder

# "zorb-\nlax" would be joined to "zorblax" if another document's words counted: they must not.
HYPHENS = ("Glossary\n\nThe old water tower in the town centre seals its tank with a zorb-\nlax valve, and the "
           "housing of that valve is made of bronze and copper.\n\n"
           "Keep the valve dry in winter. Frost cracks the seal and the tank then leaks slowly.\n")
CORPUS = {**SMALL_CORPUS, "glossary.txt": HYPHENS,
          "scan.pdf": tiny_pdf(["Lighthouses guide ships along rocky coasts at night.",
                                "Keepers once trimmed the lamp wicks every few hours."])}
ADDED = ("Workshop\n\nThe zorblax is a valve used on old water tanks. Plumbers replace it every decade.\n\n"
         "Copper pipes last longer than iron ones. They resist corrosion in hard water.\n")
EDITED = SMALL_CORPUS["bees.txt"].replace("white to reflect sunlight", "pale blue so that bees find home")
QUESTIONS = ("Why do beekeepers paint hives?", "What is the zorblax?", "What does Rotterdam connect to shore power?",
             "What do lighthouses do?", "How are endgames won?")


class Counting:
    """A HashEmbedder that records every text it is asked to read for an index."""

    def __init__(self) -> None:
        self.inner = HashEmbedder(32)
        self.name, self.dimension, self.max_tokens = self.inner.name, self.inner.dimension, self.inner.max_tokens
        self.texts: list[str] = []

    def encode(self, texts, **kwargs):
        self.texts.extend(texts)
        return self.inner.encode(texts, **kwargs)

    def encode_spans(self, texts, spans, **kwargs):
        self.texts.extend(texts)
        return self.inner.encode_spans(texts, spans, **kwargs)

    def encode_query(self, text):
        return self.inner.encode_query(text)


def build(seeds: Path, index_dir: Path, embedder: Counting | None = None, **kwargs) -> rag.Index:
    return rag.build_index(seeds, index_dir, embedder=embedder or Counting(), log=quiet, **kwargs)


def assert_same_index(a: Path, b: Path) -> None:
    one, two = store.read(a), store.read(b)
    assert one.chunks == two.chunks
    assert one.documents == two.documents
    assert one.manifest.sources == two.manifest.sources and one.manifest.contexts == two.manifest.contexts
    np.testing.assert_array_equal(one.passage_vectors, two.passage_vectors)
    np.testing.assert_array_equal(one.sentence_vectors, two.sentence_vectors)
    np.testing.assert_array_equal(one.token_vectors.values, two.token_vectors.values)
    np.testing.assert_array_equal(one.token_vectors.scales, two.token_vectors.scales)
    np.testing.assert_array_equal(one.token_offsets, two.token_offsets)


def answers(index: rag.Index) -> list[tuple]:
    out = []
    for q in QUESTIONS:
        a = index.answer(q)
        out.append((a.abstained, [(x.text, x.citation) for x in a.quotes],
                    [(p.id, p.score) for p in index.retrieve(q, 5)]))
    return out


@pytest.mark.parametrize("change", ["edit", "add", "remove", "none"])
def test_an_incremental_build_equals_a_build_from_scratch(make_seeds, tmp_path: Path, change: str) -> None:
    seeds = make_seeds(CORPUS)
    build(seeds, tmp_path / "index")
    if change == "edit":
        (seeds / "bees.txt").write_text(EDITED, "utf-8")
    elif change == "add":
        (seeds / "workshop.txt").write_text(ADDED, "utf-8")
    elif change == "remove":
        (seeds / "chess.txt").unlink()
    again = build(seeds, tmp_path / "index")
    fresh = build(seeds, tmp_path / "fresh")
    assert_same_index(tmp_path / "index", tmp_path / "fresh")
    assert answers(again) == answers(fresh)
    counts = store.raw_manifest(tmp_path / "index")["build"]
    assert counts == {"reused": len(again.sources) - (change in ("edit", "add")),
                      "embedded": int(change in ("edit", "add"))}


def test_the_model_reads_only_the_changed_documents_texts(make_seeds, tmp_path: Path) -> None:
    seeds = make_seeds(CORPUS)
    build(seeds, tmp_path / "index")
    (seeds / "bees.txt").write_text(EDITED, "utf-8")
    (seeds / "workshop.txt").write_text(ADDED, "utf-8")
    watched = Counting()
    build(seeds, tmp_path / "index", watched)
    alone = Counting()  # what the model reads to index only those two documents
    build(make_seeds({"bees.txt": EDITED, "workshop.txt": ADDED}, name="alone"), tmp_path / "alone-index", alone)
    assert sorted(watched.texts) == sorted(alone.texts) and watched.texts
    assert not any("Rotterdam" in t or "Sicilian" in t or "Lighthouses" in t for t in watched.texts)


def test_nothing_is_re_used_across_models_chunking_or_when_asked_not_to(make_seeds, tmp_path: Path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    build(seeds, tmp_path / "index")
    for kwargs in ({"reuse": False}, {"max_words": 40}):
        watched = Counting()
        build(seeds, tmp_path / "index", watched, **kwargs)
        assert store.raw_manifest(tmp_path / "index")["build"] == {"reused": 0, "embedded": 3}
    other = Counting()
    other.name = "another-model"
    build(seeds, tmp_path / "index", other)
    assert store.raw_manifest(tmp_path / "index")["build"]["reused"] == 0


@pytest.mark.parametrize("rows", [None, "per-document v1, code 0000000000000000"])
def test_an_index_from_other_code_is_rebuilt_whole(make_seeds, tmp_path: Path, rows: str | None) -> None:
    """No "rows" key (a corpus-wide vocabulary), or rows made by other ingest/chunk/embed code: nothing re-used."""
    seeds = make_seeds(SMALL_CORPUS)
    build(seeds, tmp_path / "index")
    path = tmp_path / "index" / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    data.pop("rows")
    if rows:
        data["rows"] = rows
    path.write_text(json.dumps(data), "utf-8")
    build(seeds, tmp_path / "index")
    assert store.raw_manifest(tmp_path / "index")["build"] == {"reused": 0, "embedded": 3}
    build(seeds, tmp_path / "index")
    assert store.raw_manifest(tmp_path / "index")["build"] == {"reused": 3, "embedded": 0}


def test_rag_build_says_what_it_re_used_and_full_embeds_everything(make_seeds, tmp_path: Path, capsys) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    args = ["build", "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--model", "hash-embedder:32"]
    assert main(args) == 0
    assert "Re-used" not in capsys.readouterr().out
    shutil.copy(seeds / "bees.txt", seeds / "more-bees.txt")
    assert main(args) == 0
    assert "Re-used 3 unchanged document(s), embedded 1." in capsys.readouterr().out
    assert main([*args, "--full"]) == 0
    assert "Re-used" not in capsys.readouterr().out


def test_documents_written_in_small_batches_and_blocks_give_the_same_index(make_seeds, tmp_path: Path,
                                                                             monkeypatch) -> None:
    seeds = make_seeds(CORPUS)
    build(seeds, tmp_path / "whole")
    monkeypatch.setattr(rag.build.builder, "BATCH", 1)  # every document embedded and written on its own
    monkeypatch.setattr(rag.build.rowwriter, "BLOCK", 3)  # rows copied three at a time
    build(seeds, tmp_path / "pieces")
    assert_same_index(tmp_path / "whole", tmp_path / "pieces")
    assert not [p.name for p in (tmp_path / "pieces").iterdir() if ".spool" in p.name or ".npy." in p.name]


def test_a_row_file_is_an_npy_file_of_the_rows_appended() -> None:
    import tempfile

    from rag.storage.rowfile import RowFile

    rows = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    with tempfile.TemporaryDirectory() as tmp:
        written = RowFile(Path(tmp) / "rows.npy", np.float32, 7)
        written.append(rows[:2])
        written.append(rows[2:])
        written.close()
        np.testing.assert_array_equal(np.load(Path(tmp) / "rows.npy", allow_pickle=False), rows)
        empty = RowFile(Path(tmp) / "empty.npy", np.int8)
        assert empty.load().shape == (0,)
        with pytest.raises(ValueError, match="width"):
            RowFile(Path(tmp) / "wrong.npy", np.float32, 3).append(rows)


def test_a_live_index_rebuild_embeds_only_the_changed_document(make_seeds, tmp_path: Path) -> None:
    from rag.service.live import LiveIndex

    seeds = make_seeds(SMALL_CORPUS)
    live = LiveIndex(seeds, tmp_path / "index", model="hash-embedder", poll_seconds=3600)
    try:
        live.current()
        (seeds / "bees.txt").write_text(EDITED, "utf-8")
        assert live.refresh().state == "indexing"
        live.wait(60)  # a limit against hanging, not a measured figure
        assert store.raw_manifest(tmp_path / "index")["build"] == {"reused": 2, "embedded": 1}
        assert "pale blue" in " ".join(q.text for q in live.answer("Why do beekeepers paint hives?", 3).quotes)
    finally:
        live.close()
        live.wait(60)


@pytest.mark.model
def test_with_the_real_model_an_incremental_build_matches_a_fresh_one(make_seeds, tmp_path: Path) -> None:
    """The model reads texts in batches by length, so floats may differ in the last bits: within tolerance.

    Under bfloat16 autocast (rag.embed.model) a text's vector depends a little on the shapes of the batch it was read
    in (up to about 6e-4 a component, a cosine above 0.9999); in float32 only in the last bits."""
    seeds = make_seeds(SMALL_CORPUS)
    rag.build_index(seeds, tmp_path / "index", log=quiet)
    (seeds / "bees.txt").write_text(EDITED, "utf-8")
    again = rag.build_index(seeds, tmp_path / "index", log=quiet)
    fresh = rag.build_index(seeds, tmp_path / "fresh", log=quiet)
    assert store.raw_manifest(tmp_path / "index")["build"] == {"reused": 2, "embedded": 1}
    one, two = store.read(tmp_path / "index"), store.read(tmp_path / "fresh")
    assert one.chunks == two.chunks
    np.testing.assert_array_equal(one.token_offsets, two.token_offsets)
    noise = 2e-3 if store.raw_manifest(tmp_path / "index").get("precision") == "bfloat16" else 1e-5
    np.testing.assert_allclose(one.sentence_vectors, two.sentence_vectors, atol=noise)
    a, b = one.passage_vectors, two.passage_vectors
    np.testing.assert_allclose(a, b, atol=noise)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.9999
    np.testing.assert_allclose(one.token_vectors.rows(0, len(one.token_vectors)),
                               two.token_vectors.rows(0, len(two.token_vectors)), atol=0.02)  # int8 steps
    for q in ("Why do beekeepers paint hives?", "What does Rotterdam connect to shore power?"):
        a, b = again.answer(q), fresh.answer(q)
        assert [(x.text, x.citation) for x in a.quotes] == [(x.text, x.citation) for x in b.quotes]
        assert [p.id for p in again.retrieve(q, 5)] == [p.id for p in fresh.retrieve(q, 5)]


def _report(title: str, sections: list[tuple[str, str]]) -> str:
    body = "\n\n".join(f"{heading}\n\n" + " ".join(f"The {who} committee reviewed item {n} of the shipping policy."
                                                   for n in range(6)) for heading, who in sections)
    return f"{title}\n\n{body}\n"


def test_a_document_that_returns_to_an_earlier_section_keeps_every_context_row(make_seeds, tmp_path: Path) -> None:
    """Contexts are numbered as first seen: a document ending under an earlier heading still owns its later ones."""
    seeds = make_seeds({"a.txt": _report("Repeated Sections Report", [("Overview", "alpha"), ("Details", "beta"),
                                                                      ("Overview", "gamma")]),
                        "b.txt": _report("Second Report", [("Background", "delta"), ("Findings", "epsilon")])})
    index = build(seeds, tmp_path / "index")
    pairs = {(p.citation.source, p.citation.section) for p in index.passages}
    stored = store.read(tmp_path / "index")
    assert stored.manifest.contexts == len(pairs)
    assert len(stored.token_offsets) - 1 == sum(len(c.sentences) for c in stored.chunks) + len(pairs)
    assert index.retrieve("epsilon committee shipping", 3)[0].citation.source == "b.txt"
    (seeds / "b.txt").write_text(_report("Second Report", [("Background", "delta"), ("Results", "zeta")]), "utf-8")
    build(seeds, tmp_path / "index")
    build(seeds, tmp_path / "fresh")
    assert_same_index(tmp_path / "index", tmp_path / "fresh")


@pytest.mark.parametrize("failure", [PermissionError, KeyboardInterrupt])
def test_a_failure_after_the_new_index_is_live_keeps_it(make_seeds, tmp_path: Path, monkeypatch, failure) -> None:
    seeds = make_seeds(CORPUS)
    build(seeds, tmp_path / "index")
    (seeds / "workshop.txt").write_text(ADDED, "utf-8")

    def fail(*_args, **_kwargs):
        raise failure()

    monkeypatch.setattr(store, "_remove_unreferenced", fail)
    if failure is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            build(seeds, tmp_path / "index")
    else:
        build(seeds, tmp_path / "index")  # cleaning up the old generation is not worth failing for
    assert "workshop.txt" in {c.passage.citation.source for c in store.read(tmp_path / "index").chunks}


def test_rows_made_with_other_numerics_are_not_re_used(make_seeds, tmp_path: Path) -> None:
    seeds = make_seeds(SMALL_CORPUS)

    class Bfloat16(HashEmbedder):
        precision = "bfloat16"

    rag.build_index(seeds, tmp_path / "index", embedder=HashEmbedder(), log=quiet)
    rag.build_index(seeds, tmp_path / "index", embedder=Bfloat16(), log=quiet)
    manifest = store.raw_manifest(tmp_path / "index")
    assert manifest["build"] == {"reused": 0, "embedded": len(SMALL_CORPUS)} and manifest["precision"] == "bfloat16"
    rag.build_index(seeds, tmp_path / "index", embedder=Bfloat16(), log=quiet)
    assert store.raw_manifest(tmp_path / "index")["build"]["reused"] == len(SMALL_CORPUS)
