"""Decide what each unit of a file is: body, heading, title, byline, subtitle, pull quote or boilerplate.

Works on the units of `rag.ingest.units` and the shapes of `rag.ingest.headings`: page
furniture and pull quotes first (`rag.ingest.boilerplate`), then the title and
byline, then headings in the forms documents use (numbered, "Article 9",
ALL-CAPS, outline stars, pilcrows, a short line over prose, and what layout
already marked). Whatever is left is body.

Does not build `Block`s or carry sections down the document: see `rag.ingest.parse`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.ingest.boilerplate import furniture, pull_quotes
from rag.ingest.headings import (
    ANSWERED,
    ARTICLE,
    ASKED,
    CODE_LIKE,
    COPYRIGHT,
    NUMBER,
    OUTLINE,
    cut_or_listed,
    is_all_caps,
    is_prose,
    is_sentence,
    is_short_label,
    n_words,
    numbered_label,
    plain_question,
    question,
)
from rag.ingest.units import HEADING as LAYOUT_HEADING
from rag.ingest.units import MAN_SECTION, Unit, split_units, strip_markup

BODY, HEADING, TITLE, BYLINE, SUBTITLE, PULL_QUOTE, BOILERPLATE = (
    "body", "heading", "title", "byline", "subtitle", "pull_quote", "boilerplate")

MARKED_MAX_WORDS = 30  # longer text styled as a heading is a paragraph in the wrong style
BYLINE_RE = re.compile(
    r"^[*_]{0,2}(?i:by|von|par|written by|author:)\s+"
    r"([A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|und|et|de|van|von|&))*)[*_]{0,2}$"
)


@dataclass(frozen=True)
class Classified:
    """The units of one file, their cleaned text, and what each is (with why)."""

    units: list[Unit]
    clean: list[str]
    kinds: list[str]  # BODY for whatever no rule claimed
    reasons: list[str]
    title: int | None
    byline: int | None


def classify(text: str, marked: Sequence[tuple[int, int, int]] = (), title: str | None = None) -> Classified:
    """What each unit of `text` is. `marked` holds the (start, end, level) spans a reader saw as headings in the
    file's own markup (an HTML <h2>, a Word Heading style, a PDF's larger type): a unit inside one is a heading.
    `title` is the title the reader saw (a PDF's largest first-page text): the unit that reads so is the title,
    and no other unit is taken for one."""
    units = split_units(text)
    clean = [strip_markup(text[u.start : u.end]) for u in units]
    kinds: list[str] = [""] * len(units)
    reasons: list[str] = [""] * len(units)

    def mark(i: int, kind: str, reason: str) -> None:
        if not kinds[i]:
            kinds[i], reasons[i] = kind, reason

    raw = [text[u.start : u.end] for u in units]
    for i, reason in furniture(clean, units, raw).items():
        mark(i, BOILERPLATE, reason)
    title_i, byline_i = _title_and_byline(units, clean, kinds, reasons, title)
    for i in _inside(units, marked):
        words = n_words(clean[i])  # a long sentence in larger type (a call-out) stays text to quote
        if words <= MARKED_MAX_WORDS and (words <= 12 or not is_sentence(clean[i])):
            mark(i, HEADING, "heading in the file's markup")
    for i, reason in pull_quotes(raw, units,
                                 {j for j, k in enumerate(kinds) if k}).items():
        mark(i, PULL_QUOTE, reason)  # before headings: a pull quote must not open a section
    sizes: dict[int, int] = {}
    multi_line: set[int] = set()  # blocks with a unit of several lines
    for u in units:
        sizes[u.block] = sizes.get(u.block, 0) + 1
        if u.lines > 1:
            multi_line.add(u.block)
    following = _following(kinds)
    for i in _faq_questions(units, clean, kinds, following):
        mark(i, HEADING, "FAQ question")
    for i, u in enumerate(units):
        if not kinds[i] and introduced(clean, units, kinds, i):
            kinds[i], reasons[i] = BODY, ""  # what a lead-in introduces ("For example:") is never a heading
        if not kinds[i]:
            # A block of one-line units is a page with a paragraph per line: each line may be a heading.
            shape = (sizes[u.block] == 1, u.block not in multi_line)
            reason = _heading(text, i, units, clean, following[i], shape)
            if reason:
                kinds[i], reasons[i] = HEADING, reason
    kinds = [k or BODY for k in kinds]
    return Classified(units, clean, kinds, reasons, title_i, byline_i)


def introduced(clean: list[str], units: list[Unit], kinds: list[str], i: int) -> bool:
    """Unit `i` follows a lead-in that ends in a colon ("For example:", "AliasList:", "in the form:"): it is the
    example, listing or list item introduced, so never a heading. A heading in the file's markup was marked
    before this is asked."""
    if i == 0 or not clean[i - 1].endswith(":") or kinds[i - 1] not in ("", BODY) or units[i - 1].role == LAYOUT_HEADING:
        return False
    # A lead-in that is itself a label ("* Other questions:", "Help on package json:") heads a list of sections:
    # a question or an upper-case section name under it stays a heading.
    c = clean[i]
    return not (question(c) or plain_question(c) or (is_all_caps(c) and not any(ch.isdigit() for ch in c)))


def _faq_questions(units: list[Unit], clean: list[str], kinds: list[str], following: list[int | None]) -> list[int]:
    """Unnumbered questions on lines of their own, each over its answer, when a document asks two or more: a
    plain-text FAQ's headings ("Why do long usernames get printed as numbers?" over an indented answer)."""
    found = []
    for i, u in enumerate(units):
        j = following[i]
        if kinds[i] or u.structural or u.lines > 2 or not plain_question(clean[i]) or j != i + 1:
            continue
        answer = units[j]  # directly below: in a block of its own, or indented under the question
        if not plain_question(clean[j]) and (answer.block != u.block or answer.indent > u.indent):
            found.append(i)
    return found if len(found) >= 2 else []


def _inside(units: list[Unit], spans: Sequence[tuple[int, int, int]]) -> list[int]:
    """The units that lie wholly inside one of `spans` (both in text order)."""
    found: list[int] = []
    ordered = sorted(spans)
    j = 0
    for i, u in enumerate(units):
        while j < len(ordered) and ordered[j][1] <= u.start:
            j += 1
        if j < len(ordered) and ordered[j][0] <= u.start and u.end <= ordered[j][1]:
            found.append(i)
    return found


def _following(kinds: list[str]) -> list[int | None]:
    """For each unit, the next one not yet classified or a pull quote (which stands where body text does)."""
    out: list[int | None] = [None] * len(kinds)
    nxt: int | None = None
    for i in range(len(kinds) - 1, -1, -1):
        out[i] = nxt
        if not kinds[i] or kinds[i] == PULL_QUOTE:
            nxt = i
    return out


def _title_and_byline(units: list[Unit], clean: list[str], kinds: list[str], reasons: list[str],
                      seen: str | None = None) -> tuple[int | None, int | None]:
    """The unit that reads as the reader's title `seen`; else a short line just above "by Name"; else the first
    unit, when it is heading-like."""
    title_i = byline_i = None
    if seen:
        wanted = _words(seen)
        title_i = next((i for i, c in enumerate(clean[:20]) if not kinds[i] and _words(c) == wanted), None)
    for i, c in enumerate(clean[:20]):
        if not kinds[i] and BYLINE_RE.match(c):
            byline_i = i
            prev = [j for j in range(i) if not kinds[j]]
            if prev and is_short_label(clean[prev[-1]]) and not seen:
                title_i = prev[-1]
            break
    if title_i is None and not seen:
        first = next((i for i in range(len(units)) if not kinds[i]), None)
        nxt = _following(kinds)[first] if first is not None else None
        if first is not None and nxt is not None and not units[first].structural \
                and units[first].form != MAN_SECTION \
                and (units[first].role == LAYOUT_HEADING or is_short_label(clean[first])):
            title_i = first
    if title_i is not None:
        kinds[title_i], reasons[title_i] = TITLE, "document title"
        for j in range(title_i):
            if not kinds[j]:
                kinds[j], reasons[j] = BOILERPLATE, "page header above the title"
        if byline_i is None:
            j = title_i + 1
            while j < len(units) and not units[j].after_blank and not kinds[j] and is_short_label(clean[j]):
                kinds[j], reasons[j] = SUBTITLE, "subtitle under the title"
                j += 1
    if byline_i is not None:
        kinds[byline_i], reasons[byline_i] = BYLINE, "byline"
        after = next((j for j in range(byline_i + 1, len(units)) if not kinds[j]), None)
        if after is not None and is_short_label(clean[after]) and units[after].role != LAYOUT_HEADING:
            kinds[after], reasons[after] = SUBTITLE, "subtitle under the byline"
    return title_i, byline_i


def _words(s: str) -> list[str]:
    return re.findall(r"[^\W_]+", s.casefold())


def _heading(text: str, i: int, units: list[Unit], clean: list[str], j: int | None,
             shape: tuple[bool, bool]) -> str:
    """Why unit `i` is a heading, or "" when it is not.

    `j` is the unit it would head; `shape` says whether `i` is alone in its
    block, and whether its block is a run of one-line units.
    """
    u, c = units[i], clean[i]
    standalone, line_per_unit = shape
    if u.role == LAYOUT_HEADING:
        return u.form
    if j is None:
        return ""  # a heading heads something
    nxt = units[j]
    raw = text[u.start : u.end]
    if standalone and u.lines <= 5:
        if OUTLINE.match(raw) and u.indent == 0 and u.lines == 1 and n_words(c) <= 12 and not is_sentence(c) \
                and (nxt.indent > 0 or _deeper_outline(raw, text[nxt.start : nxt.end])):
            return "outline heading"
        if raw.rstrip().endswith("¶") and n_words(c) <= 15:
            return "heading with a pilcrow"
        if ARTICLE.match(c) and n_words(c) <= 12 and (is_short_label(c) or c.endswith(".")):
            return "article or section heading"
        if NUMBER.match(c) and u.indent <= nxt.indent and not _list_sibling(text, u, units, i, j):
            if u.lines <= 3 and numbered_label(c):
                return "numbered heading"
            if question(c):
                return "numbered question"
        if u.lines == 1 and is_all_caps(c) and not u.structural:
            return "upper-case heading"
        if ASKED.match(c) and question(c):
            return "FAQ question"
    if ANSWERED.match(c):
        return ""  # an FAQ's answer, however short, is never a heading
    if u.structural or not (standalone or line_per_unit):
        return ""
    if i and units[i - 1].block == u.block and units[i - 1].role == LAYOUT_HEADING:
        return ""  # the first line of a section's text, on the line under its heading
    if is_short_label(c) and is_prose(clean[j]) and u.indent <= nxt.indent \
            and not CODE_LIKE.search(c) and not COPYRIGHT.match(c) and not cut_or_listed(c):
        return "short line followed by body text"  # a command, a link or a notice over prose stays text
    return ""


def _deeper_outline(raw: str, following: str) -> bool:
    """An Org-mode heading followed by one of a lower level ("* A" then "** B")."""
    return bool(OUTLINE.match(following)) and len(following) - len(following.lstrip("*")) > len(raw) - len(
        raw.lstrip("*"))


def _number(s: str) -> list[int] | None:
    m = NUMBER.match(s)
    if not m or not m.group().rstrip(".")[:1].isdigit():
        return None
    return [int(p) for p in m.group().rstrip(".").split(".")]


def _list_sibling(text: str, u: Unit, units: list[Unit], i: int, j: int) -> bool:
    """The item before or after is numbered one less or one more at the same indent: a list, not headings."""
    mine = _number(text[u.start : u.end])
    if mine is None:
        return False
    for k, step in ((j, 1), (i - 1, -1)):
        if 0 <= k < len(units) and units[k].indent == u.indent:
            other = _number(text[units[k].start : units[k].end])
            if other is not None and len(other) == len(mine) and other[:-1] == mine[:-1] \
                    and other[-1] == mine[-1] + step:
                return True
    return False
