"""Licence-like plain text: numbered clause titles, centred lines and the name a document goes by.

* A numbered clause title in headline case is a section, however long, with the short words a title leaves in
  lower case ("13. Use with the Other Widget Licence."); a numbered sentence is not.
* Every passage cut from a long clause stands in that clause, not the one before it.
* Short lines centred on a hard-wrapped page are the title and headings ("Preamble", "TERMS AND CONDITIONS");
  an indented command or an indented paragraph's short last line is not.
* A document's label (the context its passages are matched in) keeps its file name's words beside its title.
"""

from __future__ import annotations

from types import SimpleNamespace

from rag.ingest.chunk import chunk_document
from rag.ingest.context import document_label
from rag.ingest.parse import parse

FILLER = ("The licensee may copy the widget for any purpose, and each copy carries this notice in full. "
          "Nothing in this clause grants a right to the names or marks of the licensor or its members. ")


def centre(line: str, width: int = 70) -> str:
    return " " * ((width - len(line)) // 2) + line


def wrap(text: str, width: int = 70, indent: str = "  ") -> str:
    lines, cur = [], ""
    for word in text.split():
        if cur and len(indent) + len(cur) + 1 + len(word) > width:
            lines.append(indent + cur)
            cur = word
        else:
            cur = f"{cur} {word}".strip()
    lines.append(indent + cur)
    return "\n".join(lines)


LICENCE = "\n\n".join([
    centre("WIDGET PUBLIC LICENCE") + "\n" + centre("Version 2, 1 May 2020"),
    centre("Preamble"),
    wrap("The Widget Public Licence is a licence for widgets of every kind. It keeps widgets free to share "
         "and to change, and it says what a licensee may not do with them. " + FILLER),
    centre("TERMS AND CONDITIONS"),
    "  1. Definitions.",
    wrap('"Widget" means any work licensed under this Licence, in whole or in part, by its licensor.'),
    "  2. Use with the Other Widget Licence.",
    wrap("Notwithstanding any other provision of this Licence, you may link a covered widget with a work "
         "under the Other Widget Licence and convey the combination. " + FILLER),
    "  3. Acceptance Not Required for Having Copies.",
    wrap("You are not required to accept this Licence in order to receive or run a copy of the widget. "
         + FILLER * 4),
    "  4. Install it with the supplied tool.",
    wrap("The supplied tool installs the widget into the folder the licensee names on its command line."),
    "  5. This is what the licensor promises.",
    wrap("The licensor promises nothing beyond what this Licence states in its clauses above and below."),
    centre("END OF TERMS AND CONDITIONS"),
    centre("How to Apply These Terms to Your New Widgets"),
    wrap("To do so, attach the following notices to the widget. It is safest to attach them to the start "
         "of each source file, and each file should have at least the copyright line."),
    "          widget --install --prefix=/usr/local",
    wrap("Run the command above from the folder that holds the widget, as the user who will own it."),
]) + "\n"


def section_of(doc, words: str) -> str | None:
    return next(b.section for b in doc.body if words in " ".join(doc.text[b.start : b.end].split()))


def test_a_numbered_clause_title_in_headline_case_is_a_section_of_its_own() -> None:
    doc = parse(LICENCE, "wpl-2.txt")
    assert "2. Use with the Other Widget Licence" in doc.sections
    assert "3. Acceptance Not Required for Having Copies" in doc.sections
    assert section_of(doc, "link a covered widget") == "2. Use with the Other Widget Licence"
    assert section_of(doc, "not required to accept") == "3. Acceptance Not Required for Having Copies"
    # A numbered sentence ("Install it ...", "This is what ...") stays text in the clause above it.
    assert section_of(doc, "Install it with the supplied tool") == "3. Acceptance Not Required for Having Copies"
    assert section_of(doc, "This is what the licensor promises") == "3. Acceptance Not Required for Having Copies"


def test_every_passage_cut_from_a_long_clause_stands_in_that_clause() -> None:
    doc = parse(LICENCE, "wpl-2.txt")
    cut = [c for c in chunk_document(doc, max_words=40)
           if c.passage.citation.start >= LICENCE.index("You are not required")
           and c.passage.citation.end <= LICENCE.index("4. Install")]
    assert len(cut) >= 3  # the clause is long enough to be cut
    for chunk in cut:
        assert chunk.passage.citation.section == "3. Acceptance Not Required for Having Copies"
        assert chunk.search_text.startswith("3. Acceptance Not Required for Having Copies: ")
        assert LICENCE[chunk.passage.citation.start : chunk.passage.citation.end] == chunk.passage.text


def test_centred_lines_are_the_title_and_headings_but_an_indented_command_is_not() -> None:
    doc = parse(LICENCE, "wpl-2.txt")
    assert doc.title == "WIDGET PUBLIC LICENCE Version 2, 1 May 2020"
    assert section_of(doc, "licence for widgets of every kind") == "Preamble"
    assert "TERMS AND CONDITIONS" in doc.sections
    assert section_of(doc, "attach the following notices") == "How to Apply These Terms to Your New Widgets"
    assert "widget --install --prefix=/usr/local" not in doc.sections
    assert section_of(doc, "as the user who will own it") == "How to Apply These Terms to Your New Widgets"
    # A man page's paragraphs indented under their section: a short last line there is text, not a heading.
    manual = "NAME\n\n" + "\n\n".join([
        wrap("The option reads the list of widgets from the file and installs each one in turn, stopping at "
             "the first that fails to install.", width=72, indent=" " * 14),
        " " * 14 + "Widgets that fail are named.",
        wrap("A second paragraph at the same indentation says what the exit status is when nothing fails.",
             width=72, indent=" " * 14),
    ]) + "\n"
    page = parse(manual, "widget-manual.txt")
    assert "Widgets that fail are named." not in page.sections
    assert section_of(page, "Widgets that fail are named.") == section_of(page, "A second paragraph")


def test_a_document_is_labelled_by_its_title_and_its_file_name() -> None:
    assert document_label(SimpleNamespace(title="WIDGET PUBLIC LICENCE", source="wpl-2.txt")) \
        == "WIDGET PUBLIC LICENCE (wpl 2)"
    # A title that holds every word of the file name is label enough; no title leaves the file name.
    assert document_label(SimpleNamespace(title="Widget FAQ", source="docs/widget-faq.txt")) == "Widget FAQ"
    assert document_label(SimpleNamespace(title=None, source="widget_manual.txt")) == "widget manual"
