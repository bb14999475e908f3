"""rag.storage.index_folder / rag.answers.index: the index on disk (manifest, no pickle, staleness, atomic builds)."""

from __future__ import annotations

import hashlib
import json
import time
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet

import rag
import rag.storage.index_folder
from rag.embed.model import HASH_MODEL, HashEmbedder
from rag.errors import IndexStateError
from rag.service.loading import open_index
from rag.storage.index_folder import FORMAT, MANIFEST, Manifest


@pytest.fixture
def seeds(make_seeds) -> Path:
    return make_seeds(SMALL_CORPUS)


@pytest.fixture
def built(seeds: Path, build_hash_index, tmp_path: Path) -> tuple[Path, Path, rag.Index]:
    index_dir = tmp_path / "index"
    return seeds, index_dir, build_hash_index(seeds, index_dir)


def _answers(index: rag.Index) -> list[list[tuple[str, float | None]]]:
    questions = ["electric ships shore power", "honey bees lavender", "passed pawn endgame"]
    return [[(p.id, p.score) for p in index.retrieve(q, k=3)] for q in questions]


def test_manifest_round_trip(built) -> None:
    seeds, index_dir, index = built
    m = Manifest.read(index_dir)
    assert m == index.manifest
    assert m.format == FORMAT
    assert m.model == HASH_MODEL
    assert m.dimension == HashEmbedder().dimension == 64
    assert m.chunking["max_words"] == rag.ingest.chunk.MAX_WORDS
    assert m.seeds_dir == str(seeds.resolve())
    assert m.passages == len(index.passages)
    assert m.sentences == sum(len(c.sentences) for c in index.chunks)
    # The file on disk says the same as the dataclass.
    raw = json.loads((index_dir / MANIFEST).read_text("utf-8"))
    assert raw["model"] == m.model and raw["dimension"] == m.dimension and raw["files"] == m.files


def test_manifest_fingerprints_every_seed_with_sha256(built) -> None:
    seeds, index_dir, _ = built
    expected = {name: hashlib.sha256((seeds / name).read_bytes()).hexdigest() for name in SMALL_CORPUS}
    assert Manifest.read(index_dir).sources == expected


def test_manifest_records_the_chosen_chunk_size(seeds, build_hash_index, tmp_path) -> None:
    build_hash_index(seeds, tmp_path / "i2", max_words=15)
    assert Manifest.read(tmp_path / "i2").chunking["max_words"] == 15


