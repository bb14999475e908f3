"""rag.ingest.parse: blocks with exact offsets; boilerplate, title, sections and pull quotes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import REPORT, REPORT_NAME

import rag
from rag.ingest.intake import ingest
from rag.ingest.parse import BODY, HEADING, PULL_QUOTE, Document, find_sources, parse

# --- the real report -----------------------------------------------------

# Read off the file by eye: line number -> section heading.
HEADINGS = {
    27: "Japan’s Security Environment and Potential for Cooperation",
    45: "Cybersecurity and Disinformation",
    63: "Sea Lines of Communication",
    73: "Emerging and Disruptive Technologies",
    87: "Obstacles to Closer Cooperation",
    109: "Steps to Take",
}
# Line 123 repeats words of the paragraph on line 133 verbatim: a pull quote.
PULL_QUOTE_LINES = (123,)
# These boxed quotes paraphrase the body ("long thought" for "used to think"), or
# (line 99) say something the body does not: real text, so they stay body.
PARAPHRASED_QUOTE_LINES = (37, 59, 81, 99)
AUTHOR_BIO_LINE = 144  # "Stephen Nagy is a Professor of ..."


@pytest.fixture(scope="module")
def report() -> Document:
    text = REPORT.read_bytes().decode("utf-8")
    return parse(text, REPORT_NAME)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _expected_section(line: int) -> str | None:
    before = [n for n in HEADINGS if n < line]
    return HEADINGS[max(before)] if before else None


def test_report_every_block_is_the_exact_stripped_text_of_its_line(report: Document) -> None:
    lines = report.text.split("\n")
    for block in report.blocks:
        assert block.line == _line_of(report.text, block.start)
        # This scraped page has one paragraph per line.
        assert report.text[block.start : block.end] == lines[block.line - 1].strip()


def test_report_blocks_cover_every_non_blank_line_once(report: Document) -> None:
    lines = report.text.split("\n")
    non_blank = [n for n, line in enumerate(lines, start=1) if line.strip()]
    assert sorted(b.line for b in report.blocks) == non_blank


@pytest.mark.parametrize(
    "junk", ["Asset Publisher", "picture alliance", "@", "+49", "Choose PDF", "comment-portlet", "Contact"]
)
def test_report_boilerplate_is_not_in_the_body(report: Document, junk: str) -> None:
    assert junk in report.text  # the file does contain it
    for block in report.body:
        assert junk not in report.text[block.start : block.end]


def test_report_contact_names_are_not_in_the_body(report: Document) -> None:
    for block in report.body:
        text = report.text[block.start : block.end]
        assert "Soika" not in text
        assert "Fabian Wagener" not in text


def test_report_title_and_byline(report: Document) -> None:
    assert report.title == "Japan-NATO Alignment"
    assert report.byline == "by Stephen Nagy"


def test_report_finds_the_six_section_headings(report: Document) -> None:
    assert report.sections == list(HEADINGS.values())
    heading_lines = [b.line for b in report.blocks if b.kind == HEADING]
    assert heading_lines == list(HEADINGS)


def test_report_body_paragraphs_carry_the_section_they_sit_in(report: Document) -> None:
    for block in report.body:
        if block.line == AUTHOR_BIO_LINE:
            assert block.section == "About the author"
        else:
            assert block.section == _expected_section(block.line), block.line


def test_report_first_body_paragraph_is_the_lead_not_the_subtitle(report: Document) -> None:
    first = report.body[0]
    assert report.text[first.start : first.end].startswith("Japan’s relationship with NATO continues")
    assert first.paragraph == 1


def test_report_paragraphs_are_numbered_consecutively_from_one(report: Document) -> None:
    numbers = [b.paragraph for b in report.body]
    assert numbers == list(range(1, len(numbers) + 1))
    # Every other block has no paragraph number.
    assert all(b.paragraph is None for b in report.blocks if b.kind != BODY)


def test_report_body_includes_every_long_prose_line(report: Document) -> None:
    # Oracle: every line of 40+ words in the file is prose of the article.
    lines = report.text.split("\n")
    long_lines = {n for n, line in enumerate(lines, start=1) if len(line.split()) >= 40}
    assert long_lines  # sanity
    assert long_lines <= {b.line for b in report.body}


@pytest.mark.parametrize("line", PULL_QUOTE_LINES)
def test_report_pull_quote_is_dropped_and_not_body(report: Document, line: int) -> None:
    block = next(b for b in report.blocks if b.line == line)
    assert block.kind == PULL_QUOTE
    assert block not in report.body
    assert block in report.dropped


@pytest.mark.parametrize("line", PULL_QUOTE_LINES)
def test_report_pull_quote_does_not_split_or_rename_its_section(report: Document, line: int) -> None:
    body = report.body
    before = [b for b in body if b.line < line][-1]
    after = next(b for b in body if b.line > line)
    headings_between = [n for n in HEADINGS if line < n < after.line]
    if headings_between:
        # A real heading follows the quote: the next paragraph opens that section.
        assert after.section == HEADINGS[headings_between[-1]]
    else:
        assert after.section == before.section
    quote = next(b for b in report.blocks if b.line == line)
    assert quote.section == before.section
    assert report.clean(quote) not in report.sections


@pytest.mark.parametrize("line", PARAPHRASED_QUOTE_LINES)
def test_report_paraphrased_quote_is_body_in_its_section(report: Document, line: int) -> None:
    block = next(b for b in report.blocks if b.line == line)
    assert block.kind == BODY
    assert block.section == _expected_section(line)
    assert report.clean(block) not in report.sections


def test_report_dropped_pull_quote_text_is_still_in_the_body(report: Document) -> None:
    # The quote on line 123 repeats the last words of the paragraph on line 133
    # verbatim: dropping the copy loses nothing.
    body_text = " ".join(report.text[b.start : b.end] for b in report.body)
    quote = next(b for b in report.blocks if b.line == 123)
    assert report.text[quote.start : quote.end] in body_text


# --- hard-wrapped plain text ----------------------------------------------

LICENCE_SECTIONS = {
    "Preamble": [
        "The licences for most software and other practical works are designed to take away your freedom to "
        "share and change the works. By contrast, this licence is intended to guarantee your freedom to share "
        "and change all versions of a program, to make sure it remains free software for all its users.",
        "When we speak of free software, we are referring to freedom, not price. Our licences are designed to "
        "make sure that you have the freedom to distribute copies of free software, that you receive source code "
        "or can get it if you want it, and that you know you can do these things.",
    ],
    "TERMS AND CONDITIONS": [
        "Each contributor hereby grants to you a perpetual, worldwide, no-charge, royalty-free, irrevocable "
        "copyright licence to reproduce, prepare derivative works of, publicly display, publicly perform, "
        "sublicense, and distribute the work and such derivative works in source or object form.",
        "You may reproduce and distribute copies of the work or derivative works thereof in any medium, with or "
        "without modifications, and in source or object form, provided that you meet the following conditions "
        "and give any other recipients a copy of this licence.",
    ],
    "Disclaimer of Warranty": [
        "Unless required by applicable law or agreed to in writing, the licensor provides the work on an as is "
        "basis, without warranties or conditions of any kind, either express or implied, including, without "
        "limitation, any warranties or conditions of title, merchantability, or fitness for a particular purpose.",
    ],
}


def _wrapped_licence() -> tuple[str, list[tuple[str, str]]]:
    out = ["The Example Public Licence", ""]
    expected: list[tuple[str, str]] = []
    for heading, paragraphs in LICENCE_SECTIONS.items():
        out += [heading, ""]
        for paragraph in paragraphs:
            wrapped = textwrap.fill(paragraph, 70)
            assert wrapped.count("\n") >= 3  # really hard-wrapped
            out += [wrapped, ""]
            expected.append((heading, wrapped))
    return "\n".join(out), expected


def test_hard_wrapped_paragraphs_are_whole_paragraphs_not_lines() -> None:
    text, expected = _wrapped_licence()
    doc = parse(text, "licence.txt")
    body_texts = [text[b.start : b.end] for b in doc.body]
    for _, wrapped in expected:
        assert wrapped in body_texts
    # No body block is a single line cut out of a wrapped paragraph.
    for t in body_texts:
        assert not any(t != w and t in w for _, w in expected)


def test_hard_wrapped_plain_text_headings_become_sections() -> None:
    text, expected = _wrapped_licence()
    doc = parse(text, "licence.txt")
    assert doc.sections == list(LICENCE_SECTIONS)
    for heading, wrapped in expected:
        block = next(b for b in doc.body if text[b.start : b.end] == wrapped)
        assert block.section == heading


def test_hard_wrapped_crlf_paragraphs_are_whole_paragraphs() -> None:
    text, expected = _wrapped_licence()
    crlf = text.replace("\n", "\r\n")
    doc = parse(crlf, "licence.txt")
    body_texts = [crlf[b.start : b.end] for b in doc.body]
    for _, wrapped in expected:
        assert wrapped.replace("\n", "\r\n") in body_texts


# --- Markdown ----------------------------------------------------------------

MARKDOWN = """# Field Guide to Harbour Birds

