"""Read seed documents into classified blocks with exact offsets.

A *block* is a paragraph-like run of the file: a body paragraph, a heading, a
title, a byline, a pull quote, or page boilerplate. Blocks never copy or
normalise the file's text: each is a (start, end) span into the decoded file,
so anything cut from it later can be cited to the exact characters.

Documents of many kinds are read by general rules, not by a list of one
document's strings: `rag.ingest.units` splits the file into units (paragraphs,
list items, definitions, code, tables), `rag.ingest.classify` decides what each is
(`rag.ingest.boilerplate` for what is dropped), and `parse` here carries each
heading down to the body blocks under it. A body unit that goes on with
a sentence the one before left open (a bullet or column broken at a line
end, a sentence that continues after the example it introduces) joins it,
so a paragraph, and every quote cut from it, holds whole sentences. Every dropped block keeps its
reason, and `describe` reports the share of words kept, so
`rag build --verbose` shows what was left out.

Does not split blocks into sentences or passages: that is `rag.ingest.chunk`.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.ingest.classify import BODY, BOILERPLATE, BYLINE, BYLINE_RE, HEADING, PULL_QUOTE, SUBTITLE, TITLE, classify
from rag.ingest.headings import heading_name, label_text, run_in_label
from rag.ingest.text import sentence_spans
from rag.ingest.units import CODE, Unit, strip_markup
from rag.readers import SUFFIXES as _FORMAT_SUFFIXES
from rag.readers.seedfiles import find_sources

SUFFIXES = _FORMAT_SUFFIXES  # every kind of file a reader exists for (rag.readers)
KINDS = (BODY, HEADING, TITLE, BYLINE, SUBTITLE, PULL_QUOTE, BOILERPLATE)  # every Block.kind
AUTHOR_SECTION = "About the author"


@dataclass(frozen=True)
class Block:
    """One paragraph-like span of a source file and what it is."""

    start: int
    end: int
    kind: str
    line: int  # 1-based line number of the block's first character
    reason: str = ""  # why a non-body block was classified so
    section: str | None = None
    paragraph: int | None = None  # 1-based, body blocks only


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the seeds folder, "/"-separated
    text: str  # the file exactly as decoded; offsets point into it
    title: str | None
    byline: str | None
    blocks: tuple[Block, ...]
    sha256: str = ""  # of the file's bytes
    kind: str = "text"  # the reader that made `text`: "text" (the file itself), "pdf", "html" or "docx"
    pages: tuple[int, ...] = ()  # start offset of each page in `text` (paged formats only)
    notes: tuple[str, ...] = ()  # what the reader left out or could not read, one line each

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, or None for a format without pages."""
        return page_at(self.pages, offset)

    @property
    def body(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == BODY]

    @property
    def sections(self) -> list[str]:
        return [heading_name(self.clean(b)) for b in self.blocks if b.kind == HEADING]

    @property
    def dropped(self) -> list[Block]:
        return [b for b in self.blocks if b.kind in (BOILERPLATE, PULL_QUOTE)]

    def clean(self, block: Block) -> str:
        """A block's text with Markdown markers and runs of whitespace removed."""
        return strip_markup(self.text[block.start : block.end])

    def word_counts(self) -> WordCounts:
        """How many of the document's words are body, headings, or dropped (see `word_counts`)."""
        return word_counts(self)


@dataclass(frozen=True)
class Skipped:
    """A file that could not be ingested, and why (one line for the user)."""

    source: str
    reason: str
    sha256: str = ""  # of the bytes read, when the file could be read at all


# --- reading files --------------------------------------------------------


def page_at(pages: tuple[int, ...] | list[int], offset: int) -> int | None:
    """The 1-based page whose start offset is the last at or before `offset`; None without pages."""
    return bisect.bisect_right(pages, offset) if pages else None


# --- classification -------------------------------------------------------


