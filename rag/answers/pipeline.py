"""Cited answers: score the sentences of the retrieved passages, quote the best or abstain.

The question flows one way: validate (`rag.search.query`), encode (the embedder),
candidates from the store (`rag.stores`: one object with everything later
stages read), rank (`rag.search.ranking.rank`), score sentences, quote
(`rag.answers.quotes`) or abstain (`rag.answers.abstain`); each stage reads only what the
one before returned, and the store only for the documents' texts. A
sentence's score adds its cosine with the question, its own late-interaction
score and its passage's, with weights from `rag.search.tuning.Params`.

Does not generate or paraphrase text: every quote is a slice of a source file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol
from weakref import WeakKeyDictionary

import numpy as np

from rag.answers.abstain import Signals, expected_type, measure
from rag.answers.quotes import Sentence, choose, cite, is_dependent, paragraph_of, quote_span, source_rows
from rag.checker.model import Checker, quote_text
from rag.embed.model import QueryVectors
from rag.ingest.breaks import reads_document, reflowed
from rag.ingest.text import content_words, tokens
from rag.search.ranking import Hit, rank
from rag.search.tuning import Params, shipped
from rag.stores.signals import maxsim
from rag.types import Answer

if TYPE_CHECKING:
    from rag.search.query import Query
    from rag.stores import Candidates, Store


class Scorer(Protocol):
    """What answering reads of an answer checker (`rag.checker.model.Checker`): one logit per text."""

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray: ...


class Searchable(Protocol):
    """What answering reads of an index: `rag.answers.index.Index` gives it; this module never imports that."""

    store: Store

    @property
    def sources(self) -> list[str]: ...

    def text_of(self, source: str) -> str: ...

    def encode_query(self, query: Query) -> tuple[QueryVectors, bool]: ...

    def one_blas_thread(self) -> Any: ...

    def candidates(self, query: Query, k: int, *, sources: list[str] | None = None,
                   encoded: QueryVectors | None = None) -> Candidates: ...


CHECKED = 6  # sentences the checker rescores, best first: each costs one pass of the model
TYPE_BONUS = 0.1  # for a sentence holding the date/number a "when"/"how many" question asks for
ABSTAIN_MESSAGE = "The documents do not answer this question."
RELATED_NOTE = "They hold only related text, not an answer"  # above the passages an abstention lists
RECENT_SEARCHES = 16  # follow-up searches whose encoding each index remembers: a conversation repeats them
_RECENT: WeakKeyDictionary[Searchable, OrderedDict[str, tuple[QueryVectors, bool]]] = WeakKeyDictionary()
_RECENT_LOCK = threading.Lock()
# Each index's search words, by the documents a follow-up searched (None: all of them), worked out once.
_VOCABULARIES: WeakKeyDictionary[Searchable, dict[tuple[str, ...] | None, frozenset[str]]] = WeakKeyDictionary()
FEW_DOCUMENTS = 8  # a follow-up within more documents than this checks its words against every document's
CHANGED_MESSAGE = ("The documents changed since they were indexed, so nothing can be quoted from them; rebuild the "
                   "index with `rag build`.")


def answer(index: Searchable, question: str, *, k: int = 5, sources: list[str] | None = None,
           history: Sequence[str] | None = None) -> Answer:
    """The answer to `question`; with `history` (the earlier questions, oldest first), see `follow_up`."""
    if history is None:
        return explain(index, question, k=k, sources=sources)[0]
    return follow_up(index, question, history, k=k, sources=sources)


def follow_up(index: Searchable, question: str, history: Sequence[str], *, k: int = 5,
              sources: list[str] | None = None) -> Answer:
    """A question asked after `history`, resolved by `rag.search.followup`.

    A question that leans on earlier turns is answered as asked, and, within the documents the
    answer to the earlier question quoted, both as asked and together with that question's
    words; the answer the abstention model is surest of is kept, and `Answer.searched` says
    what was searched. The history is used only when the documents searched mention one of the
    follow-up's own subject words, if it has any ("Who invented it?" needs "invent"), so the
    earlier question's words cannot make it quote the earlier topic for something the documents
    never speak of. A reference that cannot be resolved abstains and says so.
    """
    from rag.search.followup import UNRESOLVED_MESSAGE, check_history, holds_list, known, resolve
    from rag.search.query import check_question

    query = check_question(question, k)
    params = shipped()
    earlier: dict[str, Answer] = {}

    def previous(context: str) -> Answer:  # the answer the earlier question got
        if context not in earlier:
            encoded = _encode(index, check_question(context, k))  # asked last turn: encoded then
            earlier[context] = explain(index, context, k=k, sources=sources, params=params, encoded=encoded)[0]
        return earlier[context]

    def has_list(context: str) -> bool:  # "the second one" needs an answer that listed things
        return any(holds_list(q.text) for q in previous(context).quotes)

    resolution = resolve(query.text, check_history(history), has_list=has_list)
    if resolution.unresolved:
        result = Answer(question, [], [], True, UNRESOLVED_MESSAGE)
        return replace(result, text=render(result))
    encoded = _encode(index, query)  # once, for the follow-up as asked and within the earlier documents
    alone, signals = explain(index, question, k=k, sources=sources, params=params, encoded=encoded)
    if not resolution.searched:
        return alone
    best, best_support = alone, params.support_of(signals.values())
    within = sorted({q.citation.source for q in previous(resolution.context).quotes}) or sources
    if not known(question, _words(index, within)):
        return alone  # the documents searched never mention what the follow-up asks about
    trials = [(question, encoded)] if within != sources else []
    merged = _encode(index, check_question(resolution.searched, k))
    for text, vectors in [*trials, (resolution.searched, merged)]:
        result, trial = explain(index, text, k=k, sources=within, params=params, encoded=vectors)
        support = params.support_of(trial.values())
        if support > best_support:
            searched = resolution.searched if text != question else ""
            best, best_support = replace(result, question=question, searched=searched), support
    return best


def _words(index: Searchable, sources: Sequence[str] | None) -> frozenset[str]:
    """Every search token of `sources`' texts (all documents' when None), each set worked out once per index."""
    with _RECENT_LOCK:
        known_sets = _VOCABULARIES.setdefault(index, {})
    key = tuple(sorted(sources)) if sources is not None and len(sources) <= FEW_DOCUMENTS else None
    if key not in known_sets:
        names = index.sources if key is None else key
        words = frozenset().union(*(frozenset(tokens(index.text_of(source))) for source in names))
        with _RECENT_LOCK:
            known_sets[key] = words
            while len(known_sets) > RECENT_SEARCHES:
                known_sets.pop(next(iter(known_sets)))
    return known_sets[key]


def _encode(index: Searchable, query: Query) -> tuple[QueryVectors, bool]:
    """`index.encode_query(query)`, remembered for the index's last few follow-up searches.

    In a conversation the earlier question was encoded on its own turn; encoding is most of
    the cost of an answer, so it is not done again.
    """
    with _RECENT_LOCK:
        recent = _RECENT.setdefault(index, OrderedDict())
        if query.text in recent:
            recent.move_to_end(query.text)
            return recent[query.text]
    encoded = index.encode_query(query)
    with _RECENT_LOCK:
        recent[query.text] = encoded
        while len(recent) > RECENT_SEARCHES:
            recent.popitem(last=False)
    return encoded


def explain(index: Searchable, question: str, *, k: int = 5, sources: list[str] | None = None,
            params: Params | None = None, encoded: tuple[QueryVectors, bool] | None = None,
            checker: Scorer | str | None = "auto") -> tuple[Answer, Signals]:
    """The answer and the signals its abstention decision was made on.

    `params` defaults to the shipped ones; `encoded` lets a caller that asks
    the same question under several parameter sets encode it once. `checker`
    rescores the best sentences (`rag.checker`): "auto" is the shipped one
    for an index of the packaged model (`default_checker`), None none.
    """
    from rag.search.query import check_question

    params = params or shipped()
    query = check_question(question, k)
    vectors, truncated = encoded or index.encode_query(query)
    found, hits, candidates = ranked_sentences(index, query, k, params, vectors, sources)
    passages = [replace(found.chunks[h.index].passage, score=round(h.score, 6)) for h in hits]
    wanted = set(content_words(query.text))
    store = index.store
    checker = default_checker(index) if checker == "auto" else checker
    checked = 0.0
    if checker is not None and not isinstance(checker, str) and candidates:
        candidates, checked = recheck(found, store, query.text, candidates, checker, params)
    chosen = choose(found, store, candidates)
    signals = measure(found, store, query.text, vectors.tokens, hits, params.rank_score(found.features), candidates,
                      chosen, wanted, params.quote_words)
    signals = replace(signals, checker=checked)
    abstained = not chosen or params.support_of(signals.values()) < params.threshold
    quotes = [] if abstained else cite(found, store, chosen, params.quote_words)
    message = ABSTAIN_MESSAGE if abstained else ""
    if not abstained and not quotes:
        # Every chosen quote failed verification: its file changed since it was indexed.
        abstained, message = True, CHANGED_MESSAGE
    if truncated:
        note = "Your question was long, so it was shortened to fit the model."
        message = f"{message} {note}".strip()
    result = Answer(query.original if not truncated else query.text, quotes, passages, abstained, message,
                    truncated)
    return replace(result, text=render(result, store.text_of)), signals


def ranked_sentences(index: Searchable, query: Query, k: int, params: Params, vectors: QueryVectors,
                     sources: list[str] | None = None) -> tuple[Candidates, list[Hit], list[Sentence]]:
    """The store's candidates, the ranked passages and every sentence of them, best first."""
    found = index.candidates(query, k, sources=sources, encoded=vectors)
    hits = rank(found, k=k, weights=params.rank)
    with index.one_blas_thread():
        candidates = _candidates(found, index.store, query.text, vectors, hits, params)
    candidates.sort(key=lambda c: -c.score)
    return found, hits, candidates


