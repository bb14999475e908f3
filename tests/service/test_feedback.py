"""Feedback on answers: the JSONL log, its export as gold-set candidates, and `rag feedback export`."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest
from conftest import SMALL_CORPUS

from rag import InputError
from rag.cli import main
from rag.eval.gold import load_gold
from rag.service.feedback import VERDICTS, export, export_lines, read_log, record


@pytest.fixture
def answered(hash_index):
    return hash_index, hash_index.answer("Where do honey bees gather pollen?", 5)


def test_record_appends_one_line_with_question_history_quotes_and_version(tmp_path, answered):
    index, answer = answered
    assert answer.quotes  # the feedback must carry quotes for this test to mean anything
    log = tmp_path / "logs" / "feedback.jsonl"
    record(log, verdict="helpful", question=answer.question, history=["What do hives need?"], answer=answer,
           index_version="v1", sources=["bees.txt"])
    record(log, verdict="wrong", question="second?", history=[], answer=dataclasses.asdict(answer), index_version="v2")
    lines = log.read_text("utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["verdict"] == "helpful" and first["question"] == answer.question
    assert first["history"] == ["What do hives need?"] and first["index_version"] == "v1"
    assert first["sources"] == ["bees.txt"]
    quote = first["answer"]["quotes"][0]
    c = quote["citation"]
    assert index.text_of(c["source"])[c["start"]:c["end"]] == quote["text"]  # exact, as answered
    assert json.loads(lines[1])["verdict"] == "wrong"


@pytest.mark.parametrize("verdict", ["great", "", None, "Like"])
def test_unknown_verdict_is_refused(tmp_path, answered, verdict):
    with pytest.raises(InputError, match="verdict must be one of"):
        record(tmp_path / "f.jsonl", verdict=verdict, question="q", history=[], answer=answered[1], index_version="")
    assert not (tmp_path / "f.jsonl").exists()


def test_concurrent_records_never_interleave(tmp_path, answered):
    log = tmp_path / "f.jsonl"
    threads = [threading.Thread(target=record, args=(log,), kwargs={
        "verdict": VERDICTS[n % 3], "question": f"question {n}", "history": [], "answer": answered[1],
        "index_version": "v"}) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["question"] for r in read_log(log)) == sorted(f"question {n}" for n in range(40))


def test_export_makes_unreviewed_candidates_that_rag_eval_reads(tmp_path, answered):
    index, answer = answered
    log = tmp_path / "f.jsonl"
    for verdict in VERDICTS:
        record(log, verdict=verdict, question=f"{verdict}: {answer.question}", history=["earlier?"], answer=answer,
               index_version="v1")
    found = {c["kind"]: c for c in export(read_log(log))}
    assert set(found) == {"feedback-helpful", "feedback-wrong", "feedback-should-abstain"}
    assert all(c["reviewed"] is False and c["history"] == ["earlier?"] for c in found.values())
    helpful = found["feedback-helpful"]
    assert helpful["answerable"] is True
    assert helpful["evidence"] == [{"source": q.citation.source, "text": q.text} for q in answer.quotes]
    assert found["feedback-should-abstain"]["answerable"] is False and found["feedback-should-abstain"]["evidence"] == []
    wrong = found["feedback-wrong"]
    assert wrong["evidence"] == [] and wrong["wrong_quotes"] == helpful["evidence"] and "note" in wrong

    # The helpful and should-abstain candidates load as a gold set against the same documents.
    gold = tmp_path / "candidates.jsonl"
    gold.write_text("".join(json.dumps(c) + "\n" for c in (helpful, found["feedback-should-abstain"])), "utf-8")
    questions = load_gold(gold, index.text_of)
    assert [q.answerable for q in questions] == [True, False]
    span = questions[0].evidence[0][0]
    assert index.text_of(span.source)[span.start:span.end] == answer.quotes[0].text
    # A "wrong" candidate has no evidence until someone adds it, and rag eval says so.
    gold.write_text(json.dumps(wrong) + "\n", "utf-8")
    with pytest.raises(InputError, match="has no evidence"):
        load_gold(gold, index.text_of)


def test_the_latest_feedback_on_a_question_wins(tmp_path, answered):
    log = tmp_path / "f.jsonl"
    for _ in range(3):
        record(log, verdict="helpful", question="same?", history=[], answer=answered[1], index_version="v1")
    record(log, verdict="helpful", question="same?", history=["another conversation"], answer=answered[1],
           index_version="v2")
    assert len(export(read_log(log))) == 2


def test_cli_export_writes_candidates_and_says_what_to_do(tmp_path, answered, capsys):
    log = tmp_path / "f.jsonl"
    record(log, verdict="should_abstain", question="Who won the 1998 World Cup?", history=[], answer=answered[1],
           index_version="v1")
    assert main(["feedback", "export", str(log)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["question"] == "Who won the 1998 World Cup?"
    assert "1 gold-set candidate" in err and "review" in err
    target = tmp_path / "out.jsonl"
    assert main(["feedback", "export", str(log), "--out", str(target)]) == 0
    assert target.read_text("utf-8").splitlines() == export_lines(log)


@pytest.mark.parametrize(("content", "expected"), [
    (None, "does not exist"),
    ("not json\n", ":1: not valid JSON"),
    ('{"verdict": "maybe", "question": "q"}\n', ":1: not a feedback record"),
    ('[1, 2]\n', ":1: not a feedback record"),
    (b"\xff\xfe\n", "Cannot read feedback log"),
])
def test_cli_export_of_a_bad_log_is_one_line(tmp_path, capsys, content, expected):
    log = tmp_path / "f.jsonl"
    if isinstance(content, bytes):
        log.write_bytes(content)
    elif content is not None:
        log.write_text(content, "utf-8")
    assert main(["feedback", "export", str(log)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: ") and expected in err and len(err.strip().splitlines()) == 1


def test_small_corpus_is_what_the_fixture_indexes(hash_index):
    assert set(hash_index.sources) == set(SMALL_CORPUS)


def test_the_same_verdict_on_the_same_answer_twice_in_a_row_is_one_record(tmp_path, answered):
    _index, answer = answered
    log = tmp_path / "feedback.jsonl"
    for verdict in ("should_abstain", "should_abstain", "helpful", "should_abstain"):
        record(log, verdict=verdict, question=answer.question, history=[], answer=answer, index_version="v1")
    verdicts = [json.loads(line)["verdict"] for line in log.read_text("utf-8").splitlines()]
    assert verdicts == ["should_abstain", "helpful", "should_abstain"]
