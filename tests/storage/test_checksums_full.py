"""Every byte of an index's data files is checked on load: a change anywhere, even between the blocks a
sampled check would read, is refused with one line saying to rebuild, before any answer is given."""

from __future__ import annotations

import itertools
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import quiet, write_seeds

import rag
import rag.storage.checksums as checksums
import rag.storage.index_folder as store
from rag.cli import main
from rag.embed.model import HashEmbedder
from rag.errors import IndexStateError

OLD_SAMPLES, OLD_BLOCK, OLD_LIMIT = 64, 1024, 64 << 10  # what loading read of a large file before full checksums


def _corpus(folder: Path) -> Path:
    """~600 passages of words drawn from a large vocabulary: vectors, sentences, tokens and BM25 arrays are
    larger than the 64 KiB above which loading used to read samples only."""
    rng = random.Random(7)
    vocabulary = ["".join(rng.choice("abcdefghijklmnoprstuvw") for _ in range(rng.randint(4, 9))) for _ in range(3000)]
    files = {}
    for d in range(12):
        paragraphs = [f"Report {d}"]
        for _ in range(50):
            paragraphs.append(" ".join(" ".join(rng.choice(vocabulary) for _ in range(11)).capitalize() + "."
                                       for _ in range(3)))
        files[f"report{d:02}.txt"] = "\n\n".join(paragraphs) + "\n"
    return write_seeds(folder, files)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("full-checksums")
    index_dir = root / "index"
    rag.build_index(_corpus(root / "seeds"), index_dir, embedder=HashEmbedder(), log=quiet)
    return index_dir


def _binary_files(index_dir: Path) -> list[Path]:
    manifest = store.Manifest.read(index_dir)
    return [p for p in checksums.data_files(index_dir, manifest.files.values()) if p.suffix not in (".json", ".jsonl")]


def _between_samples(size: int, rng: random.Random) -> list[int]:
    """Offsets no sampled block covers: midway between neighbouring samples, and a few drawn at random."""
    starts = [max(0, size - OLD_BLOCK) * i // (OLD_SAMPLES - 1) for i in range(OLD_SAMPLES)]
    gaps = [(a + OLD_BLOCK, b) for a, b in itertools.pairwise(starts) if b - a > OLD_BLOCK + 64]
    chosen = [(gaps[i][0] + gaps[i][1]) // 2 for i in (0, len(gaps) // 2, len(gaps) - 1)] if gaps else []
    chosen += [rng.randint(first, last - 64) for first, last in rng.sample(gaps, min(3, len(gaps)))]
    return chosen


def _overwrite(path: Path, offset: int, length: int) -> bytes:
    """Change `length` bytes of `path` from `offset` (every one of them); return what was there."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        before = handle.read(length)
        handle.seek(offset)
        handle.write(bytes(b ^ 0x5A for b in before))
    return before


def _restore(path: Path, offset: int, before: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(before)


def test_the_large_files_are_large_enough_to_have_been_sampled(built) -> None:
    large = {p.name.split("-")[0] if p.parent == built else p.name for p in _binary_files(built)
             if p.stat().st_size > OLD_LIMIT}
    assert {"vectors", "sentences", "tokens", "token_scales"} <= large
    assert {"terms.npy", "indices.npy"} & large  # BM25's postings too


@pytest.mark.parametrize("length", [1, 64])
def test_a_changed_byte_anywhere_in_any_data_file_is_refused_on_load(built, length) -> None:
    rng = random.Random(length)
    tried = 0
    for path in _binary_files(built):
        size = path.stat().st_size
        offsets = _between_samples(size, rng) if size > OLD_LIMIT else [rng.randrange(0, size - length)]
        for offset in offsets:
            before = _overwrite(path, offset, length)
            try:
                with pytest.raises(IndexStateError, match=rf"{re.escape(path.name)} .*checksum.*rag build") as info:
                    rag.load_index(built, embedder=HashEmbedder())
                assert "\n" not in str(info.value)
            finally:
                _restore(path, offset, before)
            tried += 1
    assert tried >= 30
    rag.load_index(built, embedder=HashEmbedder())  # restored: loads again


def _vectors(index_dir: Path) -> Path:
    return index_dir / store.Manifest.read(index_dir).files["vectors"]


def test_a_vector_overwritten_between_samples_is_never_quoted(built, capsys) -> None:
    """64 bytes of huge floats in the FAISS file would score one passage ~1e36 for every question."""
    path = _vectors(built)
    offset = _between_samples(path.stat().st_size, random.Random(3))[1] // 4 * 4
    with open(path, "r+b") as handle:
        handle.seek(offset)
        before = handle.read(64)
        handle.seek(offset)
        handle.write(np.full(16, 1e36, dtype=np.float32).tobytes())
    try:
        code = main(["ask", "Which report mentions the harbour?", "--index", str(built)])
        out, err = capsys.readouterr()
        assert code == 1 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rag: error: ")
        assert path.name in lines[0] and "sha256 checksum" in lines[0] and "rag build" in lines[0]
    finally:
        _restore(path, offset, before)


def test_an_index_built_with_sampled_checksums_still_loads_and_is_checked_by_sample(built, tmp_path) -> None:
    """A manifest written before full checksums has no sha256 for its large binary files: it loads, checked
    by size and sample as before."""
    manifest_path = built / "manifest.json"
    original = manifest_path.read_text("utf-8")
    data = json.loads(original)
    dropped = 0
    for name, entry in data["checksums"].items():
        if not name.endswith((".json", ".jsonl")) and entry["size"] > OLD_LIMIT:
            del entry["sha256"]
            dropped += 1
    assert dropped >= 4
    manifest_path.write_text(json.dumps(data), "utf-8")
    try:
        assert rag.load_index(built, embedder=HashEmbedder()).retrieve("harbour report", 1)
        sentences = built / data["files"]["sentences"]
        saved = sentences.read_bytes()
        np.save(sentences, np.load(sentences)[::-1].copy())  # rows shuffled: every sample changes
        try:
            with pytest.raises(IndexStateError, match=rf"{re.escape(sentences.name)} .*sampled sha256.*rag build"):
                rag.load_index(built, embedder=HashEmbedder())
        finally:
            sentences.write_bytes(saved)
    finally:
        manifest_path.write_text(original, "utf-8")


def test_the_manifest_records_a_full_sha256_of_every_data_file(built) -> None:
    manifest = store.Manifest.read(built)
    for path in checksums.data_files(built, manifest.files.values()):
        entry = manifest.checksums[path.relative_to(built).as_posix()]
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == checksums._sha256(path)