def test_index_holds_no_pickle(built) -> None:
    _, index_dir, index = built
    files = [p for p in index_dir.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib")]
    npys = [p for p in files if p.suffix == ".npy"]
    assert npys
    for path in npys:
        np.load(path, allow_pickle=False)  # raises if the array needs pickle
    sentences = np.load(index_dir / index.manifest.files["sentences"], allow_pickle=False)
    assert sentences.dtype == np.float32
    assert sentences.shape == (index.manifest.sentences, index.manifest.dimension)
    # No file starts with a pickle protocol header.
    for path in files:
        assert not path.read_bytes()[:2].startswith(b"\x80"), path


def test_passages_file_is_plain_jsonl_matching_the_sources(built) -> None:
    seeds, index_dir, _ = built
    lines = (index_dir / Manifest.read(index_dir).files["passages"]).read_text("utf-8").splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        cite = record["citation"]
        text = (seeds / cite["source"]).read_bytes().decode("utf-8")
        assert record["text"] == text[cite["start"] : cite["end"]]


def test_load_index_round_trip_gives_the_same_results(built) -> None:
    _, index_dir, index = built
    loaded = rag.load_index(index_dir)  # "hash-embedder" is loaded by name
    assert [p.id for p in loaded.passages] == [p.id for p in index.passages]
    assert _answers(loaded) == _answers(index)


def test_load_index_after_editing_a_seed_raises_stale_index_error(built) -> None:
    seeds, index_dir, _ = built
    path = seeds / "bees.txt"
    path.write_text(path.read_text("utf-8") + "\nWasps are not bees and they sting more than once.\n", "utf-8")
    with pytest.raises(rag.StaleIndexError, match="rag build") as info:
        rag.load_index(index_dir)
    assert "bees.txt" in str(info.value)
    assert isinstance(info.value, rag.IndexStateError)


@pytest.mark.parametrize("change", ["add", "remove"])
def test_load_index_after_adding_or_removing_a_seed_raises_stale_index_error(built, change: str) -> None:
    seeds, index_dir, _ = built
    if change == "add":
        (seeds / "new.txt").write_text("Extra\n\nA new document about kites and wind on the beach.\n", "utf-8")
    else:
        (seeds / "chess.txt").unlink()
    with pytest.raises(rag.StaleIndexError, match="rag build"):
        rag.load_index(index_dir)


def test_open_index_rebuilds_when_the_seeds_changed(built, capsys) -> None:
    seeds, index_dir, _ = built
    sentence = "Wasps build paper nests under the eaves of old barns."
    (seeds / "wasps.txt").write_text(f"Insects\n\n{sentence}\n", "utf-8")
    index = open_index(seeds, index_dir, progress=False)
    assert any(p.text == sentence for p in index.passages)
    assert "wasps.txt" in Manifest.read(index_dir).sources
    assert "Building index" in capsys.readouterr().err
    # And the rebuilt index is current: a strict load works.
    assert any(p.text == sentence for p in rag.load_index(index_dir).passages)


def test_open_index_does_not_rebuild_when_nothing_changed(built, capsys) -> None:
    seeds, index_dir, _ = built
    before = Manifest.read(index_dir)
    index = open_index(seeds, index_dir, progress=False)
    assert Manifest.read(index_dir) == before
    assert "Building" not in capsys.readouterr().err
    assert len(index.passages) == before.passages


def test_load_index_with_another_model_raises_model_error(built) -> None:
    _, index_dir, _ = built
    with pytest.raises(rag.ModelError, match="other"):
        rag.load_index(index_dir, model="other")


def test_load_index_with_an_embedder_of_another_dimension_raises_model_error(built) -> None:
    _, index_dir, _ = built
    with pytest.raises(rag.ModelError):
        rag.load_index(index_dir, embedder=HashEmbedder(dimension=32))


def test_load_index_of_a_missing_folder_says_to_run_rag_build(tmp_path) -> None:
    with pytest.raises(rag.IndexStateError, match="rag build"):
        rag.load_index(tmp_path / "missing")


def test_load_index_with_a_corrupt_manifest_raises_index_state_error(built) -> None:
    _, index_dir, _ = built
    (index_dir / MANIFEST).write_text("{not json", "utf-8")
    with pytest.raises(rag.IndexStateError, match="rag build"):
        rag.load_index(index_dir)


def test_load_index_with_a_missing_data_file_raises_index_state_error(built) -> None:
    _, index_dir, index = built
    (index_dir / index.manifest.files["sentences"]).unlink()
    with pytest.raises(rag.IndexStateError, match="rag build"):
        rag.load_index(index_dir)


def test_rebuild_removes_the_previous_generation(built, build_hash_index, monkeypatch) -> None:
    seeds, index_dir, index = built
    old = set(index.manifest.files.values())
    monkeypatch.setattr(rag.storage.index_folder, "time", _clock("20990101000000"))
    build_hash_index(seeds, index_dir)
    names = {p.name for p in index_dir.iterdir()}
    assert not (old & names)
    assert set(Manifest.read(index_dir).files.values()) <= names


# --- atomicity -----------------------------------------------------------------


def _clock(stamp: str) -> types.SimpleNamespace:
    """Stands in for the `time` module inside rag.storage.index_folder: a fixed build generation stamp."""
    return types.SimpleNamespace(strftime=lambda fmt: stamp if fmt == "%Y%m%d%H%M%S" else time.strftime(fmt))


def _die(*_args, **_kwargs):
    raise OSError("No space left on device (simulated)")


def _build_then_die(seeds, index_dir, monkeypatch, first: str, second: str, kill: str) -> rag.Index:
    monkeypatch.setattr(rag.storage.index_folder, "time", _clock(first))
    index = rag.build_index(seeds, index_dir, embedder=HashEmbedder(), log=quiet)
    monkeypatch.setattr(rag.storage.index_folder, "time", _clock(second))
    with monkeypatch.context() as m:
        if kill == "np.save":
            m.setattr(rag.storage.index_folder.np, "save", _die)
        else:
            import faiss

            m.setattr(faiss, "write_index", _die)
        # A different chunk size and model: if any file of the live generation
        # were touched, loading would fail or answer differently.
        with pytest.raises(IndexStateError, match="simulated"):  # one line for the CLI, not a raw OSError
            rag.build_index(seeds, index_dir, embedder=HashEmbedder(dimension=32), max_words=8, log=quiet)
    return index


@pytest.mark.parametrize("kill", ["np.save", "faiss.write_index"])
def test_build_dying_half_way_leaves_the_previous_index_working(seeds, tmp_path, monkeypatch, kill) -> None:
    index_dir = tmp_path / "index"
    index = _build_then_die(seeds, index_dir, monkeypatch, "20240101000000", "20240101000001", kill)
    loaded = rag.load_index(index_dir)
    assert loaded.manifest == index.manifest
    assert _answers(loaded) == _answers(index)


@pytest.mark.parametrize("kill", ["np.save", "faiss.write_index"])
def test_build_dying_in_the_same_second_leaves_the_previous_index_working(seeds, tmp_path, monkeypatch, kill):
    index_dir = tmp_path / "index"
    index = _build_then_die(seeds, index_dir, monkeypatch, "20240101000000", "20240101000000", kill)
    loaded = rag.load_index(index_dir)
    assert _answers(loaded) == _answers(index)


def test_two_quick_successful_builds_both_load(seeds, build_hash_index, tmp_path) -> None:
    # Realistic timing, no clock control: build twice back to back.
    index_dir = tmp_path / "index"
    first = build_hash_index(seeds, index_dir)
    second = build_hash_index(seeds, index_dir)
    assert _answers(rag.load_index(index_dir)) == _answers(first) == _answers(second)


# --- CRLF files -----------------------------------------------------------------


def test_index_built_from_a_crlf_file_loads_and_quotes_exactly(make_seeds, build_hash_index) -> None:
    text = SMALL_CORPUS["ports.txt"].replace("\n", "\r\n")
    seeds = make_seeds({"ports.txt": text})
    assert b"\r\n" in (seeds / "ports.txt").read_bytes()
    index = build_hash_index(seeds)
    for p in index.retrieve("shore power ships", k=3):
        assert text[p.citation.start : p.citation.end] == p.text


def _older_format_index(make_seeds, build_hash_index, tmp_path):
    """A hash-embedder index whose manifest claims the previous format version."""
    seeds = make_seeds(SMALL_CORPUS)
    target = tmp_path / "old"
    build_hash_index(seeds, target)
    manifest = json.loads((target / "manifest.json").read_text("utf-8"))
    manifest["format"] = "rag-index v1"
    (target / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    return seeds, target, manifest


def test_an_index_in_an_older_format_names_the_rebuild_with_its_own_seeds_and_model(
        make_seeds, build_hash_index, tmp_path):
    _, target, manifest = _older_format_index(make_seeds, build_hash_index, tmp_path)
    with pytest.raises(rag.IndexStateError) as info:
        rag.load_index(target)
    message = str(info.value)
    assert f"--seeds {manifest['seeds_dir']}" in message and "--model hash-embedder" in message


def test_default_index_in_an_older_format_is_rebuilt_with_the_same_model(
        make_seeds, build_hash_index, tmp_path, capsys):
    seeds, target, _ = _older_format_index(make_seeds, build_hash_index, tmp_path)
    index = open_index(seeds, target, progress=False)
    assert index.manifest.model == "hash-embedder"
    assert "older format" in capsys.readouterr().err
