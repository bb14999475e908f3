"""Which of the ranked sentences become quotes: the best, then up to two more nearly as good, no repeats."""

from __future__ import annotations

from types import SimpleNamespace

from rag.answers.quotes import MAX_QUOTES, QUOTE_MARGIN, Sentence, choose

TEXTS = {"a.txt": "Ports pay for substations. Ships plug in at berth. Costs fall.",
         "b.txt": "Bees visit clover in June. Hives need water."}
SENTENCES = {"a.txt": [(0, 26), (27, 50), (51, 62)], "b.txt": [(0, 26), (27, 44)]}


def _chosen(*picks: tuple[str, int, float]) -> list[tuple[str, float]]:
    chunks = {n: SimpleNamespace(passage=SimpleNamespace(citation=SimpleNamespace(source=source)))
              for n, (source, _, _) in enumerate(picks)}
    ranked = [Sentence(n, *SENTENCES[source][i], cosine=0.0, late=0.0, passage=0.0, typed=False, score=score)
              for n, (source, i, score) in enumerate(picks)]
    found, store = SimpleNamespace(chunks=chunks), SimpleNamespace(text_of=TEXTS.__getitem__)
    return [(chunks[s.chunk].passage.citation.source, s.score) for s in choose(found, store, ranked)]


def test_a_further_quote_must_come_within_the_margin_of_the_best() -> None:
    near, far = 1.0 - QUOTE_MARGIN + 0.01, 1.0 - QUOTE_MARGIN - 0.01
    assert _chosen(("a.txt", 0, 1.0), ("b.txt", 1, near), ("a.txt", 2, far)) == [("a.txt", 1.0), ("b.txt", near)]


def test_at_most_three_quotes_and_a_repeated_sentence_once() -> None:
    picks = [("a.txt", 0, 1.0), ("a.txt", 0, 0.99), ("a.txt", 1, 0.98), ("a.txt", 2, 0.97), ("b.txt", 1, 0.96)]
    chosen = _chosen(*picks)
    assert len(chosen) == MAX_QUOTES and [score for _, score in chosen] == [1.0, 0.98, 0.97]
