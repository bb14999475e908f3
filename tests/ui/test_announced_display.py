"""A quote that announces a command block ("…can be built with:") and takes it in is shown with its lines.

* `rag ask`'s text (`quoted_lines`, `render`, `Answer.text`) and the web answer (`ui.render.render_answer`) keep
  each line of the indented or fenced block on a line of its own, while the prose lead-in still reflows.
* The web answer's source row shows the colon paragraph's earlier sentence, with the quote (block included) marked.
* A source's text is read once per answer, and not at all for a plain-text quote whose lines show the same without it.
"""

from __future__ import annotations

import html as html_module
import re
from dataclasses import replace

import pytest
from conftest import quiet, write_seeds

import rag
from rag.answers.pipeline import explain, quoted_lines, render
from rag.embed.model import HashEmbedder
from rag.search.tuning import shipped
from rag.types import Answer, Citation, Quote
from ui.render import render_answer

EARLIER = "Each lantern kit is packed by hand in a workshop near the harbour."
LEAD = "The package can be built with:"
COMMANDS = ["./configure --prefix=/opt/lantern", "make", "make install"]
FIRMWARE_EARLIER = "Beacon controllers were first fitted to the north pier in spring."
FIRMWARE_LEAD = "The firmware can be built with:"
FENCED = ["```sh", "cmake -S . -B build", "cmake --build build", "```"]
DOC = (
    "# Lantern kit\n\n## Building\n\n"
    f"{EARLIER} {LEAD}\n\n" + "".join(f"    {line}\n" for line in COMMANDS) + "\n"
    "Spare wicks are sold at the harbour shop.\n\n"
    "## Firmware\n\n"
    f"{FIRMWARE_EARLIER} {FIRMWARE_LEAD}\n\n" + "".join(f"{line}\n" for line in FENCED) + "\n"
    "Seagulls nest on the pier.\n"
)
INDENTED_QUOTE = DOC[DOC.index(LEAD) : DOC.index("make install") + len("make install")]
FENCED_QUOTE = DOC[DOC.index(FIRMWARE_LEAD) : DOC.index("build\n```") + len("build\n```")]


@pytest.mark.parametrize(("text", "lines"), [
    (INDENTED_QUOTE, [LEAD, *COMMANDS]),
    (FENCED_QUOTE, [FIRMWARE_LEAD, *FENCED]),
    ("The package\ncan be built with:\n\n\tmake\n\tmake install", [LEAD, "make", "make install"]),
    ("Run it like\nthis:\n\n```\nmake\n\nmake install\n```\nThen the lamp\nlights.", ["Run it like this:", "```", "make",
                                                                                     "make install", "```",
                                                                                     "Then the lamp lights."]),
])
def test_a_code_block_after_a_lead_in_keeps_its_lines_and_the_lead_in_reflows(text: str, lines: list[str]) -> None:
    assert quoted_lines(text) == lines
    if text in DOC:
        assert quoted_lines(text, DOC, DOC.index(text)) == lines  # with the document the quote was cut from too


@pytest.mark.parametrize(("text", "lines"), [
    ("Each kit\n  is packed by hand\n\n  in a workshop\n  near the harbour.",
     ["Each kit is packed by hand", "in a workshop near the harbour."]),
    # A plain-text file's indented clause is a paragraph wrapped to its page, not code.
    ('"Modifications" means any of the following:\n\n    (a) any file in Source Code Form that results from an addition to,\n'
     "        deletion from, or modification of the contents of Covered\n        Software; or",
     ['"Modifications" means any of the following:', "(a) any file in Source Code Form that results from an addition "
      "to, deletion from, or modification of the contents of Covered Software; or"]),
    ("Lantern FAQ\n~~~~~~~~~~~\n\nWicks are sold\nat the shop.", ["Lantern FAQ ~~~~~~~~~~~", "Wicks are sold at the shop."]),
])
def test_indented_prose_and_an_underlined_title_are_not_code(text: str, lines: list[str]) -> None:
    assert quoted_lines(text) == lines


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> rag.Index:
    seeds = write_seeds(tmp_path_factory.mktemp("seeds"), {"kit.md": DOC})
    return rag.build_index(seeds, tmp_path_factory.mktemp("index") / "index", embedder=HashEmbedder(), log=quiet)


