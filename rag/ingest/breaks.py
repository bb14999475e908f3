"""Which line breaks of a quoted span only wrap a paragraph, for showing the quote on a screen.

A quote is read block by block. A code block keeps every line break: a fence (```, ~~~ or <pre>) from its
opening line to its closing one (or to the quote's end, blank lines inside included), and a blank-line-separated
block whose every line is indented four or more columns past the quote's least indented prose line (the first
line measured where it sits in the document, when the document is given), unless it reads as a paragraph wrapped
to its page (filled lines of plain words, as a plain-text file indents a clause). In every other block a line break that
only wraps the paragraph (`SOFT_BREAK`) is shown as spaces, and so is one before a line that opens with "7." only
because the paragraph was wrapped there (`join_wrapped`). So "The package is built with:" followed by an
indented or fenced command block shows the lead-in as one line and each command on its own.

Keeps the length: offsets into the result still point at the same characters. Changes nothing but line breaks
and the spaces beside them, decides nothing about what a quote is, and escapes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.ingest.lines import FILLED, NUMBER_LINE, join_wrapped
from rag.ingest.text import SOFT_BREAK

INDENTED = 4  # columns past the prose that make a blank-line-separated block of lines a code block
_PLAIN = re.compile(r"[(\"'“‘`*]*[^\W_][\w'’-]*[.,:;!?)\"'”’`*]*")  # a word as prose writes it: "(a)", "``str``,"
_PLAIN_SHARE = 0.8  # of an indented paragraph's words, at least
_OPENER = re.compile(r"[ \t]*(`{3,}|~{3,}|<pre(?=[\s>]|$))", re.IGNORECASE)
_INDENTED_LINE = re.compile(r"\n(?: {4}|[ ]{0,3}\t)")  # a line past the first that a code block could start


def reads_document(text: str) -> bool:
    """Whether how `text`'s line breaks are shown depends on the document around it: a line opens with a number
    (`join_wrapped` reads its paragraph) or a line is indented (its first line's indent is the document's)."""
    return bool(NUMBER_LINE.search(text) or _INDENTED_LINE.search(text))


def reflowed(text: str, document: str = "", start: int = 0,
             replace: Callable[[str, re.Match[str]], str] | None = None) -> str:
    """`text` with each line break that only wraps prose replaced by `replace(text, match)` (by default as many
    spaces as the `SOFT_BREAK` match holds, so the length is kept); code blocks keep theirs.

    `document`, when `document[start:]` opens with `text`, gives the first line's indent and the paragraphs a
    line opening with "7." may go on from; without it the first line's indent is the one `text` shows.
    """
    if "\n" not in text:
        return text
    kept = _code_lines(text, _first_indent(text, document, start))
    joined = join_wrapped(text, document, start)
    if any(kept):  # a code line keeps its characters, whatever `join_wrapped` read in it
        joined = "".join(t if k else j for t, j, k in zip(text, joined, kept, strict=False))
    if replace is None:
        def replace(_: str, match: re.Match[str]) -> str:
            return " " * len(match.group(0))
    out, at = [], 0
    for match in SOFT_BREAK.finditer(joined):
        if kept[match.start()] or kept[match.end()]:
            continue
        out += [joined[at : match.start()], replace(joined, match)]
        at = match.end()
    return "".join(out) + joined[at:]


def _first_indent(text: str, document: str, start: int) -> int:
    """Columns before the first line's content: in the document when it holds `text` at `start`, else in `text`."""
    if document and document[start : start + len(text)] == text:
        line_start = document.rfind("\n", 0, start) + 1
        line_end = document.find("\n", start)
        line = document[line_start : len(document) if line_end < 0 else line_end]
    else:
        line = text.split("\n", 1)[0]
    return _indent(line)


def _indent(line: str) -> int:
    wide = line.expandtabs(8)
    return len(wide) - len(wide.lstrip(" \t"))


def _code_lines(text: str, first_indent: int) -> bytearray:
    """Per character of `text` (and one past its end), 1 where it lies on a line of a code block."""
    lines: list[tuple[int, int]] = []  # (start, end including its line break)
    pos = 0
    for raw in text.splitlines(keepends=True):
        lines.append((pos, pos + len(raw)))
        pos += len(raw)
    kept = bytearray(len(text) + 1)
    prose: list[list[int]] = []  # runs of non-blank lines outside fences: indices into `lines`
    indents: dict[int, int] = {}
    i = 0
    while i < len(lines):
        line = text[lines[i][0] : lines[i][1]]
        opener = _OPENER.match(line)
        if opener and not _underline(text, lines, i):
            j = _closing(text, lines, i, opener.group(1))
            kept[lines[i][0] : lines[j][1]] = b"\x01" * (lines[j][1] - lines[i][0])
            i = j + 1
            prose.append([])
            continue
        if not line.strip():
            prose.append([])
        else:
            if not prose or not prose[-1] or prose[-1][-1] != i - 1:
                prose.append([])
            prose[-1].append(i)
            indents[i] = first_indent if i == 0 else _indent(line.rstrip("\r\n"))
        i += 1
    if not indents:
        return kept
    base = min(indents.values())
    for run in prose:
        if run and all(indents[k] >= base + INDENTED for k in run):
            lo, hi = lines[run[0]][0], lines[run[-1]][1]
            if not _wrapped_prose(text, [lines[k] for k in run]):
                kept[lo:hi] = b"\x01" * (hi - lo)
    return kept


def _wrapped_prose(text: str, run: list[tuple[int, int]]) -> bool:
    """Whether an indented block reads as a paragraph wrapped to its page (a plain-text file's indented clause,
    "    (a) that the initial Contributor ... described" / "        in Exhibit B ..."): every line but the last
    runs past `FILLED` columns and nearly every word is one a sentence writes (no options, paths or operators)."""
    shown = [text[lo:hi].rstrip("\r\n").expandtabs(8) for lo, hi in run]
    words = " ".join(shown).split()
    plain = sum(1 for w in words if _PLAIN.fullmatch(w))
    return all(len(line.rstrip()) > FILLED for line in shown[:-1]) and plain >= _PLAIN_SHARE * len(words)


def _underline(text: str, lines: list[tuple[int, int]], i: int) -> bool:
    """Whether line `i` is a row of "~" or "`" that underlines the line above it (a title), not a fence."""
    row = text[lines[i][0] : lines[i][1]].strip()
    return i > 0 and len(set(row)) == 1 and bool(text[lines[i - 1][0] : lines[i - 1][1]].strip())


def _closing(text: str, lines: list[tuple[int, int]], i: int, run: str) -> int:
    """The index of the line that closes the fence opened on line `i` (the last line when none does)."""
    if run.lower().startswith("<pre"):
        return next((j for j in range(i, len(lines)) if "</pre>" in text[lines[j][0] : lines[j][1]].lower()),
                    len(lines) - 1)
    for j in range(i + 1, len(lines)):
        closer = text[lines[j][0] : lines[j][1]].strip()
        if closer and set(closer) == {run[0]} and len(closer) >= len(run):
            return j
    return len(lines) - 1
