"""Reading order, page furniture and paragraphs of PDF text lines, from geometry alone.

Works on `Line`s (glyphs with page-space boxes) so the rules can be tested
without a PDF: columns are found by a vertical gutter that no line inks,
running headers and footers by text repeated near the top or bottom of most
pages, page numbers by their pattern there, and paragraph breaks by vertical
gaps, indents, short last lines and font-size changes.

Does not read PDFs (that is `rag.readers.pdf`) and does not detect tables,
footnotes or rotated text: those are read as ordinary lines.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

Glyph = tuple[str, bool, float, float, float, float]  # char, drawn (False: synthetic), left, bottom, right, top
SPACE: Glyph = (" ", False, 0.0, 0.0, 0.0, 0.0)
ZONE = 0.12  # running headers and footers sit in the outer 12% of the page height
# "12", "- 12 -", "Page 12 of 40", "p. 12", "xiv" (front matter numbers up to xxxix).
PAGE_NUMBER = re.compile(r"(?i)^[-–—(\[]?\s*(page|p\.|seite|pg\.?)?\s*(\d{1,4}|(?=[ivx])x{0,3}(ix|iv|v?i{0,3}))"
                         r"(\s*(of|/|von)\s*\d{1,4})?\s*[-–—)\]]?$")
TERMINAL = re.compile(r"[.!?:;][\"'”’)\]]*$")
BULLET = re.compile(r"^(?:[•◦○●▪▫■□‣⁃–-]|\d{1,3}[.)]|\([a-z0-9]{1,3}\))\s")  # a list item's mark, then space


@dataclass(eq=False)
class Line:
    """One drawn line of text on a page (mutable while the layout is worked out)."""

    page: int
    glyphs: list[Glyph]
    region: tuple[int, int, int] = (0, 0, 0)  # (page, band, column): lines of one region stack as a column
    left: float = field(init=False)
    right: float = field(init=False)
    bottom: float = field(init=False)
    top: float = field(init=False)
    size: float = field(init=False)

    def __post_init__(self) -> None:
        drawn = [g for g in self.glyphs if g[1]]
        self.left = min(g[2] for g in drawn)
        self.right = max(g[4] for g in drawn)
        self.bottom = statistics.median(g[3] for g in drawn)
        self.top = statistics.median(g[5] for g in drawn)
        self.size = max(self.top - self.bottom, 1.0)

    @property
    def text(self) -> str:
        return "".join(g[0] for g in self.glyphs)

    @property
    def middle(self) -> float:
        return (self.bottom + self.top) / 2


def make_line(page: int, glyphs: list[Glyph]) -> Line | None:
    """A Line from glyphs in drawing order: spaces collapsed and trimmed; None if nothing is drawn."""
    out: list[Glyph] = []
    for g in glyphs:
        if g[0].isspace():
            if out and not out[-1][0].isspace():
                out.append(SPACE)
        else:
            out.append(g)
    while out and out[-1][0].isspace():
        out.pop()
    return Line(page, out) if any(g[1] for g in out) else None


def find_gutter(lines: list[Line]) -> tuple[float, float] | None:
    """The widest vertical strip near the page middle that (almost) no line inks, splitting most lines."""
    if len(lines) < 8:
        return None
    lo, hi = min(ln.left for ln in lines), max(ln.right for ln in lines)
    width = int(hi - lo) + 2
    if width < 120:
        return None
    ink = [0] * (width + 1)
    for ln in lines:
        for a, b in _spans(ln):
            ink[int(a - lo)] += 1
            ink[int(b - lo) + 1] -= 1
    allowed = max(1, len(lines) // 20)  # titles and figures may cross the gutter
    best: tuple[int, int] | None = None
    run_start, level = None, 0
    for x in range(width + 1):
        level += ink[x]
        inside = width * 0.25 <= x <= width * 0.75 and level <= allowed
        if inside and run_start is None:
            run_start = x
        if not inside and run_start is not None:
            if best is None or x - run_start > best[1] - best[0]:
                best = (run_start, x)
            run_start = None
    if best is None or best[1] - best[0] < 6:
        return None
    g0, g1 = lo + best[0], lo + best[1]
    left = [ln for ln in lines if ln.right <= g1 and ln.left < g0]
    right = [ln for ln in lines if ln.left >= g0 and ln.right > g1]
    if min(len(left), len(right)) < 3 or len(left) + len(right) < 0.6 * len(lines):
        return None
    # Body text fills its column; a table's short cells do not, and is not read as columns.
    if statistics.median(ln.right - ln.left for ln in left) < 0.5 * (g0 - lo):
        return None
    if statistics.median(ln.right - ln.left for ln in right) < 0.5 * (hi - g1):
        return None
    return g0, g1


def _spans(line: Line) -> list[tuple[float, float]]:
    """The x-intervals a line inks (glyph boxes of one word merged)."""
    spans: list[list[float]] = []
    for g in line.glyphs:
        if not g[1]:
            continue
        if spans and g[2] <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], g[4])
        else:
            spans.append([g[2], g[4]])
    return [(a, b) for a, b in spans]


def split_columns(lines: list[Line], gutter: tuple[float, float]) -> list[tuple[Line, int]]:
    """Each line with its column (0 left, 1 right, -1 crossing the gutter).

    A run that holds both columns' text on one baseline (some producers draw a page row by row) is cut in two.
    """
    g0, g1 = gutter
    mid, quarter = (g0 + g1) / 2, (g1 - g0) / 4
    out: list[tuple[Line, int]] = []
    for ln in lines:
        # Crossing means inking the middle of the gutter: a glyph that pokes into its edge does not count.
        if any(a < mid + quarter and b > mid - quarter for a, b in _spans(ln)):
            out.append((ln, -1))
            continue
        cut = next((i for i, g in enumerate(ln.glyphs) if g[1] and g[2] > mid), len(ln.glyphs))
        for part, col in ((ln.glyphs[:cut], 0), (ln.glyphs[cut:], 1)):
            piece = make_line(ln.page, part)
            if piece is not None:
                out.append((piece, col))
    return out


def merge_rows(lines: list[tuple[Line, int]]) -> list[tuple[Line, int]]:
    """Join pieces of one column that sit on the same baseline (a line drawn in several runs), left to right."""
    rows: list[list[tuple[Line, int]]] = []
    for ln, col in sorted(lines, key=lambda item: -item[0].middle):
        for row in rows[-3:]:  # sorted by height, so a same-baseline row is a recent one
            first = row[0][0]
            if row[0][1] == col and abs(first.middle - ln.middle) < 0.35 * first.size:
                row.append((ln, col))
                break
        else:
            rows.append([(ln, col)])
    out: list[tuple[Line, int]] = []
    for row in rows:
        parts = sorted((ln for ln, _ in row), key=lambda ln: ln.left)
        glyphs = list(parts[0].glyphs)
        for p in parts[1:]:
            glyphs += [SPACE, *p.glyphs]
        merged = make_line(parts[0].page, glyphs)
        if merged is not None:
            out.append((merged, row[0][1]))
    return out


def reading_order(page: int, lines: list[Line]) -> list[Line]:
    """A page's lines in reading order: top to bottom, column by column between full-width lines.

    Sets each line's region: a run of lines of one column between full-width lines.
    """
    gutter = find_gutter(lines)
    cols = split_columns(lines, gutter) if gutter else [(ln, 0) for ln in lines]
    ordered: list[tuple[Line, int]] = []
    band: list[tuple[Line, int]] = []
    for ln, col in merge_rows(cols):  # top to bottom
        if col < 0:
            ordered += sorted(band, key=lambda item: item[1])  # stable: each column stays top to bottom
            band = []
            ordered.append((ln, col))
        else:
            band.append((ln, col))
    ordered += sorted(band, key=lambda item: item[1])
    region, prev = 0, None
    for ln, col in ordered:
        if col != prev:
            region, prev = region + 1, col
        ln.region = (page, region, col)
    return [ln for ln, _ in ordered]


def drop_furniture(pages: list[list[Line]], frames: list[tuple[float, float]],
                   title: list[Line] | None = None) -> tuple[list[list[Line]], list[str]]:
    """Remove running headers/footers (repeated near the top or bottom of most pages) and page numbers.

    `frames` holds each page's (bottom, top) in the coordinates of its lines; the lines in `title` (the first
    page's title, which later pages may repeat as their running header) are never removed.
    """
    kept_ids = {id(ln) for ln in title or ()}
    def zone(ln: Line, frame: tuple[float, float]) -> str | None:
        bottom, top = frame
        if ln.bottom >= top - ZONE * (top - bottom):
            return "header"
        return "footer" if ln.top <= bottom + ZONE * (top - bottom) else None

    def key(ln: Line, where: str) -> str:
        return where + ":" + re.sub(r"\d+", "#", " ".join(ln.text.lower().split()))

    seen: dict[str, set[int]] = defaultdict(set)
    example: dict[str, str] = {}
    for p, lines in enumerate(pages):
        for ln in lines:
            where = zone(ln, frames[p])
            if where:
                seen[key(ln, where)].add(p)
                example.setdefault(key(ln, where), " ".join(ln.text.split()))
    need = max(2, math.ceil(0.5 * len(pages)))
    running = {k for k, ps in seen.items() if len(ps) >= need}
    dropped: dict[str, set[int]] = defaultdict(set)  # what -> pages it was dropped from
    kept: list[list[Line]] = []
    for p, lines in enumerate(pages):
        keep = []
        for ln in lines:
            where = zone(ln, frames[p])
            k = key(ln, where) if where else ""
            if id(ln) in kept_ids:
                keep.append(ln)
            elif where and PAGE_NUMBER.match(" ".join(ln.text.split())):
                dropped["page numbers"].add(p)
            elif where and k in running:
                dropped[f"running {where} {example[k]!r}"].add(p)
            else:
                keep.append(ln)
        kept.append(keep)
    notes = [f"dropped {what} on {len(ps)} page{'s' * (len(ps) != 1)}" for what, ps in dropped.items()]
    return kept, notes


def paragraphs(lines: list[Line]) -> list[list[Line]]:
    """Group lines (in reading order, all pages) into paragraphs, continuing them across columns and pages."""
    ratios = sorted((a.bottom - b.bottom) / a.size for a, b in itertools.pairwise(lines)
                    if a.region == b.region and _same_size(a, b) and 0.8 < (a.bottom - b.bottom) / a.size < 3)
    # The line pitch: the lower quartile, since paragraph gaps can outnumber lines in short paragraphs.
    pitch = ratios[len(ratios) // 4] if ratios else 1.3
    extent: dict[tuple[int, int, int], tuple[float, float]] = {}
    for ln in lines:
        lo, hi = extent.get(ln.region, (ln.left, ln.right))
        extent[ln.region] = (min(lo, ln.left), max(hi, ln.right))
    body = body_size(lines)
    out: list[list[Line]] = []
    for ln in lines:
        if out and not _breaks(out[-1][-1], ln, pitch, extent, body):
            out[-1].append(ln)
        else:
            out.append([ln])
    return out


def _hangs(a: Line, b: Line) -> bool:
    """Line b lines up under the text of list item a, past its bullet ("•  Applications must ..." / "rules ...")."""
    mark = BULLET.match(a.text)
    if not mark:
        return False
    after = next((g for g in a.glyphs[mark.end():] if g[1]), None)
    return after is not None and abs(after[2] - b.left) <= 0.8 * b.size


def body_size(lines: list[Line]) -> float:
    """The line size of most of the text, weighted by characters."""
    weights: Counter[float] = Counter()
    for ln in lines:
        weights[round(ln.size, 1)] += len(ln.glyphs)
    return weights.most_common(1)[0][0] if weights else 1.0


def _same_size(a: Line, b: Line) -> bool:
    return abs(a.size - b.size) <= 0.15 * max(a.size, b.size)


def _breaks(a: Line, b: Line, pitch: float, extent: dict[tuple[int, int, int], tuple[float, float]],
            body: float) -> bool:
    """Does a new paragraph start at line b, after line a?"""
    if not _same_size(a, b):
        return True
    b_left = extent[b.region][0]
    indented = b.left > b_left + 0.8 * b.size
    if a.region != b.region:  # a column or page break: continue an unfinished sentence, never a heading
        return indented or a.size > 1.15 * body or (bool(TERMINAL.search(a.text)) and not b.text[:1].islower())
    gap = (a.bottom - b.bottom) / a.size
    if gap <= 0 or gap > pitch * 1.25:
        return True
    ends = bool(TERMINAL.search(a.text))
    if BULLET.match(b.text):
        return True  # a list item opens with its bullet
    # An indented line opens a paragraph, unless it goes on from a line indented as much (a block quote)
    # or from a list item whose text it lines up under (a bullet's hanging indent).
    if indented and (a.left < b.left - 0.5 * b.size or ends) and not (not ends and _hangs(a, b)):
        return True
    a_left, a_right = extent[a.region]
    return ends and a.right < a_right - 0.2 * (a_right - a_left)  # a short last line
