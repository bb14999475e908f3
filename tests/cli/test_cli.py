"""The `rag` command: one-line errors, exit codes, and --json output (fake-embedder indexes)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SMALL_CORPUS

from rag.cli import main
from rag.storage.index_folder import Manifest


def _run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=cwd or REPO,
                          input=stdin, timeout=120)


def _assert_one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rag: error:")
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def index_dir(make_seeds, build_hash_index, tmp_path) -> Path:
    target = tmp_path / "index"
    build_hash_index(make_seeds(SMALL_CORPUS), target)
    return target


# --- errors -----------------------------------------------------------------------


@pytest.mark.parametrize("question", ["   ", "", "\t\n"])
def test_search_blank_question_exits_1_with_one_error_line(question: str) -> None:
    result = _run("search", question)
    assert result.returncode == 1
    line = _assert_one_line_error(result.stderr)
    assert "blank" in line
    assert result.stdout == ""


def test_search_blank_question_in_process(capsys) -> None:
    assert main(["search", "   "]) == 1
    captured = capsys.readouterr()
    _assert_one_line_error(captured.err)
    assert captured.out == ""


def test_search_k_zero_exits_1(capsys) -> None:
    assert main(["search", "ships", "-k", "0"]) == 1
    _assert_one_line_error(capsys.readouterr().err)


def test_build_from_an_empty_folder_exits_1_with_a_clear_message(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    result = _run("build", "--seeds", str(tmp_path / "empty"), "--index", str(tmp_path / "X"),
                  "--model", "hash-embedder")
    assert result.returncode == 1
    line = _assert_one_line_error(result.stderr)
    assert str(tmp_path / "empty") in line
    assert "has no documents" in line and ".pdf" in line
    assert not (tmp_path / "X" / "manifest.json").exists()


def test_build_from_a_missing_folder_exits_1(tmp_path) -> None:
    result = _run("build", "--seeds", str(tmp_path / "none"), "--index", str(tmp_path / "X"),
                  "--model", "hash-embedder")
    assert result.returncode == 1
    assert "does not exist" in _assert_one_line_error(result.stderr)


def test_search_with_a_missing_index_exits_1_saying_to_run_rag_build(tmp_path) -> None:
    result = _run("search", "--index", str(tmp_path / "MISSING"), "q")
    assert result.returncode == 1
    line = _assert_one_line_error(result.stderr)
    assert "rag build" in line
    assert str(tmp_path / "MISSING") in line


def test_search_with_a_stale_index_exits_1_saying_to_run_rag_build(index_dir, tmp_path, capsys) -> None:
    seeds = Path(Manifest.read(index_dir).seeds_dir)
    (seeds / "bees.txt").write_text("Changed\n\nThe bees left the garden for the winter months.\n", "utf-8")
    assert main(["search", "--index", str(index_dir), "bees"]) == 1
    assert "rag build" in _assert_one_line_error(capsys.readouterr().err)


def test_no_command_prints_help_and_exits_2(capsys) -> None:
    assert main([]) == 2
    assert "usage: rag" in capsys.readouterr().out


# --- build ---------------------------------------------------------------------------


def test_build_with_the_hash_embedder_writes_an_index(make_seeds, tmp_path, capsys) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    assert main(["build", "--seeds", str(seeds), "--index", str(tmp_path / "built"), "--model", "hash-embedder"]) == 0
    manifest = Manifest.read(tmp_path / "built")
    assert manifest.model == "hash-embedder"
    assert set(manifest.sources) == set(SMALL_CORPUS)
    out = capsys.readouterr().out
    assert f"Indexed {manifest.passages} passages" in out


def test_build_reports_skipped_files_on_stderr(make_seeds, tmp_path, capsys) -> None:
    seeds = make_seeds({**SMALL_CORPUS, "broken.txt": b"caf\xe9 au lait\n"})
    assert main(["build", "--seeds", str(seeds), "--index", str(tmp_path / "built"), "--model", "hash-embedder"]) == 0
    err = capsys.readouterr().err
    assert "skipped broken.txt" in err
    assert "Traceback" not in err


# --- search --json ---------------------------------------------------------------------


def test_search_json_prints_passages_with_citations(index_dir, capsys) -> None:
    assert main(["search", "--index", str(index_dir), "--json", "-k", "3", "electric ships shore power"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and 1 <= len(data) <= 3
    seeds = Path(Manifest.read(index_dir).seeds_dir)
    for item in data:
        assert set(item) == {"id", "text", "citation", "score"}
        assert set(item["citation"]) == {"source", "section", "paragraph", "start", "end", "page"}
        c = item["citation"]
        source = (seeds / c["source"]).read_bytes().decode("utf-8")
        assert item["text"] == source[c["start"] : c["end"]]
        assert isinstance(item["score"], float)
        assert isinstance(c["paragraph"], int) and c["paragraph"] >= 1
    scores = [item["score"] for item in data]
    assert scores == sorted(scores, reverse=True)
    assert data[0]["citation"]["source"] == "ports.txt"


def test_search_plain_output_lists_labels_and_offsets(index_dir, capsys) -> None:
    assert main(["search", "--index", str(index_dir), "-k", "2", "honey bees"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1] ")
    assert "bees.txt" in out and "chars " in out


# --- ask --json from stdin -------------------------------------------------------------


def test_ask_json_reads_questions_from_stdin_one_json_line_each(index_dir, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("What do honey bees visit?\n\nWhat powers ships at berth?\n"))
    assert main(["ask", "--index", str(index_dir), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # the blank line is not a question
    answers = [json.loads(line) for line in lines]
    assert [a["question"] for a in answers] == ["What do honey bees visit?", "What powers ships at berth?"]
    seeds = Path(Manifest.read(index_dir).seeds_dir)
    for a in answers:
        assert {"question", "quotes", "passages", "abstained", "message", "truncated", "text"} <= set(a)
        assert isinstance(a["abstained"], bool)
        for q in a["quotes"]:
            c = q["citation"]
            assert q["text"] == (seeds / c["source"]).read_bytes().decode("utf-8")[c["start"] : c["end"]]


def test_ask_json_from_a_real_pipe(index_dir) -> None:
    result = _run("ask", "--index", str(index_dir), "--json", stdin="honey bees\nshore power\n")
    assert result.returncode == 0, result.stderr
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 2
    assert "Traceback" not in result.stderr


def test_ask_stdin_bad_line_is_reported_and_the_rest_still_answered(index_dir, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\x00\x01\nhoney bees\n"))
    assert main(["ask", "--index", str(index_dir), "--json"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert captured.err.startswith("rag: error:")


# --- eval --------------------------------------------------------------------------------


@pytest.fixture
def gold_file(tmp_path) -> Path:
    records = [
        {"id": "g1", "question": "What do honey bees visit in early summer?", "answerable": True,
         "evidence": [{"source": "bees.txt", "text": "Honey bees visit clover and lavender in early summer."}]},
        {"id": "g2", "question": "What do beekeepers paint the hive boxes?", "answerable": True,
         "evidence": [{"source": "bees.txt", "text": "Beekeepers often paint the boxes white"}]},
        {"id": "g3", "question": "Who won the 1966 football world cup?", "answerable": False},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def test_eval_below_a_minimum_exits_1_and_writes_json(index_dir, gold_file, tmp_path, capsys) -> None:
    out = tmp_path / "runs" / "out.json"
    code = main(["eval", str(gold_file), "--index", str(index_dir), "--min", "hit@5=1.01", "--json", str(out)])
    assert code == 1
    captured = capsys.readouterr()
    assert "hit@5" in captured.err
    assert "Traceback" not in captured.err
    report = json.loads(out.read_text("utf-8"))
    metrics = report["metrics"]
    for name in ("hit@1", "hit@5", "mrr@10", "ndcg@10"):
        assert 0.0 <= metrics[name] <= 1.0
    assert report["n_answerable"] == 2 and report["n_unanswerable"] == 1
    assert [q["id"] for s in report["sets"] for q in s["questions"]] == ["g1", "g2", "g3"]
    assert metrics["quote_exactness"] == 1.0


def test_eval_metrics_agree_with_retrieve(index_dir, gold_file, tmp_path, capsys) -> None:
    import rag

    out = tmp_path / "out.json"
    assert main(["eval", str(gold_file), "--index", str(index_dir), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text("utf-8"))["metrics"]
    index = rag.load_index(index_dir)
    seeds = Path(index.manifest.seeds_dir)
    bees = (seeds / "bees.txt").read_text("utf-8")
    hits1 = hits5 = 0
    for question, evidence in [("What do honey bees visit in early summer?", "Honey bees visit clover"),
                               ("What do beekeepers paint the hive boxes?", "Beekeepers often paint")]:
        at = bees.index(evidence)
        got = index.retrieve(question, k=5)
        ranks = [n for n, p in enumerate(got, start=1)
                 if p.citation.source == "bees.txt" and p.citation.start <= at < p.citation.end]
        hits1 += bool(ranks) and ranks[0] == 1
        hits5 += bool(ranks)
    assert metrics["hit@1"] == pytest.approx(hits1 / 2)
    assert metrics["hit@5"] == pytest.approx(hits5 / 2)


def test_eval_with_a_malformed_min_exits_1(index_dir, gold_file, capsys) -> None:
    assert main(["eval", str(gold_file), "--index", str(index_dir), "--min", "hit@5"]) == 1
    assert "METRIC=VALUE" in _assert_one_line_error(capsys.readouterr().err)


def test_eval_with_a_bad_gold_file_exits_1_naming_the_line(index_dir, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "?", "answerable": True,
                               "evidence": [{"source": "bees.txt", "text": "not in the file"}]}) + "\n", "utf-8")
    assert main(["eval", str(bad), "--index", str(index_dir)]) == 1
    assert "bad.jsonl:1" in _assert_one_line_error(capsys.readouterr().err)
