"""Split a decoded file into paragraph units with exact offsets.

Blank lines (including lines of non-breaking spaces) separate blocks; a
block is one hard-wrapped paragraph or one paragraph per line; Markdown
headings, list items and fenced code are units of their own. Also the small
text-shape tests (short label, prose) that classification builds on.

Does not decide what a unit is (body, heading, boilerplate): see `rag.ingest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+\S")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+\S")
_WRAP_WIDTH = 100


@dataclass
class Unit:
    start: int
    end: int
    line: int
    markdown_heading: bool = False
    structural: bool = False  # a list item or fenced code: never a heading, title or boilerplate


def _lines(text: str) -> list[tuple[int, int, int]]:
    """(start, end, line number) of each line, end excluding the newline."""
    out = []
    pos = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        body = line.rstrip("\r\n")
        skip = 1 if pos == 0 and body.startswith("\ufeff") else 0  # a byte-order mark is not text
        out.append((pos + skip, pos + len(body), number))
        pos += len(line)
    return out


def split_units(text: str) -> list[Unit]:
    """Split a file into paragraph units.

    Blank lines (including lines of non-breaking spaces) separate blocks. A
    block whose lines are all wrapped at a similar width is one hard-wrapped
    paragraph; otherwise each line is its own paragraph, as on a scraped page.
    Markdown headings and list items always start a new unit.
    """
    units: list[Unit] = []
    block: list[tuple[int, int, int]] = []
    fence: list[tuple[int, int, int]] = []
    for span in [*_lines(text), (len(text), len(text), -1)]:
        s, e, _ = span
        line = text[s:e]
        if fence:
            fence.append(span)
            if _FENCE.match(line) or span[2] == -1:
                units.append(Unit(fence[0][0], fence[-1][1] if span[2] != -1 else fence[-2][1], fence[0][2],
                                   structural=True))
                fence = []
            continue
        if _FENCE.match(line):
            if block:
                units.extend(_split_block(text, block))
                block = []
            fence = [span]
            continue
        if line.strip():
            block.append(span)
            continue
        if block:
            units.extend(_split_block(text, block))
            block = []
    return [u for u in units if u.end > u.start]


def _split_block(text: str, lines: list[tuple[int, int, int]]) -> list[Unit]:
    groups: list[list[tuple[int, int, int]]] = []
    body_lines = [ln for ln in lines if not _MD_HEADING.match(text[ln[0] : ln[1]])]
    lengths = [len(text[s:e].rstrip()) for s, e, _ in body_lines[:-1]]
    wrapped = bool(lengths) and max(lengths) <= _WRAP_WIDTH and (
        sum(n > _WRAP_WIDTH * 0.45 for n in lengths) >= 0.5 * len(lengths)
    )
    for ln in lines:
        line_text = text[ln[0] : ln[1]]
        starts_new = (
            not groups
            or not wrapped
            or _MD_HEADING.match(line_text)
            or _MD_HEADING.match(text[groups[-1][-1][0] : groups[-1][-1][1]])
            or _LIST_ITEM.match(line_text)
        )
        if starts_new:
            groups.append([ln])
        else:
            groups[-1].append(ln)
    units = []
    for group in groups:
        start = group[0][0] + _leading_space(text[group[0][0] : group[0][1]])
        end = group[-1][1]
        while end > start and text[end - 1].isspace():
            end -= 1
        first = text[group[0][0] : group[0][1]]
        units.append(Unit(start, end, group[0][2], bool(_MD_HEADING.match(first)), bool(_LIST_ITEM.match(first))))
    return units


def _leading_space(s: str) -> int:
    return len(s) - len(s.lstrip())


def strip_markup(s: str) -> str:
    s = re.sub(r"^\s{0,3}#{1,6}\s+|\s+#+\s*$", "", s)
    s = re.sub(r"^[*_]{1,3}|[*_]{1,3}$", "", s.strip())
    return " ".join(s.split())



CLOSING = ".!?,;:…\"”’)"


def n_words(s: str) -> int:
    return len(s.split())


def is_short_label(s: str) -> bool:
    """A short line with no sentence punctuation: a heading, a name, a label."""
    return n_words(s) <= 12 and len(s) <= 120 and not s.rstrip("*_ ").endswith(tuple(CLOSING))


def is_prose(s: str) -> bool:
    return n_words(s) >= 15 or (n_words(s) >= 4 and s.rstrip("*_ ").endswith((".", "!", "?", ".”", '."')))