Gulls and terns share the harbour walls, but they feed in very different ways and at different hours.

## Gulls

Herring gulls scavenge along the quay at dawn. They follow the fishing boats back to port and
wait for scraps from the catch.

- They nest on rooftops near the fish market in spring.
- Their chicks fledge after about six weeks on the roof.

## Terns

Common terns dive for small fish in the outer harbour. They arrive in May and leave again by September.
"""


def test_markdown_headings_become_title_and_sections() -> None:
    doc = parse(MARKDOWN, "birds.md")
    assert doc.title == "Field Guide to Harbour Birds"
    assert doc.sections == ["Gulls", "Terns"]


def test_markdown_paragraphs_and_list_items_are_body_blocks_in_their_section() -> None:
    doc = parse(MARKDOWN, "birds.md")
    by_text = {MARKDOWN[b.start : b.end]: b for b in doc.body}
    wrapped = ("Herring gulls scavenge along the quay at dawn. They follow the fishing boats back to port and\n"
               "wait for scraps from the catch.")
    assert by_text[wrapped].section == "Gulls"
    assert by_text["- They nest on rooftops near the fish market in spring."].section == "Gulls"
    assert by_text["- Their chicks fledge after about six weeks on the roof."].section == "Gulls"
    assert by_text[
        "Common terns dive for small fish in the outer harbour. They arrive in May and leave again by September."
    ].section == "Terns"
    # No "#" heading text is body.
    assert not any(t.lstrip().startswith("#") for t in by_text)


MARKDOWN_SHORT_LIST = """# Quick Start

