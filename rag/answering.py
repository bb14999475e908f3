"""Cited answers: pick the sentences that answer, quote them verbatim, or abstain.

Sentences of the retrieved passages are scored against the question (the
cosine of precomputed sentence vectors, the sentence's and its passage's
late-interaction scores), and the best one to three are quoted. A quoted
sentence brings the sentences it depends on: the one it points back to
("This would…") and the one that continues it ("First, …"), so a quote reads
on its own. Contiguous sentences are merged, and each quote is checked
against the file on disk before it is returned. When the signals say the
documents do not answer, the answer abstains and says so plainly.

Does not generate or paraphrase text: every quote is a slice of a source file.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .embed import QueryVectors
from .retrieve import Hit, maxsim
from .text import content_words, jaccard, word_set
from .tuning import Params, shipped
from .types import Answer, Citation, Quote

if TYPE_CHECKING:
    from .index import Index

MAX_QUOTES = 3
TYPE_BONUS = 0.1  # for a sentence holding the date/number a "when"/"how many" question asks for
QUOTE_MARGIN = 0.4  # a further sentence is quoted only if this close to the best
ABSTAIN_MESSAGE = "The documents do not answer this question."


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

    def values(self) -> dict[str, float]:
        return {name: float(value) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class _Candidate:
    chunk: int
    start: int
    end: int
    cosine: float
    late: float  # late-interaction score of the sentence's tokens against the question's
    passage: float  # late-interaction score of the sentence's passage
    typed: bool  # holds the kind of fact the question asks for (a date, a number)
    score: float  # weighted sum of the above (see Params)


def answer(index: Index, question: str, *, k: int = 5, sources: list[str] | None = None) -> Answer:
    return explain(index, question, k=k, sources=sources)[0]


def explain(index: Index, question: str, *, k: int = 5, sources: list[str] | None = None,
            params: Params | None = None, encoded: tuple[QueryVectors, bool] | None = None,
            ) -> tuple[Answer, Signals]:
    """The answer and the signals its abstention decision was made on.

    `params` defaults to the shipped ones; `encoded` lets a caller that asks
    the same question under several parameter sets encode it once.
    """
    from .query import check_question

    params = params or shipped()
    query = check_question(question, k)
    vectors, truncated = encoded or index.encode_query(query)
    hits = index.search(query, k, sources=sources, encoded=vectors, weights=params.rank)
    passages = [replace(index.chunks[h.index].passage, score=round(h.score, 6)) for h in hits]
    wanted = set(content_words(query.text))

    with index.one_blas_thread():
        candidates = _candidates(index, query.text, vectors, hits, params)
    candidates.sort(key=lambda c: -c.score)
    chosen = _choose(index, candidates)
    signals = _signals(index, query.text, hits, candidates, chosen, wanted)
    abstained = not chosen or params.support_of(signals.values()) < params.threshold
    quotes = [] if abstained else _quotes(index, chosen)
    message = ABSTAIN_MESSAGE if abstained else ""
    if truncated:
        note = "Your question was long, so it was shortened to fit the model."
        message = f"{message} {note}".strip()
    result = Answer(query.original if not truncated else query.text, quotes, passages, abstained, message,
                    truncated)
    return replace(result, text=render(result)), signals


def _candidates(index: Index, question: str, encoded: QueryVectors, hits: list[Hit],
                params: Params) -> list[_Candidate]:
    """Every sentence of the retrieved passages, with the scores that rank it."""
    candidates: list[_Candidate] = []
    expected = _expected_type(question)
    for hit in hits:
        chunk = index.chunks[hit.index]
        first = int(index.sentence_offsets[hit.index])
        cosines = index.sentence_vectors[first : first + len(chunk.sentences)] @ encoded.vector
        rows = np.arange(first, first + len(chunk.sentences))
        starts = index.token_offsets[rows].copy()
        source_text = index.text_of(chunk.passage.citation.source)
        # A dependent sentence ("Both contribute to…") is matched together with
        # the sentence it points back to, which says what it is about.
        for n, (start, end) in enumerate(chunk.sentences):
            if is_dependent(source_text[start:end]) and (n > 0 or _paragraph(index, hit.index)[0] < hit.index):
                starts[n] = index.token_offsets[rows[n] - 1]
        lates = maxsim(encoded.tokens, index.token_vectors, starts, index.token_offsets[rows + 1])
        for n, (start, end) in enumerate(chunk.sentences):
            text = source_text[start:end]
            typed = expected is not None and expected.search(text) is not None
            score = (params.cosine_weight * cosines[n] + params.late_weight * lates[n]
                     + params.passage_weight * hit.late + (TYPE_BONUS if typed else 0.0))
            candidates.append(_Candidate(hit.index, start, end, float(cosines[n]),
                                         float(lates[n]), hit.late, typed, float(score)))
    return candidates


def _choose(index: Index, candidates: list[_Candidate]) -> list[_Candidate]:
    """The best sentence, plus up to two more that score nearly as well; no near-duplicates."""
    chosen: list[_Candidate] = []
    seen: list[frozenset[str]] = []
    for cand in candidates:
        if len(chosen) == MAX_QUOTES or (chosen and cand.score < chosen[0].score - QUOTE_MARGIN):
            break
        text = index.text_of(index.chunks[cand.chunk].passage.citation.source)[cand.start:cand.end]
        words = word_set(text)
        # A pull quote and its body sentence, or a sentence repeated in two documents, appear once.
        if _near_duplicate(words, seen):
            continue
        seen.append(words)
        chosen.append(cand)
    return chosen


BACK_STEPS = 1  # antecedent sentences a quoted dependent sentence brings with it
FORWARD_STEPS = 1  # dependent sentences that follow a quoted sentence and are quoted with it

# A sentence that opens by pointing back ("This would…", "Both contribute…",
# "First, …", "On the top of this list…") does not stand alone: quoted by
# itself it loses what it is about, and the sentence it points back to often
# says what the question asks only together with it.
_DEPENDENT = re.compile(
    # A pronoun or demonstrative subject: "This would…", "They…", "Both contribute…"
    # (but not "Both Japan and Korea…", "It is widely believed…", "That the plan…").
    r"^\W*(?:This|These|Those|Such|Its|They|Their|Here|He|She|His|Her|"
    r"That(?!\s+(?:the|a|an)\b)|"
    r"Both(?!(?:\W+\w+){1,5}?\W+and\b)|"
    r"It(?!\s+(?:is|was)\b(?!\s+(?:this|these|that|those|such)\b)))\b"
    # An ordinal or a connective that continues the previous sentence: "First, …", "As a result, …".
    r"|^\W*(?:First|Second|Third|Fourth|Fifth|Firstly|Secondly|Thirdly|Lastly|Finally|Next|Last|Also)\s*,"
    r"|^\W*(?:Moreover|Furthermore|Additionally|In addition|As a result|Therefore|Thus|Hence|Consequently|"
    r"Similarly|Likewise|For example|For instance|The latter|The former)\b"
    # "this" / "these" / "those" among the first few words: "On the top of this list…",
    # "Collectively, these are…", "To overcome these obstacles…".
    r"|^(?:\W*\w+){1,4}?\W+(?:this|these|those)\b"
)


def is_dependent(sentence: str) -> bool:
    """Whether a sentence opens by referring back to the one before it."""
    return _DEPENDENT.match(sentence) is not None


def _paragraph(index: Index, chunk: int) -> tuple[int, int]:
    """The first and last chunk of the body paragraph that `chunk` belongs to."""
    def same(i: int) -> bool:
        a, b = index.chunks[i].passage.citation, index.chunks[chunk].passage.citation
        return a.source == b.source and a.paragraph == b.paragraph

    lo, hi = chunk, chunk
    while lo > 0 and same(lo - 1):
        lo -= 1
    while hi + 1 < len(index.chunks) and same(hi + 1):
        hi += 1
    return lo, hi


def _in_context(index: Index, cand: _Candidate) -> list[Citation]:
    """The sentence's span widened to the sentences it depends on and those that depend on it.

    Usually one span; two when the sentence ends its paragraph and the next
    paragraph opens by continuing it ("…have numerous effects." / "First, …").
    """
    lo, hi = _paragraph(index, cand.chunk)
    spans = [span for c in index.chunks[lo : hi + 1] for span in c.sentences]
    cite = index.chunks[cand.chunk].passage.citation
    text = index.text_of(cite.source)
    pos = next(n for n, (s, _) in enumerate(spans) if s == cand.start)
    first = last = pos
    while first > 0 and pos - first < BACK_STEPS and is_dependent(text[spans[first][0] : spans[first][1]]):
        first -= 1
    while last + 1 < len(spans) and last - pos < FORWARD_STEPS and is_dependent(text[spans[last + 1][0] : spans[last + 1][1]]):
        last += 1
    out = [Citation(cite.source, cite.section, cite.paragraph, spans[first][0], spans[last][1])]
    if FORWARD_STEPS and last == pos == len(spans) - 1 and hi + 1 < len(index.chunks):
        following = index.chunks[hi + 1]
        nxt = following.passage.citation
        start, end = following.sentences[0]
        if (nxt.source == cite.source and nxt.paragraph == cite.paragraph + 1 and nxt.section == cite.section
                and is_dependent(text[start:end])):
            out.append(Citation(nxt.source, nxt.section, nxt.paragraph, start, end))
    return out


def _quotes(index: Index, chosen: list[_Candidate]) -> list[Quote]:
    """Quote each chosen sentence with the sentences it depends on; merge what touches or overlaps.

    Quotes are ordered by score; within one paragraph, merged sentences keep
    document order. A quote that repeats a better one (the same sentence in
    two documents) is dropped.
    """
    merged: list[tuple[Citation, float]] = []
    for cand in chosen:
        for span, score in ((span, cand.score) for span in _in_context(index, cand)):
            # Absorb every quote the span touches, until none is left: a span
            # can bridge two quotes that did not touch each other.
            touching = [item for item in merged if _touch(index, span, item[0])]
            while touching:
                merged = [item for item in merged if item not in touching]
                start = min([span.start] + [c.start for c, _ in touching])
                end = max([span.end] + [c.end for c, _ in touching])
                span = Citation(span.source, span.section, span.paragraph, start, end)
                score = max([score] + [s for _, s in touching])
                touching = [item for item in merged if _touch(index, span, item[0])]
            merged.append((span, score))
    merged.sort(key=lambda item: (-item[1], item[0].source, item[0].start))
    quotes: list[Quote] = []
    seen: list[frozenset[str]] = []
    for citation, score in merged:
        text = index.text_of(citation.source)[citation.start : citation.end]
        words = word_set(text)
        if _near_duplicate(words, seen) or not index.verify(citation, text):
            continue
        seen.append(words)
        quotes.append(Quote(text, round(score, 6), citation))
        if len(quotes) == MAX_QUOTES:
            break
    return quotes


def _near_duplicate(words: frozenset[str], seen: list[frozenset[str]]) -> bool:
    """Shares at least 70% of its words with something already kept (Jaccard)."""
    return any(jaccard(words, other) >= 0.7 for other in seen)


def _touch(index: Index, a: Citation, b: Citation) -> bool:
    """Two spans of one paragraph overlap or have only whitespace between them."""
    if a.source != b.source or a.paragraph != b.paragraph:
        return False
    lo, hi = (a.end, b.start) if a.end <= b.start else (b.end, a.start)
    return hi <= lo or not index.text_of(a.source)[lo:hi].strip()


def _signals(index: Index, question: str, hits: list, candidates: list[_Candidate], chosen: list[_Candidate],
             wanted: set[str]) -> Signals:
    if not candidates:
        return Signals(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, False, 0.0, 0.0, 0.0, False)
    best = candidates[0]
    runner = next((c.score for c in candidates[1:] if c.chunk != best.chunk), 0.0)
    covered: set[str] = set()
    for cand in chosen:
        text = index.text_of(index.chunks[cand.chunk].passage.citation.source)[cand.start:cand.end]
        covered |= word_set(text)
    vocab = index.bm25.vocab_dict
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
        type_missing=_expected_type(question) is not None and not best.typed,
    )


_DATE_Q = re.compile(r"^\s*(when|since when)\b|\b(what|which) (year|month|date|day)\b|\bin what year\b", re.I)
_SHARE_Q = re.compile(r"\b(share|percentage|percent|proportion|ratio)\b|%", re.I)
_SHARE = re.compile(r"%|\bper ?cent\b|\bhalf\b|\bthird\b|\bquarter\b", re.I)
_NUMBER_Q = re.compile(r"\bhow (many|much|long|far|often)\b|\bwhat (percentage|share|proportion|number|amount)\b", re.I)
_DATE = re.compile(r"\b(1[5-9]|20)\d{2}s?\b|\b(january|february|march|april|may|june|july|august|september|"
                   r"october|november|december)\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|"
                     r"thousand|million|billion|trillion|dozen|double|doubling|twice|triple|half|per cent|percent)\b", re.I)


def _expected_type(question: str) -> re.Pattern[str] | None:
    """The pattern an answer must contain, for questions that ask for a date, share or number."""
    if _DATE_Q.search(question):
        return _DATE
    if _SHARE_Q.search(question):
        return _SHARE
    if _NUMBER_Q.search(question):
        return _NUMBER
    return None


def render(result: Answer) -> str:
    """The answer as Markdown-style text with numbered markers and a source list."""
    lines: list[str] = []
    if result.abstained:
        lines.append(result.message or ABSTAIN_MESSAGE)
        if result.passages:
            lines.append("")
            lines.append("Related, not an answer:")
            labels = list(dict.fromkeys(p.citation.label() for p in result.passages))  # one per paragraph
            lines.extend(f"- {label}" for label in labels[:3])
        return "\n".join(lines)
    if result.message:
        lines += [result.message, ""]
    for n, quote in enumerate(result.quotes, start=1):
        lines.append(f"> “{' '.join(quote.text.split())}” [{n}]")
        lines.append(">")
    if lines and lines[-1] == ">":
        lines.pop()
    lines.append("")
    lines.extend(f"[{n}] {q.citation.label()}" for n, q in enumerate(result.quotes, start=1))
    return "\n".join(lines)


__all__ = ["ABSTAIN_MESSAGE", "Signals", "answer", "explain", "render"]
