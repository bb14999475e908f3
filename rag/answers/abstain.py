"""Abstention: the signals that say whether the chosen sentences answer the question.

No single score separates answerable from unanswerable questions with a
small embedding model, so several signals are combined by a logistic model
whose weights and threshold are fitted on the development gold sets
(`rag.search.tuning`). A question that asks for a date, a number or a share needs
a sentence that holds one.

Does not choose sentences or render answers.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.answers.quotes import Sentence, quote_span
from rag.ingest.text import word_set
from rag.search.ranking import Hit

if TYPE_CHECKING:
    from rag.stores import Candidates, Store


@dataclass(frozen=True)
class Signals:
    """What the abstention model looks at, for one question (also reported by `rag eval`)."""

    best_sentence: float  # highest sentence score (see _Candidate.score)
    best_cosine: float  # highest sentence cosine
    top_dense: float  # cosine of the best passage
    top_score: float  # ranking score of the best passage
    coverage: float  # share of the question's content words found in the quoted sentences
    unknown: float  # share of the question's content words that occur nowhere in the documents
    agreement: bool  # dense and BM25 rank the same passage in their top 3
    margin: float  # best sentence score minus the runner-up in another passage
    best_late: float  # highest sentence late-interaction score
    top_late: float  # late-interaction score of the best passage
    type_missing: bool  # the question asks for a date, number or share and the best sentence has none
    lift: float  # ranking score of the best passage minus the mean over every candidate
    missing_rare: float  # IDF-weighted share of the question's known words missing from the best passage
    weakest: float  # the question token worst matched by any token of the best sentence's passage
    weak_share: float  # share of question tokens whose best match there is below WEAK
    checker: float = 0.0  # the answer checker's best logit among the sentences it read (0 without a checker)
    detail_missing: bool = False  # the question asks for a version or a default and no quoted sentence names one

    def values(self) -> dict[str, float]:
        return {name: float(value) for name, value in asdict(self).items()}


def measure(found: Candidates, store: Store, question: str, query_tokens: np.ndarray, hits: list[Hit], pool: np.ndarray,
            candidates: list[Sentence], chosen: list[Sentence], wanted: set[str], extend_to: int = 0) -> Signals:
    """The signals for one question: `pool` holds the ranking score of every candidate passage;
    `extend_to` is the quotes' word limit (`rag.answers.quotes.quote_span`)."""
    if not candidates:
        return Signals(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, False, 0.0, 0.0, 0.0, False, 0.0, 1.0, 0.0, 1.0)
    best = candidates[0]
    runner = next((c.score for c in candidates[1:] if c.chunk != best.chunk), 0.0)
    covered: set[str] = set()
    detail = expected_detail(question)
    detail_found = False
    for cand in chosen:
        document = store.text_of(found.chunks[cand.chunk].passage.citation.source)
        covered |= word_set(document[cand.start:cand.end])
        if detail is not None and not detail_found:
            # The whole quote the reader would see: "…are supported:" brings the versions it announces.
            span = quote_span(found, store, cand, extend_to)
            detail_found = detail.search(document[span.start : span.end]) is not None
    vocab = found.vocabulary
    unknown = sum(1 for w in wanted if w not in vocab) / len(wanted) if wanted else 0.0
    dense_top = {h.index for h in hits if 0 < h.dense_rank <= 3}
    lexical_top = {h.index for h in hits if 0 < h.lexical_rank <= 3}
    return Signals(
        best_sentence=best.score,
        best_cosine=max(c.cosine for c in candidates),
        top_dense=max((h.dense for h in hits), default=0.0),
        top_score=max((h.score for h in hits), default=0.0),
        coverage=len(wanted & covered) / len(wanted) if wanted else 0.0,
        unknown=unknown,
        agreement=bool(dense_top & lexical_top),
        margin=best.score - runner,
        best_late=max(c.late for c in candidates),
        top_late=max((h.late for h in hits), default=0.0),
        # Near-topic questions the documents cannot answer ("When was the agreement
        # signed?") still find a sentence on the right topic; what it lacks is the
        # kind of fact asked for.
        type_missing=expected_type(question) is not None and not best.typed,
        lift=float(hits[0].score - pool.mean()) if hits and len(pool) else 0.0,
        missing_rare=_missing_rare(found, wanted, found.chunks[best.chunk].search_text),
        detail_missing=detail is not None and not detail_found,
        **_token_match(found, query_tokens, best.chunk),
    )


WEAK = 0.6  # a question token whose best match in a passage is below this cosine is not matched there