## Features

- fast search
- exact quotes

The system finds passages quickly and quotes them exactly as written in the source files.

## Usage

Run the command with a question and read the answer that it prints to the terminal.
"""


def test_markdown_short_list_item_before_prose_is_not_a_heading() -> None:
    doc = parse(MARKDOWN_SHORT_LIST, "quick.md")
    assert doc.sections == ["Features", "Usage"]
    prose = next(b for b in doc.body if MARKDOWN_SHORT_LIST[b.start : b.end].startswith("The system"))
    assert prose.section == "Features"


MARKDOWN_CODE = """# Setup Guide

Install the tool with the package manager before you run it for the first time on a machine.

```sh
# install the package
pip install tool
```

## Running

Start the server and open the page in a browser to ask the first question of the documents.
"""


def test_markdown_comment_inside_a_code_fence_is_not_a_heading() -> None:
    doc = parse(MARKDOWN_CODE, "setup.md")
    assert doc.sections == ["Running"]


def test_markdown_file_with_a_byte_order_mark_has_a_clean_title() -> None:
    text = "\ufeff" + MARKDOWN
    doc = parse(text, "birds.md")
    assert doc.title == "Field Guide to Harbour Birds"


def test_byte_order_mark_does_not_shift_offsets() -> None:
    text = "\ufeff" + MARKDOWN
    doc = parse(text, "birds.md")
    plain = parse(MARKDOWN, "birds.md")
    assert [text[b.start : b.end] for b in doc.body] == [MARKDOWN[b.start : b.end] for b in plain.body]
    assert [b.start for b in doc.body] == [b.start + 1 for b in plain.body]


# --- another scraped page of the same kind -----------------------------------

SCRAPED = """Related Content

Photo: Jane Doe / Getty Images

Policy Briefs

Harbour Cities and the Energy Transition

by Maria Lopez

Port cities are rebuilding their grids to handle electric ships, and the costs are falling faster than planners expected in the last decade.

Related Content

Grid Upgrades

Rotterdam has connected its main container terminals to shore power, so ships at berth no longer burn diesel. The port authority says the change cut local emissions by a third within two years.

Smaller ports face a harder choice. They must pay for new substations before the shipping lines commit to using them, and few have the money to do so without help from the national government.

Financing

Green bonds have become the usual way to pay for these projects. Investors accept lower returns in exchange for a clear climate label, which lowers the cost of borrowing for the ports that issue them.

Download the PDF of this brief with all references and figures.

Related Content

Press office

Jane Roe

Head of Communications

jane.roe@example.org

+1 202 555 0147

