"""One source row per passage: quotes cut from one paragraph share one marker and one source row, in the
rendered chat answer and in the answer's text and copied Markdown, while every quote keeps its own exact
offsets; an abstention says plainly that what it lists is related text, not an answer."""

from __future__ import annotations

import re

from rag.answers.pipeline import ABSTAIN_MESSAGE, render
from rag.types import Answer, Citation, Passage, Quote
from ui.render import answer_markdown, render_answer

DOC = ("Title\n\n"
       "Ports need shore power. Ships at berth burn diesel otherwise. Grants pay for substations. "
       "Crews welcome the quiet.\n\n"
       "Bees visit clover in early summer.")
PARAGRAPH = DOC[7 : DOC.index("\n\nBees")]
SOURCE = "ports.txt"


def quote(text: str, paragraph: int) -> Quote:
    start = DOC.index(text)
    return Quote(text, 1.0, Citation(SOURCE, "Harbours", paragraph, start, start + len(text)))


QUOTES = [quote("Ports need shore power.", 1), quote("Bees visit clover in early summer.", 2),
          quote("Grants pay for substations.", 1), quote("Crews welcome the quiet.", 1)]
PASSAGES = [Passage("ports.txt#1", PARAGRAPH, Citation(SOURCE, "Harbours", 1, 7, 7 + len(PARAGRAPH))),
            Passage("ports.txt#2", "Bees visit clover in early summer.", QUOTES[1].citation)]


def answered() -> Answer:
    result = Answer("What do ports need?", QUOTES, PASSAGES, False)
    return Answer(result.question, result.quotes, result.passages, False, text=render(result))


def test_quotes_of_one_paragraph_share_a_row_numbered_in_order_of_first_appearance():
    from rag.answers.quotes import source_rows

    assert source_rows(QUOTES) == [1, 2, 1, 1]


def test_the_answer_text_lists_each_passage_once():
    text = answered().text
    rows = [line for line in text.splitlines() if re.match(r"\[\d+\] ", line)]
    assert rows == ["[1] ports.txt · Harbours · ¶1", "[2] ports.txt · Harbours · ¶2"]
    assert text.count("” [1]") == 3 and text.count("” [2]") == 1


def test_the_chat_shows_one_source_row_per_passage_with_every_quote_marked_at_its_offsets():
    html = render_answer(answered(), lambda source: DOC, PASSAGES)
    assert html.count('<details class="rag-source">') == 2
    summaries = re.findall(r"<summary>(.*?)</summary>", html)
    assert [re.sub(r"<[^>]+>", "", s) for s in summaries] == ["[1] ports&#46;txt · Harbours · ¶1",
                                                               "[2] ports&#46;txt · Harbours · ¶2"]
    first_row = html[html.index("<details") : html.index("</details>")]
    assert first_row.count('<mark class="rag-hl">') == 3
    for q in (QUOTES[0], QUOTES[2], QUOTES[3]):
        assert f"characters {q.citation.start}–{q.citation.end}" in first_row


def test_the_copied_markdown_keeps_every_quotes_offsets_under_its_row():
    md = answer_markdown(answered())
    for n, q in zip([1, 2, 1, 1], QUOTES, strict=True):
        assert f"[{n}] ports.txt, characters {q.citation.start}–{q.citation.end}" in md
        assert DOC[q.citation.start : q.citation.end] == q.text
    assert md.count("[1] ports.txt · Harbours · ¶1") == 1


def test_an_abstention_calls_what_it_lists_related_text_not_an_answer():
    result = Answer("What is the port's budget?", [], PASSAGES, True, ABSTAIN_MESSAGE)
    text = render(result)
    assert text.splitlines()[0] == ABSTAIN_MESSAGE
    assert "only related text, not an answer" in text
    html = render_answer(result, lambda source: DOC, PASSAGES)
    assert "only related passages" in html and "none of them answers the question" in html
    assert "<blockquote" not in html
