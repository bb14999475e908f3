"""A build writes only into a folder of its own and removes only files it can show it wrote.

Each test puts a user's file where a build used to remove it (a name that starts like an index's data files),
or points the build at a folder that is not its own, and checks the file is still there afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import SMALL_CORPUS, quiet

import rag
from rag.cli import main
from rag.embed.model import HashEmbedder
from rag.errors import IndexStateError

# Names a user may well give their own files: each starts as one of an index's data files does.
USER_FILES = {"documents-2024.txt": "my tax notes\n", "tokens-list.txt": "a, b\n", "vectors-notes.md": "# v\n",
              "sentences-draft.txt": "one. two.\n", "passages-chosen.txt": "Psalm 23\n"}
BEES = "Hive Notes\n\nBees gather nectar from clover in the long evenings of early summer.\n"


def build(seeds: Path, index_dir: Path | str) -> rag.Index:
    return rag.build_index(seeds, index_dir, embedder=HashEmbedder(), log=quiet)


def put_user_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in USER_FILES.items():
        (folder / name).write_text(text, "utf-8")
    (folder / "bm25-results").mkdir()
    (folder / "bm25-results" / "run1.csv").write_text("q,score\n", "utf-8")


def assert_user_files_kept(folder: Path) -> None:
    for name, text in USER_FILES.items():
        assert (folder / name).read_text("utf-8") == text, name
    assert (folder / "bm25-results" / "run1.csv").read_text("utf-8") == "q,score\n"


def test_a_folder_holding_files_named_like_index_data_is_refused_and_they_stay(make_seeds, tmp_path) -> None:
    seeds, folder = make_seeds(SMALL_CORPUS), tmp_path / "d"
    put_user_files(folder)
    with pytest.raises(IndexStateError, match=r"holds files that are not an index's \(bm25-results, "
                                              r"documents-2024\.txt, passages-chosen\.txt and 3 more\); pass --index"):
        build(seeds, folder)
    assert_user_files_kept(folder)
    assert sorted(os.listdir(folder)) == sorted([*USER_FILES, "bm25-results"])  # not even a lock file


def test_files_a_user_puts_in_an_index_folder_survive_rebuilds(make_seeds, tmp_path) -> None:
    seeds, folder = make_seeds(SMALL_CORPUS), tmp_path / "index"
    folder.mkdir()
    (folder / "README.md").write_text("# index/\n\nBuilt by `rag build`.\n", "utf-8")  # as the repo's index/ ships
    first = build(seeds, folder)
    put_user_files(folder)
    (seeds / "hives.txt").write_text(BEES, "utf-8")
    second = build(seeds, folder)
    assert second.manifest.files != first.manifest.files and "hives.txt" in second.sources
    assert_user_files_kept(folder)
    assert (folder / "README.md").read_text("utf-8").startswith("# index/")
    assert not set(first.manifest.files.values()) & set(os.listdir(folder))  # the old generation is gone
    rag.load_index(folder, embedder=HashEmbedder())


def test_an_empty_index_name_is_refused_and_the_current_folder_untouched(make_seeds, tmp_path, monkeypatch,
                                                                        capsys) -> None:
    seeds, here = make_seeds(SMALL_CORPUS), tmp_path / "here"
    put_user_files(here)
    monkeypatch.chdir(here)
    with pytest.raises(IndexStateError, match="empty, which would mean the current folder; pass --index DIR"):
        build(seeds, "")
    assert main(["build", "--seeds", str(seeds), "--index", "", "--model", "hash-embedder"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: The index folder's name is empty") and err.count("\n") == 1
    assert_user_files_kept(here)
    assert sorted(os.listdir(here)) == sorted([*USER_FILES, "bm25-results"])


def test_the_seeds_folder_is_refused_as_the_index_and_its_documents_stay(make_seeds, tmp_path) -> None:
    seeds = make_seeds({**SMALL_CORPUS, "documents-2024.txt": BEES})
    with pytest.raises(IndexStateError, match="is the seeds folder; pass --index DIR"):
        build(seeds, seeds)
    assert (seeds / "documents-2024.txt").read_text("utf-8") == BEES
    assert sorted(os.listdir(seeds)) == sorted([*SMALL_CORPUS, "documents-2024.txt"])


def test_an_index_folder_holding_the_seeds_is_refused(make_seeds, tmp_path) -> None:
    folder = tmp_path / "index"
    build(make_seeds(SMALL_CORPUS), folder)  # an index folder of its own
    inner = make_seeds({"documents-2024.txt": BEES}, name="index/docs")  # then seeds put inside it
    before = sorted(os.listdir(folder))
    with pytest.raises(IndexStateError, match=r"holds the seeds folder .*docs; pass --index DIR, a folder of its "
                                              "own outside it"):
        build(inner, folder)
    with pytest.raises(IndexStateError, match="holds the seeds folder"):
        build(tmp_path / "index" / "docs", tmp_path)  # or any folder above them
    assert sorted(os.listdir(folder)) == before and (inner / "documents-2024.txt").read_text("utf-8") == BEES


KILLED_BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import rag
    from rag.embed.model import HashEmbedder

    class Stuck(HashEmbedder):  # the build's row files are open by the time it embeds
        def encode_spans(self, *args, **kwargs):
            Path(sys.argv[3]).write_text("embedding", "utf-8")
            time.sleep(600)

    rag.build_index(sys.argv[1], sys.argv[2], embedder=Stuck(), log=lambda line: None)
""")