share-buttons
"""
SCRAPED_BODY = [
    "Port cities are rebuilding their grids to handle electric ships, and the costs are falling faster than "
    "planners expected in the last decade.",
    "Rotterdam has connected its main container terminals to shore power, so ships at berth no longer burn diesel. "
    "The port authority says the change cut local emissions by a third within two years.",
    "Smaller ports face a harder choice. They must pay for new substations before the shipping lines commit to "
    "using them, and few have the money to do so without help from the national government.",
    "Green bonds have become the usual way to pay for these projects. Investors accept lower returns in exchange "
    "for a clear climate label, which lowers the cost of borrowing for the ports that issue them.",
]


def test_other_scraped_page_keeps_exactly_the_article_body() -> None:
    doc = parse(SCRAPED, "brief.txt")
    assert [SCRAPED[b.start : b.end] for b in doc.body] == SCRAPED_BODY


@pytest.mark.parametrize(
    "junk",
    ["Related Content", "Jane Doe", "Getty", "Policy Briefs", "Download the PDF", "Press office", "Jane Roe",
     "Head of Communications", "jane.roe@example.org", "555 0147", "share-buttons"],
)
def test_other_scraped_page_drops_its_boilerplate(junk: str) -> None:
    doc = parse(SCRAPED, "brief.txt")
    assert junk in SCRAPED
    for block in doc.body:
        assert junk not in SCRAPED[block.start : block.end]
    assert junk not in doc.sections


def test_other_scraped_page_title_byline_and_sections() -> None:
    doc = parse(SCRAPED, "brief.txt")
    assert doc.title == "Harbour Cities and the Energy Transition"
    assert doc.byline == "by Maria Lopez"
    assert doc.sections == ["Grid Upgrades", "Financing"]
    assert [b.section for b in doc.body] == [None, "Grid Upgrades", "Grid Upgrades", "Financing"]


def test_any_parsed_block_is_a_stripped_span_of_the_text() -> None:
    for text in (SCRAPED, MARKDOWN, _wrapped_licence()[0], REPORT.read_text("utf-8")):
        doc = parse(text, "x.txt")
        for b in doc.blocks:
            span = text[b.start : b.end]
            assert span and span == span.strip()
        starts = [b.start for b in doc.blocks]
        assert starts == sorted(starts)


# --- reading a folder ---------------------------------------------------------

GOOD = "A Good Document\n\nThis paragraph is perfectly ordinary prose about ships, ports and the sea.\n"


def test_ingest_skips_unreadable_files_and_keeps_the_good_one(make_seeds) -> None:
    seeds = make_seeds({
        "good.txt": GOOD,
        "latin.txt": "Caf\u00e9 cr\u00e8me and d\u00e9j\u00e0 vu are French phrases.\n".encode("latin-1"),
        "empty.txt": b"",
        "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    })
    docs, skipped = ingest(seeds)
    assert [d.source for d in docs] == ["good.txt"]
    assert sorted(s.source for s in skipped) == ["binary.md", "empty.txt", "latin.txt"]
    reasons = {s.source: s.reason for s in skipped}
    assert "UTF-8" in reasons["latin.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.md"]


def test_ingest_empty_folder_raises_ingest_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(rag.IngestError, match=r"has no documents.*\.txt \.md \.pdf \.html \.htm \.docx"):
        ingest(tmp_path / "empty")


def test_ingest_missing_folder_raises_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(rag.IngestError, match="does not exist"):
        ingest(tmp_path / "nope")


def test_ingest_folder_of_only_bad_files_raises_ingest_error_naming_them(make_seeds) -> None:
    seeds = make_seeds({"empty.txt": b"", "blank.md": b"  \n\n "})
    with pytest.raises(rag.IngestError) as info:
        ingest(seeds)
    assert "empty.txt" in str(info.value)
    assert "blank.md" in str(info.value)


def test_find_sources_skips_readme_and_hidden_files_but_lists_every_other_file(make_seeds) -> None:
    seeds = make_seeds({
        "a.txt": GOOD, "sub/b.md": GOOD, "README.md": GOOD, ".hidden/c.txt": GOOD, "d.pdf": b"%PDF", "e.html": GOOD,
        "f.xlsx": b"PK\x03\x04",
    })
    found = [p.relative_to(seeds).as_posix() for p in find_sources(seeds)]
    assert found == ["a.txt", "d.pdf", "e.html", "f.xlsx", "sub/b.md"]


def test_files_no_reader_handles_are_skipped_with_the_reason(make_seeds) -> None:
    seeds = make_seeds({"a.txt": GOOD, "f.xlsx": b"PK\x03\x04 not a workbook", "notes.rtf": b"{\\rtf1 hello}"})
    docs, skipped = ingest(seeds)
    assert [d.source for d in docs] == ["a.txt"]
    reasons = {s.source: s.reason for s in skipped}
    assert set(reasons) == {"f.xlsx", "notes.rtf"}
    assert all("unsupported file type" in r and ".pdf" in r for r in reasons.values())


def test_ingest_source_names_are_relative_posix_paths(make_seeds) -> None:
    seeds = make_seeds({"sub/deeper/b.md": GOOD})
    docs, _ = ingest(seeds)
    assert docs[0].source == "sub/deeper/b.md"


def test_capitalised_markdown_byline_is_recognised() -> None:
    text = (
        "# Garden Handbook\n\n*By Ann Smith*\n\n## Watering\n\n"
        "Water tomatoes deeply twice a week rather than a little every day, so the roots grow down.\n"
    )
    doc = parse(text, "garden.md")
    assert doc.title == "Garden Handbook"
    assert doc.byline is not None and "Ann Smith" in doc.byline
    assert [text[b.start : b.end] for b in doc.body] == [
        "Water tomatoes deeply twice a week rather than a little every day, so the roots grow down."
    ]
    assert doc.body[0].section == "Watering"
