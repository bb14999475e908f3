"""The feedback log is bounded (one record, one file, the rotated files kept) and exports whatever text a
question holds: lines end at "\\n" only."""

from __future__ import annotations

import json

import pytest

import rag.service.feedback as feedback
from rag import InputError
from rag.cli import main
from rag.service.feedback import export_lines, read_log, record


def _answer(question: str, quote: str = "") -> dict:
    quotes = [{"text": quote, "citation": {"source": "a.txt", "start": 0, "end": len(quote)}}] if quote else []
    return {"question": question, "abstained": not quotes, "message": "", "searched": "", "quotes": quotes}


def _record(log, question: str, quote: str = "", verdict: str = "helpful", history=()) -> dict:
    return record(log, verdict=verdict, question=question, history=list(history), answer=_answer(question, quote),
                  index_version="v1")


@pytest.mark.parametrize("part", ["question", "quote", "history"])
def test_an_oversized_record_is_refused_and_nothing_is_written(tmp_path, part) -> None:
    log = tmp_path / "feedback.jsonl"
    _record(log, "Which flowers do bees visit?")
    before = log.read_bytes()
    big = "x" * (feedback.MAX_RECORD_BYTES + 1)
    kwargs = {"question": big if part == "question" else "q?", "quote": big if part == "quote" else "",
              "history": [big] if part == "history" else ()}
    with pytest.raises(InputError, match=r"This feedback takes .* bytes, more than the .*not recorded; ask a shorter question"):
        _record(log, **kwargs)
    assert log.read_bytes() == before


def test_a_record_just_under_the_cap_is_kept_whole(tmp_path) -> None:
    log = tmp_path / "feedback.jsonl"
    question = "é" * (feedback.MAX_RECORD_BYTES // 4 - 1_000)  # two UTF-8 bytes each, and kept twice (answer too)
    _record(log, question)
    assert read_log(log)[0]["question"] == question


def test_the_log_rotates_at_its_cap_keeps_a_bounded_number_and_exports_all_oldest_first(tmp_path, monkeypatch,
                                                                                        capsys) -> None:
    monkeypatch.setattr(feedback, "MAX_LOG_BYTES", 3_000)
    monkeypatch.setattr(feedback, "KEEP", 3)
    log = tmp_path / "feedback.jsonl"
    written = [_record(log, f"question number {n:03}?", quote=f"quoted text {n}") for n in range(60)]
    size = len(json.dumps(written[0], ensure_ascii=False).encode()) + 1
    files = feedback.log_files(log)
    assert [p.name for p in files] == ["feedback.jsonl.3", "feedback.jsonl.2", "feedback.jsonl.1", "feedback.jsonl"]
    assert all(p.stat().st_size <= 3_000 for p in files)
    assert sum(p.stat().st_size for p in files) <= 4 * 3_000
    assert not (tmp_path / "feedback.jsonl.4").exists()  # the oldest past KEEP were removed
    kept = [r["question"] for r in read_log(log)]
    assert kept == [r["question"] for r in written[-len(kept):]]  # the newest, oldest first, none missing between
    assert len(kept) >= 4 * (3_000 // size) - 4
    assert main(["feedback", "export", str(log)]) == 0
    out = capsys.readouterr().out
    assert [json.loads(line)["question"] for line in out.splitlines()] == kept


def test_a_flood_of_records_keeps_the_log_within_its_bound(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(feedback, "MAX_LOG_BYTES", 20_000)
    monkeypatch.setattr(feedback, "MAX_RECORD_BYTES", 5_000)
    log = tmp_path / "feedback.jsonl"
    refused = 0
    for n in range(200):
        try:
            _record(log, f"forged {n} " + "y" * (n * 50))
        except InputError:
            refused += 1
    assert refused > 0
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert total <= (feedback.KEEP + 1) * 20_000


# json.dumps escapes \r and \x1c-\x1e itself; U+2028, U+2029 and U+0085 it writes as they are.
@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\u0085", "\r\u2028", "\x1c\x1d\x1e\u0085", "\r\n\x0b\x0c\u2029"])
def test_a_question_holding_a_line_separator_exports_whole(tmp_path, capsys, odd) -> None:
    log = tmp_path / "feedback.jsonl"
    _record(log, "Where do bees go?")
    question = f"What does the report say{odd}about harbours?"
    _record(log, question, quote=f"Ports{odd}rebuild", verdict="helpful")
    _record(log, "Who won the 1998 World Cup?", verdict="should_abstain")
    assert [r["question"] for r in read_log(log)] == ["Where do bees go?", question, "Who won the 1998 World Cup?"]
    assert main(["feedback", "export", str(log)]) == 0
    out, err = capsys.readouterr()
    exported = [json.loads(line) for line in out.split("\n") if line]
    assert [c["question"] for c in exported] == [r["question"] for r in read_log(log)]
    assert exported[1]["evidence"] == [{"source": "a.txt", "text": f"Ports{odd}rebuild"}]
    assert "3 gold-set candidate" in err
    assert export_lines(log) == [line for line in out.split("\n") if line]


def test_a_log_written_with_raw_separators_by_hand_reads_line_by_line(tmp_path) -> None:
    log = tmp_path / "feedback.jsonl"
    lines = [json.dumps({"verdict": "wrong", "question": f"q{n}\u2028\u0085 more"}, ensure_ascii=False)
             for n in range(3)]
    log.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    assert [r["question"] for r in read_log(log)] == [f"q{n}\u2028\u0085 more" for n in range(3)]
    log.write_bytes(("\n".join(lines) + "\nnot json\n").encode("utf-8"))
    with pytest.raises(InputError, match=r"feedback.jsonl:4: not valid JSON"):
        read_log(log)
