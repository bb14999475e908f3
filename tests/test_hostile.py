"""Hostile inputs: links out of the seeds folder, undecodable names, damaged or
altered index files, unusable paths and out-of-range arguments.

Each must end in one line saying what to do (or a skipped file named in the
build output), never a traceback, a quote from outside the seeds, or debris
left in the index folder.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet

import rag
import rag.storage.index_folder as store
from rag.cli import main
from rag.errors import IndexStateError, InputError
from rag.service.loading import open_index

SECRET = "Zanzibar marmalade vault combination is ninety nine"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("rag: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def build_lines(seeds: Path, index_dir: Path) -> tuple[rag.Index, list[str]]:
    lines: list[str] = []
    index = rag.build_index(seeds, index_dir, embedder=rag.embed.model.HashEmbedder(), log=lines.append)
    return index, lines


# --- 1. links -------------------------------------------------------------


def test_link_to_a_file_outside_the_seeds_is_skipped_and_named(make_seeds, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(f"Secret Notes\n\n{SECRET}. It must never be quoted by the index.\n", encoding="utf-8")
    seeds = make_seeds(SMALL_CORPUS)
    (seeds / "link.txt").symlink_to(outside)
    (seeds / "passwd.txt").symlink_to("/etc/passwd")
    index, lines = build_lines(seeds, tmp_path / "index")
    assert "skipped link.txt: a link to a file outside the seeds folder" in lines
    assert "skipped passwd.txt: a link to a file outside the seeds folder" in lines
    assert "link.txt" not in index.sources and "passwd.txt" not in index.sources
    assert not any("marmalade" in p.text or "root:" in p.text for p in index.passages)
    assert all("marmalade" not in q.text for q in index.answer("What is the vault combination?").quotes)
    # The skipped links are part of the seeds as built: the index is not stale.
    assert rag.load_index(tmp_path / "index", embedder=rag.embed.model.HashEmbedder()).sources == index.sources


def test_seed_replaced_by_a_link_out_of_the_folder_after_the_build_is_not_read(hash_index, tmp_path: Path) -> None:
    seeds = Path(hash_index.manifest.seeds_dir)
    outside = tmp_path / "copy.txt"
    outside.write_text(SMALL_CORPUS["bees.txt"], encoding="utf-8")  # the same text: only the link is wrong
    (seeds / "bees.txt").unlink()
    (seeds / "bees.txt").symlink_to(outside)
    with pytest.raises(rag.StaleIndexError, match=r"bees\.txt"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())
    with pytest.raises(rag.StaleIndexError, match=r"Cannot read bees\.txt"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder(), check_sources=False)
    cite = next(p.citation for p in hash_index.passages if p.citation.source == "bees.txt")
    assert not hash_index.verify(cite, hash_index.text_of("bees.txt")[cite.start:cite.end])


def test_link_loop_is_skipped_and_named(make_seeds, tmp_path: Path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    (seeds / "loop.txt").symlink_to(seeds / "loop.txt")
    (seeds / "a.txt").symlink_to(seeds / "b.txt")
    (seeds / "b.txt").symlink_to(seeds / "a.txt")
    index, lines = build_lines(seeds, tmp_path / "index")
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert {line.split(":")[0] for line in skipped} == {"skipped loop.txt", "skipped a.txt", "skipped b.txt"}
    assert all("loop" in line for line in skipped), skipped
    assert sorted(index.sources) == sorted(SMALL_CORPUS)


def test_link_inside_the_seeds_is_read(make_seeds, tmp_path: Path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    (seeds / "sub").mkdir()
    (seeds / "sub" / "bees-again.txt").symlink_to(Path("..") / "bees.txt")
    index, lines = build_lines(seeds, tmp_path / "index")
    assert "sub/bees-again.txt" in index.sources
    assert not any(line.startswith("skipped") for line in lines)


# --- 2. undecodable file names --------------------------------------------


def test_seed_name_not_utf8_is_skipped_by_a_safe_name_and_leaves_no_files(make_seeds, tmp_path: Path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    with open(os.path.join(os.fsencode(seeds), b"bad\xff.txt"), "wb") as handle:
        handle.write(b"Bad Name\n\nThis file has a name that is not UTF-8 but its text is fine.\n")
    index_dir = tmp_path / "index"
    index, lines = build_lines(seeds, index_dir)
    named = [line for line in lines if "bad" in line]
    assert named == ["skipped bad\\xff.txt: its name is not valid UTF-8; rename it"], lines
    assert sorted(index.sources) == sorted(SMALL_CORPUS)
    manifest = json.loads((index_dir / "manifest.json").read_text("utf-8"))
    assert {"source": "bad\\xff.txt", "reason": "its name is not valid UTF-8; rename it"} in manifest["skipped"]
    referenced = set(manifest["files"].values()) | {"manifest.json", ".lock"}
    assert set(os.listdir(index_dir)) == referenced
    # Not stale on the next load: the name is part of what was built.
    assert rag.load_index(index_dir, embedder=rag.embed.model.HashEmbedder()).sources == index.sources


# --- 3. damaged index files -----------------------------------------------


def data_file(index_dir: Path, key: str) -> Path:
    return index_dir / json.loads((index_dir / "manifest.json").read_text("utf-8"))["files"][key]


def bm25_npy(index_dir: Path) -> Path:
    return sorted(data_file(index_dir, "bm25").glob("*.npy"))[0]


DAMAGED = {
    "sentences": lambda d: data_file(d, "sentences"),
    "tokens": lambda d: data_file(d, "tokens"),
    "token_offsets": lambda d: data_file(d, "token_offsets"),
    "bm25": bm25_npy,
}


@pytest.mark.parametrize("damage", ["empty", "random"])
@pytest.mark.parametrize("which", sorted(DAMAGED))
def test_damaged_data_file_gives_one_line_error(hash_index, capsys, which: str, damage: str) -> None:
    path = DAMAGED[which](hash_index.index_dir)
    path.write_bytes(b"" if damage == "empty" else np.random.default_rng(7).bytes(path.stat().st_size or 512))
    with pytest.raises(IndexStateError, match="rag build"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())
    code, _, err = run_cli(capsys, "search", "bees", "--index", str(hash_index.index_dir))
    assert code == 1
    assert "rebuild" in one_line_error(err)


@pytest.mark.parametrize("content", ["[]", "null", "42", '"text"'])
def test_manifest_that_is_not_an_object_gives_one_line_error(hash_index, capsys, content: str) -> None:
    (hash_index.index_dir / "manifest.json").write_text(content, encoding="utf-8")
    with pytest.raises(IndexStateError, match="not a JSON object"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())
    code, _, err = run_cli(capsys, "search", "bees", "--index", str(hash_index.index_dir))
    assert code == 1
    one_line_error(err)


@pytest.mark.parametrize("field, value, message", [
    ("files", [], "'files' of type list, not dict"),
    ("dimension", "64", "'dimension' of type str, not int"),
    ("checksums", None, "'checksums' of type NoneType, not dict"),
    ("files", {"passages": "/etc/passwd"}, "names data files outside"),
    ("files", {"passages": "../index2/passages.jsonl"}, "names data files outside"),
])
def test_manifest_with_wrong_field_types_gives_one_line_error(hash_index, capsys, field, value, message) -> None:
    path = hash_index.index_dir / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    data[field] = value if field != "files" or not isinstance(value, dict) else {**data["files"], **value}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexStateError, match=re.escape(message)):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())
    code, _, err = run_cli(capsys, "search", "bees", "--index", str(hash_index.index_dir))
    assert code == 1
    one_line_error(err)


@pytest.mark.parametrize("damage", ["manifest", "tokens", "bm25", "passages"])
def test_damaged_default_index_is_rebuilt(make_seeds, tmp_path: Path, damage: str, capsys) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    index_dir = tmp_path / "index"
    rag.build_index(seeds, index_dir, model="hash-embedder", log=quiet)
    if damage == "manifest":
        (index_dir / "manifest.json").write_text("[]", encoding="utf-8")
    elif damage == "bm25":
        bm25_npy(index_dir).write_bytes(b"")
    else:
        data_file(index_dir, damage).write_bytes(b"\x93NUMPY garbage")
    index = open_index(seeds, index_dir, progress=False)
    assert "rebuilding" in capsys.readouterr().err.lower() or damage == "manifest"
    assert sorted(index.sources) == sorted(SMALL_CORPUS)
    assert index.retrieve("honey bees clover", 1)[0].citation.source == "bees.txt"


# --- 4. checksums ---------------------------------------------------------


def test_manifest_records_a_checksum_of_every_data_file(hash_index) -> None:
    manifest = json.loads((hash_index.index_dir / "manifest.json").read_text("utf-8"))
    on_disk = {p.relative_to(hash_index.index_dir).as_posix() for p in hash_index.index_dir.rglob("*")
               if p.is_file() and not p.name.startswith((".", "manifest"))}
    assert set(manifest["checksums"]) == on_disk
    assert all(len(v["sha256"]) == 64 and v["size"] >= 0 for v in manifest["checksums"].values())


def test_sentence_rows_shuffled_are_detected_by_checksum(hash_index, capsys) -> None:
    path = data_file(hash_index.index_dir, "sentences")
    rows = np.load(path)
    np.save(path, rows[::-1].copy())  # loadable, same shape, wrong order
    with pytest.raises(IndexStateError, match=rf"{re.escape(path.name)} .*checksum.*rag build"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())
    code, _, err = run_cli(capsys, "search", "bees", "--index", str(hash_index.index_dir))
    assert code == 1
    assert path.name in one_line_error(err)


def test_passage_lines_swapped_are_detected_by_checksum(hash_index) -> None:
    path = data_file(hash_index.index_dir, "passages")
    lines = path.read_text("utf-8").splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(IndexStateError, match=rf"{re.escape(path.name)} .*checksum.*rebuild"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())


def test_large_array_is_checked_by_size_and_sample(hash_index, monkeypatch) -> None:
    monkeypatch.setattr(store, "HASH_LIMIT", 0)  # every array is "large": size and sampled blocks only
    rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())
    sentences = data_file(hash_index.index_dir, "sentences")
    original = sentences.read_bytes()
    np.save(sentences, np.load(sentences)[::-1].copy())
    with pytest.raises(IndexStateError, match=rf"{re.escape(sentences.name)} .*sampled sha256 checksum"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())
    sentences.write_bytes(original)
    tokens = data_file(hash_index.index_dir, "tokens")
    with open(tokens, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(IndexStateError, match=rf"{re.escape(tokens.name)} has size"):
        rag.load_index(hash_index.index_dir, embedder=rag.embed.model.HashEmbedder())


def test_text_files_are_hashed_in_full_whatever_their_size(hash_index, monkeypatch) -> None:
    monkeypatch.setattr(store, "HASH_LIMIT", 0)
    test_passage_lines_swapped_are_detected_by_checksum(hash_index)


# --- 5. unusable paths ----------------------------------------------------


def test_index_that_is_a_file_gives_one_line_error(make_seeds, tmp_path: Path, capsys) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    for command in (["build", "--seeds", str(seeds), "--model", "hash-embedder"], ["search", "bees"]):
        code, _, err = run_cli(capsys, *command, "--index", "/etc/passwd")
        assert code == 1
        assert "/etc/passwd is a file, not a folder" in one_line_error(err)


def test_index_that_cannot_be_created_gives_one_line_error(make_seeds, capsys) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    code, _, err = run_cli(capsys, "build", "--seeds", str(seeds), "--model", "hash-embedder", "--index", "/proc/x")
    assert code == 1
    assert "/proc/x" in one_line_error(err)
    assert not os.path.exists("/proc/x")
    code, _, err = run_cli(capsys, "search", "bees", "--index", "/proc/x")
    assert code == 1
    one_line_error(err)


def test_read_only_index_folder_gives_one_line_error(make_seeds, tmp_path: Path, capsys, monkeypatch) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    index_dir = tmp_path / "ro"
    index_dir.mkdir()
    index_dir.chmod(0o555)
    if os.geteuid() == 0:  # root writes through permission bits: make the folder refuse writes as it would
        real_open = open

        def refusing_open(file, *args, **kwargs):
            mode = args[0] if args else kwargs.get("mode", "r")
            if Path(file).parent == index_dir and "w" in mode:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr("builtins.open", refusing_open)
    try:
        code, _, err = run_cli(capsys, "build", "--seeds", str(seeds), "--model", "hash-embedder",
                               "--index", str(index_dir))
    finally:
        index_dir.chmod(0o755)
    assert code == 1
    line = one_line_error(err)
    assert str(index_dir) in line and "not writable" in line


def test_seeds_that_is_a_file_gives_one_line_error(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(capsys, "build", "--seeds", "/etc/passwd", "--model", "hash-embedder",
                           "--index", str(tmp_path / "index"))
    assert code == 1
    assert "/etc/passwd is a file, not a folder" in one_line_error(err)


def test_failed_build_leaves_no_index_folder_behind(tmp_path: Path, capsys) -> None:
    index_dir = tmp_path / "index"
    code, _, err = run_cli(capsys, "build", "--seeds", str(tmp_path / "missing"), "--model", "hash-embedder",
                           "--index", str(index_dir))
    assert code == 1
    one_line_error(err)
    assert not index_dir.exists()


def test_failed_write_removes_its_partial_files(hash_index, make_seeds, monkeypatch) -> None:
    index_dir = hash_index.index_dir
    before = sorted(os.listdir(index_dir))

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(IndexStateError, match="No space left"):
        rag.build_index(make_seeds(SMALL_CORPUS, name="seeds2"), index_dir, embedder=rag.embed.model.HashEmbedder(),
                        log=quiet)
    assert sorted(os.listdir(index_dir)) == before
    monkeypatch.undo()
    rag.load_index(index_dir, embedder=rag.embed.model.HashEmbedder(), check_sources=False)


def test_leftover_partial_files_are_removed_by_the_next_build(make_seeds, tmp_path: Path) -> None:
    # Regression guard (a kill -9 mid-write cannot clean up after itself; the next build must, as its
    # journal names the files: see rag.storage.journal).
    import rag.storage.journal as journal

    seeds = make_seeds(SMALL_CORPUS)
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    journal.record(index_dir, "19990101000000-0000dead")
    (index_dir / "passages-19990101000000-0000dead.jsonl").write_text('{"half', encoding="utf-8")
    (index_dir / "bm25-19990101000000-0000dead").mkdir()
    (index_dir / ".manifest-19990101000000-0000dead.json").write_text("{", encoding="utf-8")
    rag.build_index(seeds, index_dir, embedder=rag.embed.model.HashEmbedder(), log=quiet)
    names = set(os.listdir(index_dir))
    assert not any("dead" in n or n.startswith(".manifest-") or n == journal.JOURNAL for n in names), names


# --- 6. input edges -------------------------------------------------------


@pytest.mark.parametrize("sources", [[None], [1, 2], "bees.txt", ("bees.txt", 3), {"bees.txt": 1}])
def test_sources_that_are_not_a_list_of_names_raise_input_error(hash_index, sources) -> None:
    with pytest.raises(InputError, match="sources must be a list of document names"):
        hash_index.retrieve("bees", 1, sources=sources)
    with pytest.raises(InputError, match="sources must be a list of document names"):
        hash_index.answer("bees", 1, sources=sources)


def test_many_unknown_sources_give_a_short_error(hash_index) -> None:
    names = [f"missing-{i}.txt" for i in range(20_000)]
    with pytest.raises(InputError) as caught:
        hash_index.retrieve("bees", 1, sources=names)
    message = str(caught.value)
    assert len(message) < 300, message
    assert "missing-0.txt" in message and "20,000" in message


def test_sources_list_of_known_names_still_filters(hash_index) -> None:
    assert {p.citation.source for p in hash_index.retrieve("pawn", 3, sources=["chess.txt"])} == {"chess.txt"}


@pytest.mark.parametrize("port", ["99999", "-1", "0", "65536"])
def test_serve_port_out_of_range_gives_one_line_error(hash_index, capsys, port: str) -> None:
    code, _, err = run_cli(capsys, "serve", "--index", str(hash_index.index_dir), f"--port={port}")
    assert code == 1
    assert "port must be 1-65535" in one_line_error(err)


def test_start_rejects_port_out_of_range(hash_index) -> None:
    from ui.server import start

    with pytest.raises(InputError, match="port must be 1-65535"):
        start(hash_index, port=99999)

