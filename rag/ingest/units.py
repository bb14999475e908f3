"""Split a decoded file into paragraph units with exact offsets.

Blank lines (including lines of non-breaking spaces, and the empty lines of a
pydoc "|" or "*...*" box) separate blocks; so do rules (a line of one
repeated mark). A block becomes one or more units by its layout, not its
words: a hard-wrapped paragraph is one unit; a block of one paragraph per
line (a scraped page) is one unit per line; a list item (not a line the
wrapping of a paragraph starts with "7."), a definition (a
term with more-indented lines under it), an indented code example, a table
and a closed Markdown fence are each one unit. Headings that layout alone
shows are marked: Markdown ATX, Setext / reStructuredText underlines, a
man-page section ("DESCRIPTION" over indented text) and a numbered FAQ
question on the first line(s) of its answer.

Does not decide what a unit is (body, heading, boilerplate): see `rag.ingest.parse`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from rag.ingest.headings import (
    ATX,
    BULLET,
    LIST_ITEM,
    NUMBER,
    has_words,
    is_all_caps,
    is_prose,
    is_short_label,
    is_table_row,
    n_words,
    question,
    underlinable,
)
from rag.ingest.lines import FILLED, Line, centred, content, fences, is_rule, read_lines, unbox, wrapped_numbers

__all__ = ["Unit", "split_units", "strip_markup"]

HEADING, CODE, LIST, DEFINITION, TABLE, COMMENT = "heading", "code", "list", "definition", "table", "comment"
STRUCTURAL = (CODE, LIST, DEFINITION, TABLE, COMMENT)
ATX_FORM, UNDERLINED, MAN_SECTION, QUESTION, CENTRED = (
    "Markdown heading", "underlined heading", "man-page section", "numbered question", "centred heading")
_WRAP_WIDTH = 100
_TABLE_WORDS = 100  # a longer table is one unit per row
_CODE_MARKS = set("{}[]()<>=;$|\\/_#*`'\"@%&^~:")
_PROMPT = re.compile(r"^(?:>>>|\.\.\.|\$|%|#|C:\\>)\s")


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    line: int
    role: str = ""  # "", HEADING or one of STRUCTURAL
    form: str = ""  # for a heading: which form layout saw
    block: int = 0  # index of the blank-separated block it came from
    indent: int = 0
    lines: int = 1
    after_blank: bool = True  # a blank line, not a rule or its own block's text, comes right before it

    @property
    def markdown_heading(self) -> bool:
        return self.form == ATX_FORM

    @property
    def structural(self) -> bool:
        """A list item, definition, table, comment or code: never a heading, title or boilerplate."""
        return self.role in STRUCTURAL


def split_units(text: str) -> list[Unit]:
    """Split a file into paragraph units (see the module docstring)."""
    lines = read_lines(text)
    fenced_at = fences(text, lines)
    fenced = {k for i, j in fenced_at.items() for k in range(i, j + 1)}
    lines = unbox(text, lines, fenced)
    base = min((ln.indent for ln in lines if not ln.blank), default=0)
    splitter = _Splitter(text, base, centred(text, lines, base))
    i = 0
    while i < len(lines):
        ln = lines[i]
        if i in fenced_at:
            splitter.flush()
            closer = lines[fenced_at[i]]
            splitter.emit([ln, closer], CODE, "fenced code")
            splitter.blocks += 1
            i = fenced_at[i] + 1
        elif ln.blank:
            splitter.flush()
            splitter.after_blank = True
            i += 1
        elif is_rule(text, ln):
            splitter.rule()
            i += 1
        else:
            splitter.block.append(ln)
            i += 1
    splitter.flush()
    return [u for u in splitter.units if u.end > u.start]


class _Splitter:
    """Collects the lines of one block at a time and turns each block into units."""

    def __init__(self, text: str, base: int, centred: set[int]) -> None:
        self.text, self.base, self.centred = text, base, centred
        self.units: list[Unit] = []
        self.block: list[Line] = []
        self.blocks = 0
        self.after_blank = True
        self.ref_indent: int | None = None  # first-line indent of the last block of prose: code is indented from it

    def emit(self, group: list[Line], role: str, form: str = "") -> None:
        first = group[0]
        last = self.units[-1] if self.units else None
        if role == CODE and not form and last is not None and last.role == CODE and not last.form \
                and last.block == self.blocks - 1 and self.after_blank and first.indent >= last.indent:
            # Blank lines inside an indented example do not end it.
            self.units[-1] = dataclasses.replace(last, end=group[-1].ce, lines=group[-1].number - last.line + 1,
                                                 block=self.blocks)
            self.after_blank = False
            return
        self.units.append(Unit(first.cs, group[-1].ce, first.number, role, form, self.blocks, first.indent,
                               group[-1].number - first.number + 1, self.after_blank))
        self.after_blank = False

    def rule(self) -> None:
        """A rule under a short heading-like line underlines it (Setext, reStructuredText); else it separates."""
        block = self.block
        if block and all(is_short_label(content(self.text, ln)) for ln in block[:-1]) \
                and underlinable(content(self.text, block[-1])) and not BULLET.match(content(self.text, block[-1])):
            self.block = block[:-1]
            self.flush(per_line=True)
            self.emit([block[-1]], HEADING, UNDERLINED)
            self.blocks += 1
            self.block = []
        else:
            self.flush()
        self.after_blank = False

    def flush(self, *, per_line: bool = False) -> None:
        block, self.block = self.block, []
        if not block:
            return
        text = self.text
        if all(ln.number in self.centred and is_short_label(content(text, ln)) for ln in block) \
                and all(any(ch.isalpha() for ch in content(text, ln)) for ln in block):
            self.emit(block, HEADING, CENTRED)  # a title or a heading set in the middle of the page
            self.blocks += 1
            return
        first = content(text, block[0])
        if len(block) >= 2 and block[0].indent <= self.base and is_all_caps(first) and n_words(first) <= 6 \
                and all(ln.indent > block[0].indent for ln in block[1:]):
            self.emit(block[:1], HEADING, MAN_SECTION)
            block = block[1:]
        elif NUMBER.match(first) and block[0].indent <= self.base:
            for k in range(min(len(block) - 1, 5)):
                if block[k].indent != block[0].indent:
                    break
                if question(" ".join(content(text, ln) for ln in block[: k + 1])) \
                        and not LIST_ITEM.match(content(text, block[k + 1])):
                    self.emit(block[: k + 1], HEADING, QUESTION)
                    block = block[k + 1 :]
                    break
        if len(block) >= 3 and all(content(text, ln).startswith("#") for ln in block):
            self.emit(block, COMMENT)  # a block of "#" comment lines, not a run of Markdown headings
        else:
            self._group(block, per_line)
        self.blocks += 1

    def _group(self, block: list[Line], per_line: bool) -> None:
        text = self.text
        # An indented example or quotation under the prose above it (none before the first prose).
        deeper = self.ref_indent is not None and block[0].indent > self.ref_indent
        if deeper and _is_code(text, block):
            self.emit(block, CODE)  # one unit, whatever its inner indentation
            return
        per_line = per_line or (block[0].indent <= self.base and not deeper and not _hard_wrapped(text, block))
        groups: list[list[Line]] = []
        hanging = False  # the current unit has a line indented under its first
        wrapped = wrapped_numbers(text, block)  # "N." lines that go on with a sentence: no list items
        for ln in block:
            if groups and not self._starts_unit(groups[-1], ln, per_line, hanging, ln.number in wrapped):
                hanging = hanging or ln.indent > groups[-1][0].indent
                groups[-1].append(ln)
            else:
                groups.append([ln])
                hanging = False
        groups = [part for group in groups for part in _table_rows(text, group)]
        roles = [_role(text, group, deeper) for group in groups]
        for group, role in zip(groups, roles, strict=True):
            self.emit(group, role, ATX_FORM if role == HEADING else "")
        # Prose sets the indentation that a code example is indented from; labels and headings do not.
        if CODE not in roles and any(is_prose(" ".join(content(text, ln) for ln in g)) for g in groups):
            self.ref_indent = block[0].indent

    def _starts_unit(self, cur: list[Line], ln: Line, per_line: bool, hanging: bool, wrapped: bool) -> bool:
        text = self.text
        c, head, prev = content(text, ln), cur[0], cur[-1]
        if _is_atx(text, head) or _is_atx(text, ln):
            return True
        if is_table_row(c) or is_table_row(content(text, prev)):
            return not (is_table_row(c) and is_table_row(content(text, prev)))
        if LIST_ITEM.match(c) and not wrapped:
            return True
        if ln.indent > head.indent or c.startswith(": "):
            # A hanging definition ("term: definition" in Markdown extra), a list item's continuation,
            # or an example inside it.
            return False
        if hanging:
            return not c[:1].islower()  # back at the term's indent: the next term, unless a sentence goes on
        if ln.indent < head.indent and prev.ce - prev.cs <= FILLED:
            return True  # centred lines, or a first-line indent after a short last line
        if per_line:
            return True
        # A line longer than the wrap width that ends a sentence was a whole paragraph of its own.
        return _width(prev) > _WRAP_WIDTH and content(text, prev).endswith((".", "!", "?", ".)", ".”", '."', ":"))


def _table_rows(text: str, group: list[Line]) -> list[list[Line]]:
    """A long table as one unit per row (a border or delimiter line stays with the row above); else as is."""
    if not all(is_table_row(content(text, ln)) for ln in group) \
            or sum(n_words(content(text, ln)) for ln in group) <= _TABLE_WORDS:
        return [group]
    rows: list[list[Line]] = []
    for ln in group:
        if rows and (not has_words(content(text, ln)) or not any(has_words(content(text, r)) for r in rows[-1])):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return rows


def _width(ln: Line) -> int:
    return ln.indent + (ln.ce - ln.cs)


def _hard_wrapped(text: str, block: list[Line]) -> bool:
    """Most lines but the last are filled to a similar width, as a hard-wrapped paragraph's are."""
    widths = [_width(ln) for ln in block[:-1]]
    return bool(widths) and sum(FILLED < w <= _WRAP_WIDTH for w in widths) >= 0.5 * len(widths)