def checked_texts(found: Candidates, store: Store, candidates: Sequence[Sentence], quote_words: int) -> list[str]:
    """What the checker reads for each candidate: the quote it would give, under its section title."""
    texts = []
    for cand in candidates:
        span = quote_span(found, store, cand, quote_words)
        texts.append(quote_text(span.section, store.text_of(span.source)[span.start:span.end]))
    return texts


def recheck(found: Candidates, store: Store, question: str, candidates: list[Sentence], checker: Scorer,
            params: Params) -> tuple[list[Sentence], float]:
    """The best `CHECKED` sentences rescored with the checker's logit (weighted by
    `params.checker_weight`) ahead of the rest, and the best logit among them."""
    top = candidates[:CHECKED]
    scores = checker.score(question, checked_texts(found, store, top, params.quote_words))
    rescored = [replace(c, score=c.score + params.checker_weight * float(s)) for c, s in zip(top, scores, strict=True)]
    rescored.sort(key=lambda c: -c.score)
    return rescored + candidates[CHECKED:], float(scores.max())


def default_checker(index: Searchable) -> Checker | None:
    """The shipped checker for an index of the packaged model, unless RAG_CHECKER=off; else None.

    The checker and the abstention model were fitted with the packaged
    model's scores, so another embedding model answers without it.
    """
    from rag.checker.model import SHIPPED, load

    return load(SHIPPED) if checker_applies(index) and SHIPPED.is_file() else None


