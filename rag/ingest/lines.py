"""Read a decoded file as lines with exact offsets, and find what encloses their content.

Each line keeps its span in the file and the span of its content: without
indentation, trailing space, and the border of a box it sits in (pydoc's
"|" margin, a "*  ...  *" frame). Also finds closed Markdown fences (an
unclosed fence is not a fence) and the lines a hard-wrapped file centres on
its page (a plain-text title, "Preamble", "TERMS AND CONDITIONS"), and the
lines a paragraph's wrapping happens to start with a number ("...under section" /
"7.  This requirement ..."), which go on with the line before rather than start a list item;
`join_wrapped` shows such a line break inside a quote as a space, by the same rule.

Does not group lines into paragraphs: see `rag.ingest.units`.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from rag.ingest.headings import RULE

_NUMBERED = re.compile(r"^(\d{1,3})[.)]\s+\S")  # a line that opens as a numbered list item: "7. ", "12) "
_ENDS = re.compile(r"[.:;!?…][\"'”’)\]*_`]*$")  # a line that ends a sentence or a clause
FILLED = 45  # columns a wrapped paragraph's line runs past, at least (also `rag.ingest.units`' hard-wrap test)
_FENCE = re.compile(r"^(`{3,}|~{3,})([^`]*)$")
_PRE = re.compile(r"^<pre(?:\s[^>]*)?>", re.IGNORECASE)  # Markdown's raw-HTML code block, closed by "</pre>"


@dataclass(frozen=True)
class Line:
    start: int  # first character of the line (a byte-order mark is not text)
    end: int  # end of the line, newline excluded
    number: int  # 1-based
    cs: int  # start of its content: after indentation and any box border
    ce: int  # end of its content: before trailing space and any box border
    indent: int  # display column of the content, tabs expanded

    @property
    def blank(self) -> bool:
        return self.ce <= self.cs


def make_line(text: str, start: int, end: int, number: int, lo: int | None = None, hi: int | None = None) -> Line:
    cs, ce = start if lo is None else lo, end if hi is None else hi
    while cs < ce and text[cs].isspace():
        cs += 1
    while ce > cs and text[ce - 1].isspace():
        ce -= 1
    return Line(start, end, number, cs, ce, len(text[start:cs].expandtabs(8)))


def read_lines(text: str) -> list[Line]:
    out = []
    pos = 0
    for number, raw in enumerate(text.splitlines(keepends=True), start=1):
        body = raw.rstrip("\r\n")
        skip = 1 if pos == 0 and body.startswith("\ufeff") else 0
        out.append(make_line(text, pos + skip, pos + len(body), number))
        pos += len(raw)
    return out


def fences(text: str, lines: list[Line]) -> dict[int, int]:
    """Closed Markdown fences and <pre> blocks: opening line index -> closing line index. An unclosed fence is
    not a fence."""
    marks: dict[str, list[int]] = {"`": [], "~": []}
    for i, ln in enumerate(lines):
        m = _FENCE.match(text[ln.cs : ln.ce])
        if m and ln.indent <= 3:
            marks[m.group(1)[0]].append(i)
    pre_ends = [i for i, ln in enumerate(lines) if "</pre>" in text[ln.cs : ln.ce].lower()]
    found: dict[int, int] = {}
    i = 0
    while i < len(lines):
        ln = lines[i]
        m = _FENCE.match(text[ln.cs : ln.ce]) if ln.indent <= 3 else None
        if m:
            run = m.group(1)
            later = marks[run[0]]
            for j in later[bisect.bisect_right(later, i) :]:
                closer = text[lines[j].cs : lines[j].ce]
                if set(closer) == {run[0]} and len(closer) >= len(run):
                    found[i] = j
                    break
            if i in found:
                i = found[i] + 1
                continue
        elif ln.indent <= 3 and _PRE.match(text[ln.cs : ln.ce]):
            after = bisect.bisect_left(pre_ends, i)
            if after < len(pre_ends) and pre_ends[after] > i:  # closed on a later line (on its own line: one unit)
                found[i] = pre_ends[after]
                i = pre_ends[after] + 1
                continue
        i += 1
    return found


def unbox(text: str, lines: list[Line], fenced: set[int]) -> list[Line]:
    """Content of lines inside a pydoc "|" margin or a "*  ...  *" box, without the border."""
    out = list(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and j not in fenced and _pipe_margin(text, lines[j], lines[i]):
            j += 1
        # A margin, not a table: some line has no "|" but the margin's.
        if j - i >= 2 and any(text[ln.cs : ln.ce].count("|") == 1 for ln in lines[i:j]):
            for k in range(i, j):
                out[k] = make_line(text, lines[k].start, lines[k].end, lines[k].number, lo=lines[k].cs + 1)
            i = j
            continue
        k = i
        while k < len(lines) and k not in fenced and _star_box(text, lines[k], lines[i]):
            k += 1
        if k - i >= 3:
            for m in range(i, k):
                ln = lines[m]
                out[m] = make_line(text, ln.start, ln.end, ln.number, lo=ln.cs + 1, hi=ln.ce - 1)
        # A run that is no box holds no box either: go past it.
        i = max(j, k, i + 1)
    return out


def _pipe_margin(text: str, ln: Line, first: Line) -> bool:
    return (not ln.blank and text[ln.cs] == "|" and ln.cs - ln.start == first.cs - first.start
            and (ln.ce == ln.cs + 1 or text[ln.cs + 1].isspace()))


def _star_box(text: str, ln: Line, first: Line) -> bool:
    return (ln.ce - ln.cs >= 10 and text[ln.cs] == "*" and text[ln.ce - 1] == "*"
            and ln.cs - ln.start == first.cs - first.start and ln.ce - ln.start == first.ce - first.start)


_PAGE_MAX = 100  # a file whose lines run wider is not hard-wrapped to a page: nothing in it is centred
_MARGIN = 8  # columns of space a centred line leaves on each side at least
_WORDY = re.compile(r"[^\W_][\w'’&.,:;()-]*")  # a word, a number or a date as a title writes them


def centred(text: str, lines: list[Line], base: int) -> set[int]:
    """The numbers of the lines set in the middle of a hard-wrapped page, over text that starts far left of them.

    Such a line leaves space on both sides of at least `_MARGIN` columns, neither side under half the other
    (the page's right edge is where nine lines in ten end), holds words only (no option, path, prompt or run of
    spaces, as a command or a table's columns do), and the next line that is not so placed starts `_MARGIN` or more columns further left: an indented paragraph's
    short last line or a man page's indented table is no centred line.
    """
    widths = sorted(ln.indent + ln.ce - ln.cs for ln in lines if not ln.blank)
    if not widths or widths[int(0.9 * (len(widths) - 1))] > _PAGE_MAX:
        return set()
    page = widths[int(0.9 * (len(widths) - 1))]

    def placed(ln: Line) -> bool:
        left, right = ln.indent - base, page - (ln.indent + ln.ce - ln.cs)
        return min(left, right) >= _MARGIN and 2 * min(left, right) >= max(left, right) \
            and "  " not in text[ln.cs : ln.ce] and all(_WORDY.fullmatch(w) for w in text[ln.cs : ln.ce].split())

    found: set[int] = set()
    run: list[Line] = []
    for ln in lines:
        if ln.blank:
            continue
        if placed(ln):
            run.append(ln)
            continue
        found.update(c.number for c in run if c.indent - ln.indent >= _MARGIN)
        run = []
    return found


def wrapped_numbers(text: str, block: list[Line]) -> set[int]:
    """The numbers of the lines of one blank-separated block that start with "N." or "N)" only because the
    paragraph was wrapped there: the line before is filled (past `FILLED` columns, with no room left for "N."
    within the block's widest line, as a greedy wrap leaves it), ends no sentence or clause and starts no further
    right (a list's number stands out left of its items' wrapped lines), and N continues no numbering (it is not
    1, and no earlier line of the block is numbered N-1).

    Does not look past the block: a list whose items stand apart keeps each item in a block of its own.
    """
    widest = max((_width(ln) for ln in block), default=0)
    seen: set[int] = set()
    found: set[int] = set()
    for k, ln in enumerate(block):
        m = _NUMBERED.match(content(text, ln))
        if not m:
            continue
        n = int(m.group(1))
        if k and n > 1 and n - 1 not in seen:
            prev = block[k - 1]
            room = widest - _width(prev) - 1  # columns left at the end of the line before
            if _width(prev) > FILLED and room < len(m.group(1)) + 1 and prev.indent <= ln.indent \
                    and not _ENDS.search(content(text, prev)):
                found.add(ln.number)
                continue
        seen.add(n)
    return found


NUMBER_LINE = re.compile(r"\n[ \t]*\d{1,3}[.)]")
_REACH = 10_000  # characters around a quote read for the blocks it lies in (a longer block is read in part)


def wrapped_breaks(text: str, start: int, end: int) -> list[int]:
    """Where, counted from `start`, the line breaks of `text[start:end]` are that `wrapped_numbers` reads as a
    sentence going on: each before a line it finds in its blank-separated block (read whole, up to `_REACH`
    characters either side, outside fences and rules), and each inside the span.

    Does not take off a block's leading heading as ingest does before grouping a block.
    """
    lo = text.rfind("\n", 0, max(0, start - _REACH)) + 1
    hi = text.find("\n", min(len(text), end + _REACH))
    window = text[lo : len(text) if hi < 0 else hi]
    lines = read_lines(window)
    fenced_at = fences(window, lines)
    fenced = {k for i, j in fenced_at.items() for k in range(i, j + 1)}
    lines = unbox(window, lines, fenced)
    found: list[int] = []
    block: list[Line] = []
    for i, ln in enumerate([*lines, None]):
        if ln is not None and not ln.blank and i not in fenced and not is_rule(window, ln):
            block.append(ln)
            continue
        if block and block[0].start <= end - lo and block[-1].end >= start - lo:
            numbers = wrapped_numbers(window, block)
            found += [lo + prev.end - start for prev, nxt in itertools.pairwise(block)
                      if nxt.number in numbers and start <= lo + prev.end and lo + nxt.start <= end]
        block = []
    return found


def join_wrapped(quote: str, document: str = "", start: int = 0) -> str:
    """`quote` with each line break `wrapped_breaks` finds shown as a space, its length kept (offsets into it
    still hold), when `document[start:]` opens with it; else `quote` as it is (no document: no context to read)."""
    if not NUMBER_LINE.search(quote) or not document or document[start : start + len(quote)] != quote:
        return quote  # most quotes have no line that opens with a number: nothing to read
    chars = list(quote)
    for at in wrapped_breaks(document, start, start + len(quote)):
        chars[at] = " "
        if quote[at : at + 2] == "\r\n":
            chars[at + 1] = " "
    return "".join(chars)


def _width(ln: Line) -> int:
    return ln.indent + (ln.ce - ln.cs)


def content(text: str, ln: Line) -> str:
    return text[ln.cs : ln.ce]


def is_rule(text: str, ln: Line) -> bool:
    return bool(RULE.match(content(text, ln)))
