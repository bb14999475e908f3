"""Pull quotes found in linear time give the same result as the direct search they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag.ingest.boilerplate as boilerplate
import rag.ingest.classify as classify
from rag.ingest.boilerplate import could_be_pull_quote, normalised_words
from rag.ingest.parse import parse

REPO = Path(__file__).resolve().parent.parent.parent
DOCUMENTS = [*sorted((REPO / "tests/gold/docs").glob("*")), REPO / "seeds/japan-nato-alignment.txt"]


def direct_pull_quotes(texts, units, taken):
    """The reference, by brute force: each candidate against every longer paragraph, the first that holds it."""
    norm = [normalised_words(t) if i not in taken else [] for i, t in enumerate(texts)]
    found = {}
    for i, t in enumerate(texts):
        ws = norm[i]
        if i in taken or not could_be_pull_quote(t, ws, units[i]):
            continue
        for j, other in enumerate(norm):
            if len(other) > len(ws) and any(other[p : p + len(ws)] == ws for p in range(len(other) - len(ws) + 1)):
                found[i] = f"pull quote repeating words of the paragraph on line {units[j].line}"
                break
    return found


def _texts():
    yield from ((p.name, p.read_text("utf-8")) for p in DOCUMENTS if p.suffix in (".txt", ".md"))
    # A scraped page's kind: one pull quote set apart, and a repeated line that repeats no longer paragraph.
    body = "Ports are rebuilding their grids. The costs are falling faster than planners expected this year."
    yield "page.txt", "\n\n".join([body, "The costs are falling faster than planners expected this year.",
                                   *["A short repeated line that is a sentence on its own."] * 5, body + " More."])


@pytest.mark.parametrize(("name", "text"), list(_texts()), ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
def test_pull_quotes_equal_the_direct_search(monkeypatch, name, text) -> None:
    calls = []

    def both(texts, units, taken):
        got = boilerplate.pull_quotes(texts, units, taken)
        assert got == direct_pull_quotes(texts, units, taken)
        calls.append(got)
        return got

    monkeypatch.setattr(classify, "pull_quotes", both)
    parse(text, name)
    assert calls
    if name == "page.txt":
        assert len(calls[0]) == 1  # the set-apart copy; the repeated line repeats no longer paragraph
