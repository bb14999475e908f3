"""CI gate: follow-up questions on the conversation gold set (tests/gold/followups), with the real model.

The ten development documents are indexed together; every follow-up is
answered with its history and alone (the baseline that ignores the
conversation). The bars sit 0.02 below the figures measured when the gate
was set, so a regression fails. `rag.search.followup` has no fitted numbers; the
answers use the shipped parameters, as `rag ask` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import quiet

import rag
from rag.answers.pipeline import explain
from rag.cli import main
from rag.eval.conversations import format_report, score
from rag.search.followup import leans

GOLD = Path(__file__).parent.parent / "gold"
CONVERSATIONS = GOLD / "followups" / "conversations.jsonl"

EVIDENCE_IN_TOP3 = 0.745  # target 0.80, not met: 0.765 with the history, 0.706 alone
MARGIN_OVER_BASELINE = 0.039  # 0.059
ABSTENTION = 0.707  # 0.727 (alone: 0.636)
# 0.078 (alone: 0.157): one follow-up whose quotes missed the evidence now abstains instead, because the
# answer the history found does not hold what it asks ("what option should I try if it goes wrong?").
FALSE_ABSTENTION = 0.098

pytestmark = pytest.mark.model


def test_follow_ups_meet_the_bar_and_beat_the_history_blind_baseline(dev_index):
    report = score(dev_index, CONVERSATIONS)
    printed = format_report(report)
    assert report.conversations >= 40 and len(report.documents) >= 6
    with_history, alone = report.followup, report.baseline
    assert with_history.evidence_in_top3_quotes >= EVIDENCE_IN_TOP3, printed
    assert with_history.evidence_in_top3_quotes - alone.evidence_in_top3_quotes >= MARGIN_OVER_BASELINE, printed
    assert with_history.abstention >= ABSTENTION, printed
    assert with_history.false_abstention <= FALSE_ABSTENTION, printed
    assert all(o.exact for o in with_history.outcomes + alone.outcomes)
    # Follow-ups that found their evidence through the history say what they searched.
    assert any(o.searched and o.found for o in with_history.outcomes)
    unresolvable = [o for o in with_history.outcomes if o.kind == "unresolvable"]
    assert unresolvable and all(o.abstained for o in unresolvable), printed


def test_questions_without_history_are_answered_as_before(dev_index):
    """The default path is today's: no history, or a history for a question that stands alone."""
    questions = [json.loads(line)["question"] for name in ("ssh-manual", "mpl-2.0")
                 for line in (GOLD / f"{name}.jsonl").read_text("utf-8").splitlines() if line.strip()]
    standing = 0
    for question in questions:
        today = explain(dev_index, question)[0]
        assert dev_index.answer(question) == today
        if not leans(question):
            standing += 1
            assert dev_index.answer(question, history=["What does the ssh -A option do?"]) == today
    assert standing >= len(questions) // 2


def test_rag_followups_prints_the_figures(dev_index, capsys):
    assert main(["followups", str(CONVERSATIONS), "--seeds", str(GOLD / "docs"), "--index", str(dev_index.index_dir)]) == 0
    out = capsys.readouterr().out
    assert "with history" in out and "evidence in first 3 quotes" in out


@pytest.fixture(scope="module")
def three_docs(tmp_path_factory: pytest.TempPathFactory) -> rag.Index:
    seeds = tmp_path_factory.mktemp("seeds")
    for name in ("japan-nato-alignment.txt", "python-json-module.txt", "valgrind-faq.txt"):
        shutil.copy(GOLD / "docs" / name, seeds / name)
    return rag.build_index(seeds, tmp_path_factory.mktemp("index"), log=quiet)


@pytest.mark.parametrize(("earlier", "question"), [
    ("What does valgrind report as a memory leak?", "Who invented it?"),
    ("What does valgrind report as a memory leak?", "Who won it in 1998?"),
    ("What does json.dumps do with sort_keys?", "What colour is it?"),
    ("What does json.dumps do with sort_keys?", "Who wrote it?"),
])
def test_unanswerable_follow_up_abstains_as_it_does_alone(three_docs, earlier, question):
    """The earlier question's words must not make a follow-up quote the earlier topic."""
    assert three_docs.answer(question).abstained  # the documents do not say
    result = three_docs.answer(question, history=[earlier])
    assert result.abstained, (result.searched, [q.text[:80] for q in result.quotes])


def test_an_answerable_follow_up_still_finds_the_earlier_topic(three_docs):
    result = three_docs.answer("Is it sorted?", history=["What does json.dumps do with sort_keys?"])
    assert not result.abstained
    assert any("sort_keys" in q.text for q in result.quotes), result.text
