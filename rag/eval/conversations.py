"""Scoring follow-up questions: a conversation gold set, answered with and without its history.

A conversation gold set is a `rag eval` gold set whose lines carry one more
field, `history`: the earlier questions, oldest first (tests/gold/followups/).
Each follow-up is answered twice: with its history (`Index.answer(...,
history=...)`) and alone, the baseline that ignores the conversation. For
answerable follow-ups the figure is the share whose first three quotes hold
gold evidence; for the others, the share that abstain.

`rag followups GOLD --seeds DIR --index DIR` prints the figures.

Does not fit anything: the answers use the index's shipped parameters, and
`rag.search.followup` has only fixed rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answers.index import Index
from rag.eval.gold import GoldQuestion, evidence_hit, load_gold
from rag.search.followup import check_history
from rag.types import Answer


@dataclass(frozen=True)
class Outcome:
    """One follow-up answered one way."""

    id: str
    kind: str
    answerable: bool
    abstained: bool
    found: bool  # gold evidence in the first three quotes
    searched: str
    exact: bool  # every quote is its citation's text

    @property
    def correct(self) -> bool:
        return self.found if self.answerable else self.abstained


@dataclass(frozen=True)
class Figures:
    """How one way of answering did on a set."""

    evidence_in_top3_quotes: float  # answerable follow-ups
    abstention: float  # unanswerable or unresolvable follow-ups
    false_abstention: float  # answerable follow-ups that abstained
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class FollowupReport:
    followup: Figures  # answered with the history
    baseline: Figures  # the follow-up asked alone
    conversations: int
    answerable: int
    documents: tuple[str, ...]


def load_conversations(path: str | Path, source_text: Any) -> list[tuple[GoldQuestion, list[str]]]:
    """The follow-ups of a conversation gold set, each with its history."""
    questions = load_gold(path, source_text)
    histories: dict[str, list[str]] = {}
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
        if line.strip():
            record = json.loads(line)
            histories[str(record.get("id", f"line{number}"))] = check_history(record.get("history", []))
    return [(q, histories[q.id]) for q in questions]


def score(index: Index, path: str | Path, *, k: int = 5) -> FollowupReport:
    """Answer every follow-up with its history and alone; the figures of both."""
    conversations = load_conversations(path, index.text_of)
    followup, baseline = [], []
    for q, history in conversations:
        followup.append(_outcome(index, q, index.answer(q.question, k, history=history)))
        baseline.append(_outcome(index, q, index.answer(q.question, k)))
    documents = sorted({s.source for q, _ in conversations for spans in q.evidence for s in spans})
    return FollowupReport(_figures(followup), _figures(baseline), len(conversations),
                          sum(q.answerable for q, _ in conversations), tuple(documents))


def _outcome(index: Index, q: GoldQuestion, result: Answer) -> Outcome:
    found = any(evidence_hit(c.source, c.start, c.end, q) for c in (x.citation for x in result.quotes[:3]))
    return Outcome(q.id, q.kind, q.answerable, result.abstained, found and not result.abstained,
                   getattr(result, "searched", ""), all(index.verify(x.citation, x.text) for x in result.quotes))


def _figures(outcomes: list[Outcome]) -> Figures:
    answerable = [o for o in outcomes if o.answerable]
    others = [o for o in outcomes if not o.answerable]
    return Figures(_share(o.found for o in answerable), _share(o.abstained for o in others),
                   _share(o.abstained for o in answerable), tuple(outcomes))


def _share(flags: Any) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 3) if values else 0.0


def format_report(report: FollowupReport) -> str:
    """The figures side by side, then every follow-up the history did not help with."""
    lines = [f"{report.conversations} conversations ({report.answerable} answerable follow-ups) over "
             f"{len(report.documents)} documents", "",
             f"{'':26}{'with history':>14}{'alone':>10}"]
    for label, name in (("evidence in first 3 quotes", "evidence_in_top3_quotes"), ("abstention", "abstention"),
                        ("false abstention", "false_abstention")):
        lines.append(f"{label:26}{getattr(report.followup, name):>14.3f}{getattr(report.baseline, name):>10.3f}")
    misses = [o for o in report.followup.outcomes if not o.correct]
    if misses:
        lines += ["", "Follow-ups still wrong with their history:"]
        for o in misses:
            what = "abstained" if o.abstained else ("answered" if not o.answerable else "quotes miss the evidence")
            lines.append(f"- {o.id} [{o.kind}] {what}; searched: {o.searched or '(as asked)'}")
    return "\n".join(lines)


__all__ = ["Figures", "FollowupReport", "Outcome", "format_report", "load_conversations", "score"]