ALWAYS = replace(shipped(), threshold=0.0, quote_words=0)
ASKED = [("How can the package be built?", LEAD, COMMANDS), ("How can the firmware be built?", FIRMWARE_LEAD, FENCED)]


def _asked(kit: rag.Index, question: str, lead: str) -> Answer:
    answer, _ = explain(kit, question, params=ALWAYS)
    assert answer.quotes, answer
    first = answer.quotes[0]
    assert first.text.startswith(lead) and first.text == DOC[first.citation.start : first.citation.end], first
    return answer


@pytest.mark.parametrize(("question", "lead", "block"), ASKED)
def test_rag_ask_shows_each_line_of_the_announced_block(kit: rag.Index, question: str, lead: str,
                                                        block: list[str]) -> None:
    answer = _asked(kit, question, lead)
    for text in (answer.text, render(answer, kit.source_text)):
        lines = text.splitlines()
        at = lines.index(f"> “{lead}")
        assert lines[at + 1 : at + len(block) + 1] == [f"> {line}" for line in block[:-1]] + [f"> {block[-1]}” [1]"]


def _shown(fragment: str) -> str:
    """What a fragment of the chat HTML shows: its line breaks as "\\n", its entities as characters."""
    return html_module.unescape(re.sub(r"<(?!br>)[^>]*>", "", fragment).replace("<br>", "\n"))


def _page(kit: rag.Index, question: str, lead: str) -> tuple[Answer, str]:
    answer = _asked(kit, question, lead)
    return answer, render_answer(answer, kit.source_text, kit.passages_of("kit.md"))


@pytest.mark.parametrize(("question", "lead", "block"), ASKED)
def test_the_web_answer_shows_each_line_of_the_announced_block(kit: rag.Index, question: str, lead: str,
                                                               block: list[str]) -> None:
    _, page = _page(kit, question, lead)
    quote = re.search(r'<blockquote class="rag-quote"><p>“(.*?)”', page)
    assert quote is not None, page
    assert [" ".join(line.split()) for line in _shown(quote.group(1)).splitlines() if line.strip()] == [lead, *block]


@pytest.mark.parametrize(("question", "lead", "earlier"), [(ASKED[0][0], LEAD, EARLIER),
                                                           (ASKED[1][0], FIRMWARE_LEAD, FIRMWARE_EARLIER)])
def test_the_source_row_shows_the_paragraph_the_block_was_announced_in(kit: rag.Index, question: str, lead: str,
                                                                       earlier: str) -> None:
    answer, page = _page(kit, question, lead)
    context = re.search(r'<div class="rag-context">(.*?)</div>', page)
    assert context is not None, page
    assert _shown(context.group(1)).startswith(f"{earlier} {lead}"), context.group(1)
    marked = re.search(r'<mark class="rag-hl">(.*?)</mark>', context.group(1))
    assert marked is not None and _shown(marked.group(1)) == answer.quotes[0].text  # the block marked too


def test_a_source_is_read_once_and_only_when_its_line_breaks_need_it(kit: rag.Index) -> None:
    reads: list[str] = []

    def source_text(source: str) -> str:
        reads.append(source)
        return kit.source_text(source)

    answer = _asked(kit, "How can the package be built?", LEAD)
    render_answer(answer, source_text, kit.passages_of("kit.md"))
    assert reads == ["kit.md"]  # every quote and source row of the answer shares one read
    reads.clear()
    plain = "Spare wicks are sold at the harbour shop."
    start = DOC.index(plain)
    answer = Answer("Where are wicks sold?", [Quote(plain, 1.0, Citation("kit.md", "Building", 2, start,
                                                                          start + len(plain)))], [], False)
    assert render(answer, source_text) and reads == []  # a one-line quote shows the same without its document
