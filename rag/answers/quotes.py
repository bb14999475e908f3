"""Quotes: from scored sentences to verbatim, cited, self-contained excerpts.

The best sentence is chosen, with up to two more that score nearly as well.
A quoted sentence brings the sentences it depends on: the one it points back
to ("This would…") and the one that continues it ("First, …"), so a quote
reads on its own; a quote that ends by announcing what follows ("…can be run
via:") takes in what it announces. Contiguous sentences are merged, and each quote is checked
against the document as the store gives it now (the file on disk, for an
index folder) before it is returned.

Does not score sentences (`rag.answers.pipeline`) or decide to abstain (`rag.answers.abstain`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.ingest.text import jaccard, word_set
from rag.types import Citation, Quote

if TYPE_CHECKING:
    from rag.stores import Candidates, Store

MAX_QUOTES = 3
QUOTE_MARGIN = 0.4  # a further sentence is quoted only if this close to the best


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage and the scores that rank it as a quote."""

    chunk: int
    start: int
    end: int
    cosine: float
    late: float  # late-interaction score of the sentence's tokens against the question's
    passage: float  # ranking score of the sentence's passage
    typed: bool  # holds the kind of fact the question asks for (a date, a number)
    score: float  # weighted sum of the above (see Params)



def choose(found: Candidates, store: Store, candidates: list[Sentence]) -> list[Sentence]:
    """The best sentence, plus up to two more that score nearly as well; no near-duplicates."""
    chosen: list[Sentence] = []
    seen: list[frozenset[str]] = []
    for cand in candidates:
        if len(chosen) == MAX_QUOTES or (chosen and cand.score < chosen[0].score - QUOTE_MARGIN):
            break
        text = store.text_of(found.chunks[cand.chunk].passage.citation.source)[cand.start:cand.end]
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


def paragraph_of(found: Candidates, chunk: int) -> tuple[int, int]:
    """The first and last chunk of the body paragraph that `chunk` belongs to."""
    chunks = found.chunks

    def same(i: int) -> bool:
        if i not in chunks:
            return False
        a, b = chunks[i].passage.citation, chunks[chunk].passage.citation
        return a.source == b.source and a.paragraph == b.paragraph

    lo, hi = chunk, chunk
    while same(lo - 1):
        lo -= 1
    while same(hi + 1):
        hi += 1
    return lo, hi


def _in_context(found: Candidates, store: Store, cand: Sentence, extend_to: int = 0) -> list[Citation]:
    """The sentence's span widened to the sentences it depends on and those that depend on it,
    then to the following sentences of its paragraph while the quote stays within `extend_to` words.

    Usually one span; two when the sentence ends its paragraph and the next
    paragraph opens by continuing it ("…have numerous effects." / "First, …").
    """
    lo, hi = paragraph_of(found, cand.chunk)
    spans = [span for c in range(lo, hi + 1) for span in found.chunks[c].sentences]
    cite = found.chunks[cand.chunk].passage.citation
    text = store.text_of(cite.source)
    pos = next(n for n, (s, _) in enumerate(spans) if s == cand.start)
    first = last = pos
    while first > 0 and pos - first < BACK_STEPS and is_dependent(text[spans[first][0] : spans[first][1]]):
        first -= 1
    while last + 1 < len(spans) and last - pos < FORWARD_STEPS and is_dependent(text[spans[last + 1][0] : spans[last + 1][1]]):
        last += 1
    # A question often matches the sentence that sets out a problem while the
    # answer is the next one ("… loudly fail when the directory is missing." /
    # "The command has been taught to ignore such a failure.").
    while last + 1 < len(spans) and len(text[spans[first][0] : spans[last + 1][1]].split()) <= extend_to:
        last += 1
    end = spans[last][1]
    if introduces(text[spans[last][0] : end]):
        end = _introduced(found, store, text, spans, last, hi)
    out = [Citation(cite.source, cite.section, cite.paragraph, spans[first][0], end,
                    store.page_at(cite.source, spans[first][0]))]
    if FORWARD_STEPS and last == pos == len(spans) - 1 and end == spans[last][1] and hi + 1 in found.chunks:
        following = found.chunks[hi + 1]
        nxt = following.passage.citation
        start, end = following.sentences[0]
        if (nxt.source == cite.source and nxt.paragraph == cite.paragraph + 1 and nxt.section == cite.section
                and is_dependent(text[start:end])):
            out.append(Citation(nxt.source, nxt.section, nxt.paragraph, start, end, store.page_at(nxt.source, start)))
    return out


INTRODUCED_WORDS = 60  # words a quote ending in a colon takes in of what follows

_ANNOUNCES = re.compile(r"(?:[:：]|\b(?:like\s+this|as\s+follows))\s*$")


def introduces(sentence: str) -> bool:
    """Whether a sentence ends by announcing what follows ("…can be run via:", "…run configure like this")."""
    return _ANNOUNCES.search(sentence) is not None