def _is_atx(text: str, ln: Line) -> bool:
    return ln.indent <= 3 and bool(ATX.match(content(text, ln))) and not content(text, ln).startswith("#!")


def _role(text: str, group: list[Line], deeper: bool) -> str:
    first = content(text, group[0])
    if len(group) == 1 and _is_atx(text, group[0]):
        return HEADING
    if all(is_table_row(content(text, ln)) for ln in group):
        return TABLE
    if LIST_ITEM.match(first):
        return LIST
    if deeper and _is_code(text, group):
        return CODE
    if any(ln.indent > group[0].indent for ln in group[1:]):
        return DEFINITION
    return ""


def _is_code(text: str, group: list[Line]) -> bool:
    if LIST_ITEM.match(content(text, group[0])) or is_table_row(content(text, group[0])):
        return False  # a list or table keeps one unit per item or table
    return not is_prose(" ".join(content(text, ln) for ln in group)) or looks_like_code(text, group)


def looks_like_code(text: str, group: list[Line]) -> bool:
    """Prompts ("$ ", ">>> ") or a density of brackets and operators that prose does not have."""
    body = "".join(content(text, ln) for ln in group)
    if any(_PROMPT.match(content(text, ln)) for ln in group):
        return True
    marks = sum(ch in _CODE_MARKS for ch in body)
    letters = sum(ch.isalnum() for ch in body)
    return marks > 0.12 * max(letters, 1)


def strip_markup(s: str) -> str:
    """A unit's text for display and comparison: Markdown and outline markers, pilcrows and runs of space removed."""
    s = re.sub(r"^\s{0,3}#{1,6}\s+|\s+#+\s*$", "", s)
    s = re.sub(r"\s*¶\s*$", "", s)
    s = re.sub(r"^[*_]{1,6}\s*|[*_]{1,3}$", "", s.strip())
    return " ".join(s.split())