def kill_build_while_embedding(seeds: Path, folder: Path, tmp_path: Path) -> None:
    """Run `rag.build_index` in another process and kill it (SIGKILL) while it embeds, its files half-written."""
    marker = tmp_path / "embedding"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(rag.__file__).resolve().parent.parent)}
    process = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(seeds), str(folder), str(marker)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the build never reached embedding"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()


def test_a_killed_builds_files_are_removed_by_the_next_build_and_a_users_never(make_seeds, tmp_path) -> None:
    seeds, folder = make_seeds(SMALL_CORPUS), tmp_path / "index"
    first = build(seeds, folder)
    (seeds / "hives.txt").write_text(BEES, "utf-8")
    kill_build_while_embedding(seeds, folder, tmp_path)
    kept = set(first.manifest.files.values()) | {"manifest.json", ".lock"}
    left = set(os.listdir(folder)) - kept
    assert any(name.startswith(("tokens-", "sentences-", "passages-")) for name in left), left  # half-written
    assert rag.load_index(folder, embedder=HashEmbedder(), check_sources=False).sources == first.sources
    put_user_files(folder)  # the user's own files, named as the killed build's are
    second = build(seeds, folder)
    assert "hives.txt" in second.sources
    assert_user_files_kept(folder)
    assert set(os.listdir(folder)) == set(second.manifest.files.values()) | {"manifest.json", ".lock",
                                                                              *USER_FILES, "bm25-results"}


def test_a_killed_first_build_inside_the_seeds_is_never_read_as_documents(make_seeds, tmp_path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    folder = seeds / "index"  # an index kept inside its seeds folder is left out of the documents
    kill_build_while_embedding(seeds, folder, tmp_path)
    assert not (folder / "manifest.json").exists() and len(os.listdir(folder)) > 2  # files, but no index yet
    index = build(seeds, folder)
    assert sorted(index.sources) == sorted(SMALL_CORPUS)
    skipped = json.loads((folder / "manifest.json").read_text("utf-8"))["skipped"]
    assert not [s for s in skipped if s["source"].startswith("index/")], skipped
    assert set(os.listdir(folder)) == set(index.manifest.files.values()) | {"manifest.json", ".lock"}


def test_a_journal_json_the_build_did_not_write_is_never_overwritten(make_seeds, tmp_path) -> None:
    seeds, folder = make_seeds(SMALL_CORPUS), tmp_path / "index"
    build(seeds, folder)
    (folder / "journal.json").write_text('{"my": "diary"}\n', "utf-8")
    (seeds / "hives.txt").write_text(BEES, "utf-8")
    with pytest.raises(IndexStateError, match=r"journal\.json the build did not write; move it out"):
        build(seeds, folder)
    assert (folder / "journal.json").read_text("utf-8") == '{"my": "diary"}\n'
    rag.load_index(folder, embedder=HashEmbedder(), check_sources=False)