def checker_applies(index: Searchable) -> bool:
    """Whether a checker may score this index's answers: the packaged model, and RAG_CHECKER not off."""
    import os

    from rag.embed.model import DEFAULT_MODEL

    if os.environ.get("RAG_CHECKER", "auto").strip().lower() in ("off", "0", "no", "false"):
        return False
    return getattr(getattr(index, "embedder", None), "name", None) == DEFAULT_MODEL


def _candidates(found: Candidates, store: Store, question: str, encoded: QueryVectors, hits: list[Hit],
                params: Params) -> list[Sentence]:
    """Every sentence of the retrieved passages, with the scores that rank it."""
    candidates: list[Sentence] = []
    expected = expected_type(question)
    offsets = found.token_offsets
    for hit in hits:
        chunk = found.chunks[hit.index]
        first, end_row = found.sentence_rows(hit.index)
        cosines = found.sentence_vectors[first:end_row] @ encoded.vector
        rows = np.arange(first, end_row)
        starts = offsets[rows].copy()
        source_text = store.text_of(chunk.passage.citation.source)
        # A dependent sentence ("Both contribute to…") is matched together with
        # the sentence it points back to, which says what it is about.
        for n, (start, end) in enumerate(chunk.sentences):
            if is_dependent(source_text[start:end]) and (n > 0 or paragraph_of(found, hit.index)[0] < hit.index):
                starts[n] = offsets[rows[n] - 1]
        lates = maxsim(encoded.tokens, found.tokens, starts, offsets[rows + 1])
        for n, (start, end) in enumerate(chunk.sentences):
            text = source_text[start:end]
            typed = expected is not None and expected.search(text) is not None
            score = (params.cosine_weight * cosines[n] + params.late_weight * lates[n]
                     + params.passage_weight * hit.score + (TYPE_BONUS if typed else 0.0))
            candidates.append(Sentence(hit.index, start, end, float(cosines[n]),
                                         float(lates[n]), hit.score, typed, float(score)))
    return candidates


