"""Evaluation and answering at their edges: one-class gold sets, and documents edited after loading."""

from __future__ import annotations

import math
import os
from dataclasses import replace

from conftest import SMALL_CORPUS

from rag.answers.pipeline import ABSTAIN_MESSAGE, CHANGED_MESSAGE, explain
from rag.eval.evaluate import evaluate
from rag.eval.gold import GoldQuestion, Span
from rag.search.tuning import fit_abstention, shipped

ALWAYS_ANSWER = replace(shipped(), threshold=0.0)


def _question(qid: str, text: str, evidence: tuple[tuple[Span, ...], ...] = ()) -> GoldQuestion:
    return GoldQuestion(qid, text, bool(evidence), evidence)


def _sets(index) -> dict[str, list[GoldQuestion]]:
    text = index.text_of("bees.txt")
    start = text.index("Honey bees visit clover")
    honey = ((Span("bees.txt", start, start + 40),),)
    start = text.index("Beekeepers often paint")
    paint = ((Span("bees.txt", start, start + 30),),)
    return {
        "mixed": [_question("m1", "What do honey bees visit in early summer?", honey),
                  _question("m2", "Who won the 1966 football world cup?")],
        "answerable": [_question("a1", "What colour do beekeepers paint hive boxes?", paint)],
        "unanswerable": [_question("u1", "What is the capital of Peru?"),
                         _question("u2", "How tall is the Eiffel Tower?")],
    }


def test_abstention_fit_on_one_class_gives_a_rule_not_an_error() -> None:
    signals = [{name: 0.5 for name in shipped().support}] * 3
    weights, _, threshold = fit_abstention(signals, [True, True, True])
    assert set(weights.values()) == {0.0} and threshold == 0.0  # answer everything
    _, _, threshold = fit_abstention(signals, [False, False, False])
    assert threshold == 1.0  # abstain from everything


def test_held_out_eval_with_one_class_sets_runs_and_averages_without_nan(hash_index) -> None:
    report = evaluate(hash_index, _sets(hash_index), held_out=True, ablations=True, progress=False)
    assert report.held_out
    for name in ("mrr@10", "hit@5", "abstention", "false_abstention", "min_naive_margin"):
        value = report.metrics[name]
        assert value is not None and not math.isnan(value), (name, value)
    # The unanswerable-only set has no retrieval figure; the mean is over the sets that have one.
    assert math.isnan(next(s for s in report.sets if s.name == "unanswerable").metrics["mrr@10"])


def test_an_answer_whose_quotes_all_fail_verification_abstains_and_says_why(make_seeds, build_hash_index) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    index = build_hash_index(seeds)
    question = "What do honey bees visit in early summer?"
    before, _ = explain(index, question, params=ALWAYS_ANSWER)
    assert before.quotes and not before.abstained
    path = seeds / "bees.txt"
    text = path.read_text("utf-8")
    path.write_text(text.replace("Honey bees visit clover", "Wasps do not visit clover"), "utf-8")
    os.utime(path, ns=(1, 1))  # a new modification time, so the file is read again
    after, _ = explain(index, question, params=ALWAYS_ANSWER)
    assert after.abstained and not after.quotes
    assert after.message == CHANGED_MESSAGE != ABSTAIN_MESSAGE
    assert "rag build" in after.text