def parse(text: str, source: str, headings: Sequence[tuple[int, int, int]] = (), title: str | None = None) -> Document:
    """Classify the units of one decoded file into a Document, each body block in its section.

    A body block's section is the nearest heading above it, or the run-in
    label its paragraph (or an earlier one since that heading) opens with:
    "2. Grant of Copyright License. Subject to ..." sits in "2. Grant of
    Copyright License". `headings` are the spans a reader saw as headings in the file's markup
    (`rag.readers.Extracted.headings`); `title` is the title the reader saw (`rag.readers.Extracted.title`): it
    is the document's, whether or not its text holds it.
    """
    found = classify(text, headings, title)
    units, clean, kinds, reasons = found.units, found.clean, found.kinds, found.reasons
    author = BYLINE_RE.match(clean[found.byline]).group(1) if found.byline is not None else None  # type: ignore[union-attr]
    blocks: list[Block] = []
    section: str | None = None
    paragraph = 0
    last_heading = max((i for i, k in enumerate(kinds) if k == HEADING), default=-1)
    going_on = False  # the last body block's sentence goes on past a code example in it
    for i, u in enumerate(units):
        kind = kinds[i]
        if kind == HEADING:
            section = heading_name(clean[i])
        if kind != BODY:
            blocks.append(Block(u.start, u.end, kind, u.line, reasons[i], section))
            continue
        last = blocks[-1] if blocks and blocks[-1].kind == BODY else None
        if last is not None and (going_on or continues(text, last, u)):
            # One sentence laid out over several units: a bullet or a column broken at a line, or a sentence
            # that goes on after the example it introduces ("you need to run" / "cmake ..." / "from a build").
            blocks[-1] = dataclasses.replace(last, end=u.end)
            going_on = False
            continue
        if last is not None and u.role == CODE and i + 1 < len(units) and kinds[i + 1] == BODY \
                and open_ended(text, last.end) and _lower_case_text(text, units[i + 1]):
            blocks[-1] = dataclasses.replace(last, end=u.end)
            going_on = True
            continue
        paragraph += 1
        spans = sentence_spans(text, u.start, u.end)
        section = label_text(text, spans, run_in_label(text, spans)) or section
        sec = section
        if author and i > last_heading and clean[i].startswith(author):
            sec = AUTHOR_SECTION
        blocks.append(Block(u.start, u.end, BODY, u.line, "", sec, paragraph))
    title = title or (clean[found.title] if found.title is not None else None)
    byline = clean[found.byline] if found.byline is not None else None
    return Document(source, text, title, byline, tuple(blocks))


_CLOSED = re.compile(r"[.!?…:][\"'”’)\]*_`]*$")  # a sentence's or a lead-in's last characters


def open_ended(text: str, end: int) -> bool:
    """The text before `end` stops inside a sentence: no closing punctuation, and its last line holds words
    (a line of one name or command, as reference listings have, is not a sentence left open)."""
    last_line = text[:end].rsplit("\n", 1)[-1].strip(" \t|*")
    return not _CLOSED.search(last_line) and len(last_line.split()) >= 2


def continues(text: str, block: Block, unit: Unit) -> bool:
    """`unit` goes on with the sentence that `block` leaves open: it opens with a lower-case word."""
    return _lower_case_text(text, unit) and open_ended(text, block.end)


def _lower_case_text(text: str, unit: Unit) -> bool:
    """A unit of running text (not a list item, table or code) that opens with a lower-case word."""
    return not unit.structural and text[unit.start : unit.start + 1].islower()


# --- reporting ---------------------------------------------------------------

_TOKEN = re.compile(r"\S*[^\W_]\S*")


@dataclass(frozen=True)
class WordCounts:
    """How many words (whitespace-separated tokens holding a letter or digit) went where."""

    total: int
    body: int
    headings: int  # headings, title, byline and subtitle
    dropped: int  # pull quotes and boilerplate

    @property
    def outside(self) -> int:
        """Words in no block at all: lost text, if ever more than zero."""
        return self.total - self.body - self.headings - self.dropped


def word_counts(doc: Document) -> WordCounts:
    """Where the words of `doc` went: body, headings or dropped."""
    counts = {BODY: 0, HEADING: 0, BOILERPLATE: 0}
    for b in doc.blocks:
        bucket = b.kind if b.kind == BODY else BOILERPLATE if b.kind in (BOILERPLATE, PULL_QUOTE) else HEADING
        counts[bucket] += len(_TOKEN.findall(doc.text, b.start, b.end))
    return WordCounts(len(_TOKEN.findall(doc.text)), counts[BODY], counts[HEADING], counts[BOILERPLATE])


def describe(doc: Document) -> str:
    """A short report of one document: title, word shares, sections, and what was dropped."""
    n = doc.word_counts()
    share = f"{100 * n.body / n.total:.1f}%" if n.total else "-"
    lost = f", {n.outside} outside any block" if n.outside else ""
    lines = [
        f"{doc.source}: title {doc.title!r}, byline {doc.byline!r}, "
        f"{len(doc.body)} body paragraphs, {len(doc.sections)} sections",
        f"  words: {n.total}, kept {n.body} ({share}) in body, {n.headings} in headings, {n.dropped} dropped{lost}",
    ]
    lines += [f"  note: {note}" for note in doc.notes]
    for name in doc.sections:
        lines.append(f"  section: {name}")
    for b in doc.dropped:
        snippet = " ".join(doc.text[b.start : b.end].split())
        snippet = snippet if len(snippet) <= 70 else snippet[:67] + "..."
        lines.append(f"  dropped line {b.line} ({b.reason}): {snippet}")
    return "\n".join(lines)


__all__ = ["Block", "Document", "Skipped", "WordCounts", "describe", "find_sources", "page_at", "parse",
           "word_counts"]
