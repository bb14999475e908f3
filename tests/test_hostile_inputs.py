"""More hostile inputs: oversized documents, edits that keep size and time, disk full, undecodable questions.

Each ends in a skip line naming the file, one line saying what to do, or an
honest abstention: never a traceback, invalid UTF-8 output or an old quote.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SMALL_CORPUS, quiet

import rag
import rag.storage.checksums
import rag.storage.index_folder as store
from rag.cli import main
from rag.embed.model import HashEmbedder
from rag.errors import IngestError, InputError
from rag.readers.limits import Limits, limits, size_text
from rag.service.loading import open_index, stale_sources

BIG = "Storm Log\n\n" + "The barometer fell again overnight and the harbour stayed closed to shipping.\n\n" * 400


def _build(seeds: Path, index_dir: Path) -> tuple[rag.Index, list[str]]:
    lines: list[str] = []
    return rag.build_index(seeds, index_dir, embedder=HashEmbedder(), log=lines.append), lines


# --- size limits ------------------------------------------------------------


def test_limits_default_and_read_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("RAG_MAX_FILE_MB", raising=False)
    monkeypatch.delenv("RAG_MAX_CORPUS_MB", raising=False)
    assert limits() == Limits(50_000_000, 200_000_000)
    monkeypatch.setenv("RAG_MAX_FILE_MB", "1.5")
    monkeypatch.setenv("RAG_MAX_CORPUS_MB", "3")
    assert limits() == Limits(1_500_000, 3_000_000)


@pytest.mark.parametrize("value", ["lots", "-1", "0", "nan", "inf"])
def test_a_limit_that_is_not_a_size_is_a_one_line_error(monkeypatch, value: str) -> None:
    monkeypatch.setenv("RAG_MAX_FILE_MB", value)
    with pytest.raises(InputError, match=r"RAG_MAX_FILE_MB=.* is not a size in megabytes"):
        limits()


def test_sizes_read_as_people_read_them() -> None:
    assert [size_text(n) for n in (60_000_000, 1_500_000, 740_000, 12)] == ["60 MB", "1.5 MB", "740 KB", "12 bytes"]


def test_a_file_over_the_limit_is_skipped_by_name_size_and_limit(make_seeds, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.01")  # 10 KB
    seeds = make_seeds({**SMALL_CORPUS, "storms.txt": BIG})
    index, lines = _build(seeds, tmp_path / "index")
    size = (seeds / "storms.txt").stat().st_size
    assert lines == [f"skipped storms.txt: {size_text(size)}, over the 10 KB limit per file; raise RAG_MAX_FILE_MB "
                     "(megabytes) to index it, or split it"]
    assert "storms.txt" not in index.sources and len(index.sources) == 3
    assert index.manifest.skipped[0]["source"] == "storms.txt"
    # The skipped file is not "new" at every start, so the default index is not rebuilt again and again.
    assert stale_sources(index.manifest) == ""
    assert open_index(seeds, tmp_path / "index", progress=False).manifest.built_at == index.manifest.built_at


def test_documents_over_the_corpus_limit_stop_the_build_with_one_line(make_seeds, tmp_path, monkeypatch,
                                                                      capsys) -> None:
    monkeypatch.setenv("RAG_MAX_CORPUS_MB", "0.02")  # 20 KB; storms.txt alone is ~31 KB
    seeds = make_seeds({**SMALL_CORPUS, "storms.txt": BIG})
    with pytest.raises(IngestError, match=r"come to 3\d KB in 4 files, over the 20 KB limit .* RAG_MAX_CORPUS_MB"):
        _build(seeds, tmp_path / "index")
    assert not (tmp_path / "index").exists()
    assert main(["build", "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--model", "hash-embedder"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rag: error: The documents in") and "Traceback" not in err


def test_files_skipped_for_size_do_not_count_towards_the_corpus(make_seeds, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.01")
    monkeypatch.setenv("RAG_MAX_CORPUS_MB", "0.02")
    index, lines = _build(make_seeds({**SMALL_CORPUS, "storms.txt": BIG}), tmp_path / "index")
    assert any(line.startswith("skipped storms.txt:") for line in lines) and len(index.sources) == 3


# --- an edit that keeps size and modification time ---------------------------


def _edit_keeping_size_and_time(path: Path, old: str, new: str) -> None:
    before = path.stat()
    data = path.read_bytes()
    assert old.encode() in data and len(old.encode()) == len(new.encode())
    path.write_bytes(data.replace(old.encode(), new.encode()))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_loaded_index_does_not_pass_an_old_quote_after_an_edit_keeping_size_and_time(make_seeds, tmp_path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    _build(seeds, tmp_path / "index")
    index = rag.load_index(tmp_path / "index", embedder=HashEmbedder())
    passage = next(p for p in index.passages if "Rotterdam" in p.text)
    before = index.answer("Which port connected its container terminals to shore power?", 3)
    assert any("Rotterdam" in q.text for q in before.quotes)
    assert index.verify(passage.citation, passage.text)  # read once: a cache would now hold it
    _edit_keeping_size_and_time(seeds / "ports.txt", "Rotterdam", "Amsterdam")
    assert not index.verify(passage.citation, passage.text)
    after = index.answer("Which port connected its container terminals to shore power?", 3)
    assert not any("Rotterdam" in q.text for q in after.quotes)
    assert after.abstained or after.quotes  # never a blank answer
    assert after.message or after.quotes


def test_extracted_document_is_rehashed_after_an_edit_keeping_size_and_time(make_seeds, tmp_path) -> None:
    html = ("<html><head><title>Canal Notes</title></head><body><h1>Canal Notes</h1><p>The lock keepers of "
            "the old canal open the gates at dawn for the grain barges.</p></body></html>")
    seeds = make_seeds({"canal.html": html, "bees.txt": SMALL_CORPUS["bees.txt"]})
    _build(seeds, tmp_path / "index")
    index = rag.load_index(tmp_path / "index", embedder=HashEmbedder())
    passage = next(p for p in index.passages if "grain barges" in p.text)
    assert index.verify(passage.citation, passage.text)
    _edit_keeping_size_and_time(seeds / "canal.html", "grain barges", "coal barges!")
    assert not index.verify(passage.citation, passage.text)


# --- disk full during a build -------------------------------------------------


# Regression guards: disk full was made safe in rag.storage.index_folder; these keep the CLI and a first build so.
def test_disk_full_during_a_build_is_one_line_and_leaves_no_files(make_seeds, tmp_path, monkeypatch, capsys) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    index_dir = tmp_path / "index"
    assert main(["build", "--seeds", str(seeds), "--index", str(index_dir), "--model", "hash-embedder"]) == 0
    before = sorted(os.listdir(index_dir))
    capsys.readouterr()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full)
    (seeds / "wasps.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in autumn.\n", "utf-8")
    assert main(["build", "--seeds", str(seeds), "--index", str(index_dir), "--model", "hash-embedder"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("rag: error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "free some space" in lines[0]
    assert "Traceback" not in err
    assert sorted(os.listdir(index_dir)) == before
    monkeypatch.undo()
    assert rag.load_index(index_dir, embedder=HashEmbedder(), check_sources=False).sources == sorted(SMALL_CORPUS)


def test_disk_full_on_a_first_build_leaves_no_index_folder(make_seeds, tmp_path, monkeypatch) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(rag.IndexStateError, match="No space left on device"):
        rag.build_index(make_seeds(SMALL_CORPUS), tmp_path / "index", embedder=HashEmbedder(), log=quiet)
    assert not (tmp_path / "index").exists()


# --- questions whose bytes are not UTF-8 --------------------------------------


@pytest.fixture
def small_index(make_seeds, tmp_path) -> Path:
    _build(make_seeds(SMALL_CORPUS), tmp_path / "index")
    return tmp_path / "index"


def _rag(args: list[bytes], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable.encode(), b"-m", b"rag.cli", *args], capture_output=True, input=stdin,
                          cwd=REPO, env=env, timeout=120)


def test_question_with_bytes_that_are_not_utf8_gives_valid_json(small_index) -> None:
    done = _rag([b"ask", b"--json", b"--index", str(small_index).encode(), b"Which flowers do bees \xff\xfe visit?"])
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in done.stderr
    result = json.loads(done.stdout.decode("utf-8"))  # strict: raises on invalid UTF-8
    assert result["question"] == "Which flowers do bees \ufffd\ufffd visit?"
    assert any("clover" in q["text"] for q in result["quotes"])


def test_questions_on_stdin_with_bytes_that_are_not_utf8_give_valid_json(small_index) -> None:
    done = _rag([b"ask", b"--json", b"--index", str(small_index).encode()],
                stdin=b"Which flowers do bees \xff visit?\nWhat decides a chess endgame?\n")
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode("utf-8", "replace")
    answers = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [a["question"] for a in answers] == ["Which flowers do bees \ufffd visit?", "What decides a chess endgame?"]


def test_disk_full_while_faiss_writes_is_one_line_too(make_seeds, tmp_path, monkeypatch, capsys) -> None:
    import faiss

    def full(index, path):  # FAISS raises RuntimeError with the C library's words, not OSError
        raise RuntimeError(f"Error in void faiss::write_index(...) at faiss/impl/io.cpp:91: fwrite to {path} "
                           f"failed: {os.strerror(errno.ENOSPC)}")

    monkeypatch.setattr(faiss, "write_index", full)
    seeds = make_seeds(SMALL_CORPUS)
    assert main(["build", "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--model", "hash-embedder"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("rag: error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "free some space" in lines[0]
    assert "Traceback" not in err and "write_index" not in err
    assert not (tmp_path / "index").exists()


def _damage_bm25(index_dir: Path, name: str) -> None:
    """Overwrite the ids of one BM25 array past their range, as damage a sampled checksum does not see would."""
    folder = index_dir / store.read(index_dir).manifest.files["bm25"]
    path = folder / f"{name}.npy"
    values = np.load(path, mmap_mode="r+")
    values[len(values) // 4 :] = 1_000_000_000
    values.flush()
    del values


@pytest.fixture
def damaged_bm25(make_seeds, tmp_path, monkeypatch):
    seeds = make_seeds(SMALL_CORPUS)
    _build(seeds, tmp_path / "index")
    monkeypatch.setattr(rag.storage.checksums, "mismatch", lambda *args, **kwargs: None)  # as if the damage was not sampled
    return seeds, tmp_path / "index"


def test_damaged_bm25_postings_give_a_one_line_error_at_question_time(damaged_bm25, capsys) -> None:
    _, index_dir = damaged_bm25
    _damage_bm25(index_dir, "indices")
    index = rag.load_index(index_dir, embedder=HashEmbedder(), check_sources=False)
    with pytest.raises(rag.IndexStateError, match=r"BM25 arrays are damaged .*rag build --full"):
        for question in ("Which port connected its terminals to shore power?", "Which flowers do bees visit?",
                         "What do smaller harbours pay for first?"):
            index.answer(question)


def test_a_build_over_damaged_bm25_rows_embeds_every_document_again(damaged_bm25) -> None:
    seeds, index_dir = damaged_bm25
    _damage_bm25(index_dir, "terms")
    (seeds / "wasps.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in autumn.\n", "utf-8")
    said: list[str] = []
    index = rag.build_index(seeds, index_dir, embedder=HashEmbedder(), log=said.append)
    assert any("BM25 arrays are damaged" in line and "embedding every document again" in line for line in said)
    assert store.raw_manifest(index_dir)["build"] == {"reused": 0, "embedded": len(SMALL_CORPUS) + 1}
    assert "wasps.txt" in index.sources
