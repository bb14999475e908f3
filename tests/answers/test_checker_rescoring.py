"""The answer checker's place in answering: it rescores the best sentences and gives abstention a signal.

A scripted checker (any object with `score(question, texts)`) stands in for the trained one, so these
tests pin the pipeline's use of it, not the model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rag.answers.pipeline import CHECKED, default_checker, explain
from rag.search.tuning import shipped


class Scripted:
    """Gives `high` to every text containing `word`, `low` to the rest; records what it was asked."""

    def __init__(self, word: str, high: float = 4.0, low: float = -4.0) -> None:
        self.word, self.high, self.low = word, high, low
        self.asked: list[list[str]] = []

    def score(self, question: str, texts):
        self.asked.append(list(texts))
        return np.array([self.high if self.word in t else self.low for t in texts])


QUESTION = "Which port connected its container terminals to shore power?"


def test_a_weighted_checker_puts_the_quote_it_prefers_first(hash_index):
    params = replace(shipped(), threshold=0.0)
    plain, _ = explain(hash_index, QUESTION, params=params, checker=None)
    assert "Rotterdam" in plain.quotes[0].text
    checker = Scripted("substations")
    checked, signals = explain(hash_index, QUESTION, params=replace(params, checker_weight=10.0), checker=checker)
    assert "substations" in checked.quotes[0].text
    assert signals.checker == 4.0
    assert all(len(texts) <= CHECKED for texts in checker.asked)


def test_at_weight_zero_the_order_stays_and_only_the_signal_is_added(hash_index):
    params = replace(shipped(), threshold=0.0, checker_weight=0.0)
    plain, plain_signals = explain(hash_index, QUESTION, params=params, checker=None)
    checked, signals = explain(hash_index, QUESTION, params=params, checker=Scripted("nowhere", low=-2.5))
    assert [q.citation for q in checked.quotes] == [q.citation for q in plain.quotes]
    assert plain_signals.checker == 0.0 and signals.checker == -2.5


def test_the_checker_reads_each_quote_under_its_section_title(hash_index):
    checker = Scripted("Rotterdam")
    explain(hash_index, QUESTION, params=replace(shipped(), threshold=0.0), checker=checker)
    shore = [t for t in checker.asked[0] if "Rotterdam" in t]
    assert shore and shore[0].startswith("Shore Power: Rotterdam has connected")


def test_the_checker_signal_moves_abstention(hash_index):
    params = replace(shipped(), support={"checker": 1.0}, bias=0.0, threshold=0.5)
    sure, _ = explain(hash_index, QUESTION, params=params, checker=Scripted("Rotterdam", high=3.0, low=-3.0))
    unsure, _ = explain(hash_index, QUESTION, params=params, checker=Scripted("nowhere", low=-3.0))
    assert not sure.abstained and unsure.abstained


def test_no_shipped_checker_for_another_model_or_when_turned_off(hash_index, monkeypatch):
    assert default_checker(hash_index) is None  # the hash embedder is not the packaged model
    hash_index.embedder.name = "all-MiniLM-L6-v2"
    monkeypatch.setenv("RAG_CHECKER", "off")
    assert default_checker(hash_index) is None