def _introduced(found: Candidates, store: Store, text: str, spans: list[tuple[int, int]], last: int, hi: int) -> int:
    """Where a quote ending in a colon should end: past what the colon announces.

    The sentences after it in its paragraph, or else the opening of the next
    paragraph of the same section and page (a command, an example, a list's
    first item), whole sentences as far as INTRODUCED_WORDS allow: a quote
    that stops at "…run via:" leaves out its answer. A first sentence longer
    than that (a long code block or configuration file) is taken up to the
    last line break within the limit; one with no line break there is not taken.
    Does not cross a heading, a page or another document.
    """
    following = spans[last + 1 :]
    end = spans[last][1]
    if not following and hi + 1 in found.chunks:
        after = found.chunks[hi + 1]
        here, nxt = found.chunks[hi].passage.citation, after.passage.citation
        if (nxt.source == here.source and nxt.section == here.section and nxt.paragraph == here.paragraph + 1
                and after.sentences and not text[end : after.sentences[0][0]].strip()
                and store.page_at(here.source, after.sentences[0][0]) == store.page_at(here.source, end - 1)):
            following = list(after.sentences)
    words = 0
    for n, (start, stop) in enumerate(following):
        words += len(text[start:stop].split())
        if words <= INTRODUCED_WORDS:
            end = stop
            continue
        if n == 0:
            end = _lines_within(text, start, stop, INTRODUCED_WORDS) or end
        break
    return end


def _lines_within(text: str, start: int, stop: int, limit: int) -> int | None:
    """The end of the last whole line of text[start:stop] that keeps it within `limit` words (None: no such line)."""
    best = None
    at = text.find("\n", start, stop)
    while at >= 0 and len(text[start:at].split()) <= limit:
        if text[start:at].strip():
            best = start + len(text[start:at].rstrip())
        at = text.find("\n", at + 1, stop)
    return best


def quote_span(found: Candidates, store: Store, cand: Sentence, extend_to: int = 0) -> Citation:
    """The span a quote of `cand` would take (its first part, see `cite`)."""
    return _in_context(found, store, cand, extend_to)[0]


def cite(found: Candidates, store: Store, chosen: list[Sentence], extend_to: int = 0) -> list[Quote]:
    """Quote each chosen sentence with the sentences it depends on; merge what touches or overlaps.

    Quotes are ordered by score; within one paragraph, merged sentences keep
    document order. A quote that repeats a better one (the same sentence in
    two documents) is dropped.
    """
    merged: list[tuple[Citation, float]] = []
    for cand in chosen:
        for span, score in ((span, cand.score) for span in _in_context(found, store, cand, extend_to)):
            # Absorb every quote the span touches, until none is left: a span
            # can bridge two quotes that did not touch each other.
            touching = [item for item in merged if _touch(store, span, item[0])]
            while touching:
                merged = [item for item in merged if item not in touching]
                opening = min([span] + [c for c, _ in touching], key=lambda c: c.start)  # names section and paragraph
                end = max([span.end] + [c.end for c, _ in touching])
                span = Citation(span.source, opening.section, opening.paragraph, opening.start, end,
                                store.page_at(span.source, opening.start))
                score = max([score] + [s for _, s in touching])
                touching = [item for item in merged if _touch(store, span, item[0])]
            merged.append((span, score))
    merged.sort(key=lambda item: (-item[1], item[0].source, item[0].start))
    quotes: list[Quote] = []
    seen: list[frozenset[str]] = []
    for citation, score in merged:
        text = store.text_of(citation.source)[citation.start : citation.end]
        words = word_set(text)
        if _near_duplicate(words, seen) or not verified(store, citation, text):
            continue
        seen.append(words)
        quotes.append(Quote(text, round(score, 6), citation))
        if len(quotes) == MAX_QUOTES:
            break
    return quotes


def source_rows(quotes: Sequence[Quote]) -> list[int]:
    """Each quote's 1-based source row: quotes from one passage (document, section and paragraph) share
    one row and one marker, numbered in the order they first appear; each quote keeps its own offsets."""
    rows: dict[tuple[str, str | None, int], int] = {}
    return [rows.setdefault((q.citation.source, q.citation.section, q.citation.paragraph), len(rows) + 1)
            for q in quotes]


def _near_duplicate(words: frozenset[str], seen: list[frozenset[str]]) -> bool:
    """Shares at least 70% of its words with something already kept (Jaccard)."""
    return any(jaccard(words, other) >= 0.7 for other in seen)


def verified(store: Store, citation: Citation, text: str) -> bool:
    """True when `text` is exactly the cited slice of the document as the store gives it now (`Store.current`)."""
    current = store.current(citation.source)
    return current is not None and current[citation.start : citation.end] == text


def _touch(store: Store, a: Citation, b: Citation) -> bool:
    """Two spans of one document overlap, or two spans of one paragraph have only whitespace between them.

    (A quote that takes in what its colon announces ends in the next paragraph, so overlap is checked
    across paragraphs.)
    """
    if a.source != b.source:
        return False
    lo, hi = (a.end, b.start) if a.end <= b.start else (b.end, a.start)
    if hi < lo:
        return True
    return a.paragraph == b.paragraph and (hi == lo or not store.text_of(a.source)[lo:hi].strip())


