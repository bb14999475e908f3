"""A quote's display keeps a hard-wrapped line that opens with "4." inside its sentence, as ingest reads it.

* `rag ask`'s text (`quoted_lines`, `render`) and the web page (`ui.render`) show "... set in article" /
  "4.  That rate ..." on one line when they have the document the quote was cut from.
* A real numbered list in a quote keeps one item per line: items under a lead-in ending ":", items whose
  text wraps onto filled lines with no closing punctuation, and a list that resumes at 17.
* Without the document (or when it no longer holds the quote) a line opening with "4." starts a line, as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from conftest import quiet, write_seeds

import rag
from rag.answers.pipeline import explain, quoted_lines, render
from rag.embed.model import HashEmbedder
from rag.search.tuning import shipped
from rag.types import Answer, Citation, Quote
from ui import render as web

# Wrapped greedily at 77 columns: "4." did not fit at the end of the line before it.
DOC = """Lending rules of the Elm Street reading room

Members may borrow up to six books at a time from the reading room, and a
book kept past its return date is charged at the daily rate set in article
4.  That rate doubles after the second reminder, and the librarian may
waive it for a member who was away or unwell for most of the loan period.

Before a book leaves the reading room:
1. Stamp the date card
2. Record the loan in the ledger
3. Hand the receipt to the member

1. The member shows a library card at the desk and names the book they want
from the closed stacks, the shelf mark and the day they mean to bring it back
2. The librarian fetches the book from the closed stacks and checks its pages
for loose leaves or notes in the margin before it is handed over to them

    the maps in the cellar, which are lent on the same terms as the books
17. Maps are lent only to members who have borrowed from the cellar before
    under the eye of the librarian or one of the two volunteer assistants
18. Atlases stay in the reading room at all times
"""
PARAGRAPH = DOC[DOC.index("Members may") : DOC.index("loan period.") + len("loan period.")]
SHOWN = " ".join(PARAGRAPH.split())
MIDWAY = PARAGRAPH[PARAGRAPH.index("a time from") :]  # a quote that starts inside the paragraph's first line
LISTS = DOC[DOC.index("Before a book") :]
ITEMS = ["Before a book leaves the reading room:", "1. Stamp the date card", "2. Record the loan in the ledger",
         "3. Hand the receipt to the member",
         " ".join(DOC[DOC.index("1. The member") : DOC.index("2. The librarian")].split()),
         " ".join(DOC[DOC.index("2. The librarian") : DOC.index("the maps")].split()),
         " ".join(DOC[DOC.index("the maps") : DOC.index("17. Maps")].split()),
         " ".join(DOC[DOC.index("17. Maps") : DOC.index("18. Atlases")].split()),
         "18. Atlases stay in the reading room at all times"]


def at(quote: str) -> int:
    start = DOC.index(quote)
    assert DOC[start : start + len(quote)] == quote
    return start


@pytest.mark.parametrize("quote", [PARAGRAPH, MIDWAY])
def test_the_plain_text_display_keeps_a_wrapped_number_in_its_sentence(quote: str) -> None:
    assert quoted_lines(quote, DOC, at(quote)) == [" ".join(quote.split())]


def test_the_plain_text_display_keeps_one_item_of_a_real_list_per_line() -> None:
    assert quoted_lines(LISTS, DOC, at(LISTS)) == ITEMS


def test_without_the_document_a_number_still_starts_a_line() -> None:
    old = [" ".join(part.split()) for part in PARAGRAPH.split("\n4.")]
    old[1] = "4. " + old[1]
    assert quoted_lines(PARAGRAPH) == old
    assert quoted_lines(PARAGRAPH, DOC.replace("article\n", "article 3\n"), at(PARAGRAPH)) == old  # changed since


def test_the_page_keeps_a_wrapped_number_in_its_sentence_and_its_offsets() -> None:
    shown = web.reflow(PARAGRAPH, DOC, at(PARAGRAPH))
    assert len(shown) == len(PARAGRAPH) and "\n" not in shown
    assert " ".join(shown.split()) == " ".join(PARAGRAPH.split())


def test_the_page_keeps_one_item_of_a_real_list_per_line() -> None:
    shown = web.reflow(LISTS, DOC, at(LISTS))
    assert [" ".join(line.split()) for line in shown.splitlines() if line.strip()] == ITEMS


@pytest.fixture(scope="module")
def asked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Answer, Callable[[str], str]]:
    seeds = write_seeds(tmp_path_factory.mktemp("seeds"), {"rules.txt": DOC})
    index = rag.build_index(seeds, tmp_path_factory.mktemp("index") / "index", embedder=HashEmbedder(), log=quiet)
    always = replace(shipped(), threshold=0.0, quote_words=0)
    # "That rate doubles ..." points back to the sentence before it: the quote takes in both, across the "4." line.
    answer, _ = explain(index, "Who may waive the rate?", params=always)
    assert answer.quotes and answer.quotes[0].text == PARAGRAPH, [q.text for q in answer.quotes]
    return answer, index.source_text


def test_rag_ask_shows_the_wrapped_sentence_on_one_line(asked) -> None:
    answer, _ = asked
    assert f"> “{SHOWN}” [1]" in answer.text.splitlines(), answer.text


def test_the_web_answer_shows_the_wrapped_sentence_on_one_line(asked) -> None:
    answer, source_text = asked
    html = web.render_answer(answer, source_text, answer.passages)
    quote = re.search(r'<blockquote class="rag-quote"><p>“(.*?)”', html)
    assert quote is not None and "<br>" not in quote.group(1), html
    context = re.search(r'<div class="rag-context">(.*?)</div>', html)
    assert context is not None and "<br>" not in context.group(1) and '<mark class="rag-hl">' in context.group(1)


def test_a_made_up_answer_is_rendered_with_the_document_it_quotes() -> None:
    citation = Citation("rules.txt", None, 1, at(PARAGRAPH), at(PARAGRAPH) + len(PARAGRAPH))
    answer = Answer("When does the rate double?", [Quote(PARAGRAPH, 1.0, citation)], [], False, "")
    assert f"“{SHOWN}” [1]" in render(answer, {"rules.txt": DOC}.__getitem__)
    assert f"“{SHOWN}” [1]" not in render(answer)  # no document: the old display
