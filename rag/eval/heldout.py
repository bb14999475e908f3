"""Fit the tuned numbers on some documents' gold questions, for scoring others.

`rag eval` over several documents scores each one with `Params` fitted
without it (leave-one-document-out); `make calibrate` fits them on every
document and writes `rag/search/params.json`. Both go through `fit_params`: ranking
weights first (they change which passages the answer sees), then the
sentence-score weights (they change what is quoted), then the abstention
model on the signals the answers give under those weights.

Questions are encoded once; signals are cached per set of ranking weights,
since most folds choose the same ones.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.answers.index import Index
from rag.answers.pipeline import checker_applies, explain
from rag.checker.model import WEIGHTS_DIR, Checker, for_document
from rag.embed.model import QueryVectors
from rag.eval.gold import GoldQuestion, evidence_hit, overlaps
from rag.search.query import check_question
from rag.search.tuning import Params, RankCase, fit_rank, with_abstention

Key = tuple[str, str]  # (document set, question id)
PASSAGE_GRID = (1.0, 2.0, 4.0)  # candidate weights of a sentence's passage score
LATE_GRID = (0.0, 0.5, 1.0)  # candidate weights of a sentence's own late-interaction score
CHECKER_GRID = (0.25, 0.5, 1.0, 2.0)  # candidate weights of the answer checker's logit (0: not used)


@dataclass
class Prepared:
    """Every gold question encoded once, with its ranking case."""

    sets: dict[str, list[GoldQuestion]]
    encoded: dict[Key, tuple[QueryVectors, bool]] = field(default_factory=dict)
    cases: dict[Key, RankCase] = field(default_factory=dict)
    checkers: dict[str, Checker | None] = field(default_factory=dict)  # per set: a checker that never saw it
    _answers: dict[tuple[Any, ...], tuple[bool, bool, dict[str, float]]] = field(default_factory=dict)


def prepare(index: Index, sets: dict[str, list[GoldQuestion]], *, depth: int = 10, progress: bool = False) -> Prepared:
    from tqdm import tqdm

    prepared = Prepared(sets, checkers={name: held_out_checker(index, name) for name in sets})
    todo = [(name, q) for name, questions in sets.items() for q in questions]
    for name, q in tqdm(todo, desc="encoding", disable=not progress, file=sys.stderr):
        query = check_question(q.question, depth)
        vectors, truncated = index.encode_query(query)
        prepared.encoded[(name, q.id)] = (vectors, truncated)
        if q.answerable:
            found = index.candidates(query, depth, encoded=vectors)
            cites = [index.chunks[int(i)].passage.citation for i in found.ids]
            relevant = np.array([overlaps(c.source, c.start, c.end, q) for c in cites], dtype=bool)
            prepared.cases[(name, q.id)] = RankCase(found.features, relevant)
    return prepared


def held_out_checker(index: Index, name: str) -> Checker | None:
    """For an index of the packaged model, a checker never trained on the document `name`
    (`rag.checker.model.for_document`); None for another model or with RAG_CHECKER=off."""
    if not checker_applies(index) or not any(WEIGHTS_DIR.glob("*.npz")):
        return None
    return for_document(name)  # loads only the checker this document needs, never the shipped one as a test


def answered_under(index: Index, prepared: Prepared, params: Params, name: str, q: GoldQuestion,
                   k: int) -> tuple[bool, bool, dict[str, float]]:
    """Whether one question's first quote, and any of its first three, hold its evidence, and its abstention
    signals, when answered under `params`' ranking and sentence weights (whatever the abstention model)."""
    key = (tuple(sorted(params.rank.items())), params.cosine_weight, params.late_weight, params.passage_weight,
           params.checker_weight, params.quote_words, k, name, q.id)
    if key not in prepared._answers:
        result, signals = explain(index, q.question, k=k, params=replace(params, threshold=0.0),
                                  encoded=prepared.encoded[(name, q.id)], checker=prepared.checkers.get(name))
        hits = [bool(evidence_hit(c.source, c.start, c.end, q)) for c in (x.citation for x in result.quotes[:3])]
        prepared._answers[key] = (bool(hits[:1] and hits[0]), any(hits), signals.values())
    return prepared._answers[key]


def fit_sentences(index: Index, prepared: Prepared, names: list[str], params: Params, k: int) -> Params:
    """The sentence-score weights whose first three quotes hold the evidence for the most training questions;
    then, with a checker, its weight, judged by the first quote and the first three (the two shares added)."""
    questions = [(n, q) for n in names for q in prepared.sets[n] if q.answerable]
    if not questions:  # nothing to fit on: keep the weights as they are
        return params

    def held(trial: Params, first_too: bool) -> float:
        answers = [answered_under(index, prepared, trial, n, q, k) for n, q in questions]
        return sum(any3 + (first if first_too else 0) for first, any3, _ in answers) / len(questions)

    best: tuple[float, Params] | None = None
    for passage, late in itertools.product(PASSAGE_GRID, LATE_GRID):
        trial = replace(params, passage_weight=passage, late_weight=late, checker_weight=0.0)
        score = held(trial, False)
        if best is None or score > best[0] + 1e-9:
            best = (score, trial)
    assert best is not None
    if any(prepared.checkers.get(n) is not None for n in names):
        chosen = best[1]
        best = (held(chosen, True), chosen)
        for weight in CHECKER_GRID:  # 0 stays unless the checker helps on the training documents
            trial = replace(chosen, checker_weight=weight)
            score = held(trial, True)
            if score > best[0] + 1e-9:
                best = (score, trial)
    return best[1]


def fit_params(index: Index, prepared: Prepared, names: list[str], base: Params, *, k: int = 5) -> Params:
    """Ranking weights, sentence weights and the abstention model fitted on the gold sets `names` alone."""
    cases = [prepared.cases[(n, q.id)] for n in names for q in prepared.sets[n] if q.answerable]
    params = fit_sentences(index, prepared, names, replace(base, rank=fit_rank(cases)), k)
    questions = [(n, q) for n in names for q in prepared.sets[n]]
    signals = [answered_under(index, prepared, params, n, q, k)[2] for n, q in questions]
    fitted = with_abstention(params, signals, [q.answerable for _, q in questions])
    return replace(fitted, fitted_on=", ".join(names))