def render(result: Answer, text_of: Callable[[str], str] | None = None) -> str:
    """The answer as Markdown-style text with numbered markers and a source list.

    `text_of` (a source's indexed text) lets a quote's line breaks be read in their paragraph (`quoted_lines`);
    without it a line that opens with "7." is always shown on a line of its own.
    """
    lines: list[str] = []
    if result.abstained:
        lines.append(result.message or ABSTAIN_MESSAGE)
        if result.passages:
            lines.append("")
            lines.append(RELATED_NOTE + ":")
            labels = list(dict.fromkeys(p.citation.label() for p in result.passages))  # one per paragraph
            lines.extend(f"- {label}" for label in labels[:3])
        return "\n".join(lines)
    if result.message:
        lines += [result.message, ""]
    rows = source_rows(result.quotes)
    for n, quote in zip(rows, result.quotes, strict=True):
        document = text_of(quote.citation.source) if text_of and reads_document(quote.text) else ""
        shown = quoted_lines(quote.text, document, quote.citation.start)
        shown[0] = f"“{shown[0]}"
        shown[-1] = f"{shown[-1]}” [{n}]"
        lines.extend(f"> {line}" for line in shown)
        lines.append(">")
    if lines and lines[-1] == ">":
        lines.pop()
    lines.append("")
    row_labels = {n: q.citation.label() for n, q in reversed(list(zip(rows, result.quotes, strict=True)))}
    lines.extend(f"[{n}] {row_labels[n]}" for n in sorted(row_labels))  # one row per passage, however many quotes
    return "\n".join(lines)


def quoted_lines(text: str, document: str = "", start: int = 0) -> list[str]:
    """A quote's lines for plain-text display: a paragraph is one line, while a table's rows, a list's items,
    the lines of a code block (also one after a prose lead-in) and blank-line breaks keep their lines (runs of
    spaces shown as one), as `rag.ingest.breaks.reflowed` reads them.

    Given the `document` the quote starts at `start` of, a line that opens with "7." only because the paragraph
    was wrapped there goes on with its sentence, as ingest reads it; without it, it starts a line.
    """
    lines = reflowed(text, document, start).splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()] or [""]


__all__ = ["ABSTAIN_MESSAGE", "RELATED_NOTE", "Signals", "answer", "explain", "follow_up", "quoted_lines", "render"]