def _token_match(found: Candidates, query_tokens: np.ndarray, chunk: int) -> dict[str, float]:
    """How well the passage matches the question's worst-matched tokens.

    Late interaction averages over the question's tokens, so a passage on the
    right topic that lacks the one thing asked for still scores well; the
    minimum does not average that away.
    """
    first, last = found.sentence_rows(chunk)
    start, end = int(found.token_offsets[first]), int(found.token_offsets[last])
    if len(query_tokens) == 0 or end <= start:
        return {"weakest": 0.0, "weak_share": 1.0}
    best = (query_tokens @ found.tokens.rows(start, end).T).max(axis=1)
    return {"weakest": float(best.min()), "weak_share": float(np.mean(best < WEAK))}


def _missing_rare(found: Candidates, wanted: set[str], passage: str) -> float:
    """How much of the question's rarer vocabulary the passage lacks, weighted by IDF.

    Words the documents never use are left to `unknown`; a near-topic question
    the documents cannot answer often names one specific thing (an option, a
    place, a version) that the best passage does not mention.
    """
    df, n = found.frequencies, found.passages
    known = [w for w in wanted if df.get(w)]
    if not known:
        return 0.0
    weights = {w: math.log(1 + n / df[w]) for w in known}
    present = word_set(passage)
    return sum(v for w, v in weights.items() if w not in present) / sum(weights.values())


_DATE_Q = re.compile(r"^\s*(when|since when)\b|\b(what|which) (year|month|date|day)\b|\bin what year\b", re.I)
_SHARE_Q = re.compile(r"\b(share|percentage|percent|proportion|ratio)\b|%", re.I)
_SHARE = re.compile(r"%|\bper ?cent\b|\bhalf\b|\bthird\b|\bquarter\b", re.I)
_NUMBER_Q = re.compile(r"\bhow (many|much|long|far|often)\b|\bwhat (percentage|share|proportion|number|amount)\b", re.I)
_DATE = re.compile(r"\b(1[5-9]|20)\d{2}s?\b|\b(january|february|march|april|may|june|july|august|september|"
                   r"october|november|december)\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|"
                     r"thousand|million|billion|trillion|dozen|double|doubling|twice|triple|half|per cent|percent)\b", re.I)


# Questions about a version or a default name a setting or a feature the
# documents do use, so the best sentence is on topic; what it often lacks is
# the version number or the stated default itself.
_VERSION_Q = re.compile(
    r"\b(?:which|what)\s+(?:\w+\s+){0,3}?(?<!press )(?:version|release)s?\b"
    r"(?!\s+(?:notes?|manager|date|criteria|control|string|valve|cycle|process|candidate|team|schedule|branch))"
    r"|\bminimum\b.*\bversion\b", re.I)
# A version number ("2.39.0", "version 3", "GPLv3", "Python 3") or a named release ("the Bullseye release").
_VERSION = re.compile(r"\b\d+(?:\.\d+)+\b|(?i:\b(?:version|release|v)\s*\d)|[A-Za-z]v\d|\b[A-Z][\w+-]*\s\d+\b"
                      r"|(?<=[a-z,;]\s)[A-Z][a-z]+ release\b")
_DEFAULT_Q = re.compile(r"\bdefaults?\b", re.I)
_DEFAULT = re.compile(r"\bdefault|\bunless\b|\bif (?:not|no)\b|\botherwise\b", re.I)


def expected_detail(question: str) -> re.Pattern[str] | None:
    """The pattern a quote must contain, for questions that ask for a version or a default."""
    if _VERSION_Q.search(question):
        return _VERSION
    if _DEFAULT_Q.search(question):
        return _DEFAULT
    return None


# "When is the hook run?" asks for the occasion, which a date or a clause answers ("…after the
# package is removed"); "When was it signed?" and "When will it end?" ask for a date.
_OCCASION_Q = re.compile(r"^\W*(?:and\s+)?when\s+(?:is|are|does|do|should|must|can)\b", re.I)
_OCCASION = re.compile(_DATE.pattern + r"|\b(?:when|whenever|after|before|once|until|upon|if|unless|during|while)\b",
                       re.I)


def expected_type(question: str) -> re.Pattern[str] | None:
    """The pattern an answer must contain, for questions that ask for a date (or an occasion), share or number."""
    if _OCCASION_Q.search(question):
        return _OCCASION
    if _DATE_Q.search(question):
        return _DATE
    if _SHARE_Q.search(question):
        return _SHARE
    if _NUMBER_Q.search(question):
        return _NUMBER
    return None


