"""Read seed documents into classified blocks with exact offsets.

A *block* is a paragraph-like run of the file: a body paragraph, a heading, a
title, a byline, a pull quote, or page boilerplate. Blocks never copy or
normalise the file's text: each is a (start, end) span into the decoded file,
so anything cut from it later can be cited to the exact characters.

Boilerplate is found by general rules that fit scraped article pages
(repeated navigation labels, photo credits, "download the PDF" lines,
contact blocks with e-mail addresses or phone numbers, CMS widget names), not
by a list of one page's strings. Every dropped block keeps its reason, so
`rag build --verbose` can show what was left out.

Does not split blocks into sentences or passages: that is `rag.chunk`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import IngestError
from .text import content_words, sentence_spans, words

SUFFIXES = (".txt", ".md", ".markdown")

BODY, HEADING, TITLE, BYLINE, SUBTITLE, PULL_QUOTE, BOILERPLATE = (
    "body",
    "heading",
    "title",
    "byline",
    "subtitle",
    "pull_quote",
    "boilerplate",
)
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
    sha256: str = ""  # of the bytes the text was decoded from

    @property
    def body(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == BODY]

    @property
    def sections(self) -> list[str]:
        return [self.clean(b) for b in self.blocks if b.kind == HEADING]

    @property
    def dropped(self) -> list[Block]:
        return [b for b in self.blocks if b.kind in (BOILERPLATE, PULL_QUOTE)]

    def clean(self, block: Block) -> str:
        """A block's text with Markdown markers and runs of whitespace removed."""
        return _strip_markup(self.text[block.start : block.end])


@dataclass(frozen=True)
class Skipped:
    """A file that could not be ingested, and why (one line for the user)."""

    source: str
    reason: str
    sha256: str = ""  # of the bytes read, when the file could be read at all


# --- reading files --------------------------------------------------------


def find_sources(seeds_dir: Path) -> list[Path]:
    """Every .txt/.md file under `seeds_dir`, recursively, in a stable order.

    README.md files describe a folder rather than belong to it, so they are
    skipped.
    """
    if not seeds_dir.is_dir():
        raise IngestError(
            f"Seeds folder {seeds_dir} does not exist; create it and put .txt or .md files in it, "
            "or pass --seeds DIR."
        )
    paths = sorted(
        p
        for p in seeds_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and p.name.lower() != "readme.md"
        and not any(part.startswith(".") for part in p.relative_to(seeds_dir).parts)
    )
    if not paths:
        raise IngestError(
            f"Seeds folder {seeds_dir} has no .txt or .md documents; add at least one and run "
            "`rag build` again."
        )
    return paths


def read_source(path: Path) -> str:
    """Decode a file as UTF-8 or raise IngestError with a one-line reason."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise IngestError(f"{path.name}: cannot be read ({err.strerror or err}); check its permissions") from None
    return decode_source(data, path.name)


def decode_source(data: bytes, name: str) -> str:
    """UTF-8 text of a file's bytes, with no newline translation, or IngestError."""
    path = Path(name)
    if not data.strip():
        raise IngestError(f"{path.name}: the file is empty")
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path.name}: looks like a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise IngestError(
            f"{path.name}: not UTF-8 (byte {err.start}); convert it, e.g. "
            f"`iconv -f latin1 -t utf-8`"
        ) from None
    # A byte-order mark is not text; offsets still count it as one character.
    return text


def ingest(seeds_dir: Path) -> tuple[list[Document], list[Skipped]]:
    """Ingest every document under `seeds_dir`; unreadable files are skipped, not fatal."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for path in find_sources(seeds_dir):
        source = path.relative_to(seeds_dir).as_posix()
        try:
            data = path.read_bytes()
        except OSError as err:
            skipped.append(Skipped(source, f"cannot be read ({err.strerror or err}); check its permissions"))
            continue
        # The fingerprint is of these very bytes, so the manifest can never
        # record an edit made after they were read.
        sha = hashlib.sha256(data).hexdigest()
        try:
            text = decode_source(data, path.name)
        except IngestError as err:
            skipped.append(Skipped(source, str(err).split(": ", 1)[-1], sha))
            continue
        doc = dataclasses.replace(parse(text, source), sha256=sha)
        if not doc.body:
            skipped.append(Skipped(source, "no body text found after removing boilerplate", sha))
            continue
        docs.append(doc)
    if not docs:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped)
        raise IngestError(f"No readable documents in {seeds_dir} ({reasons}).")
    return docs, skipped


# --- splitting into units -------------------------------------------------

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+\S")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+\S")
_WRAP_WIDTH = 100


@dataclass
class _Unit:
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


def split_units(text: str) -> list[_Unit]:
    """Split a file into paragraph units.

    Blank lines (including lines of non-breaking spaces) separate blocks. A
    block whose lines are all wrapped at a similar width is one hard-wrapped
    paragraph; otherwise each line is its own paragraph, as on a scraped page.
    Markdown headings and list items always start a new unit.
    """
    units: list[_Unit] = []
    block: list[tuple[int, int, int]] = []
    fence: list[tuple[int, int, int]] = []
    for span in [*_lines(text), (len(text), len(text), -1)]:
        s, e, _ = span
        line = text[s:e]
        if fence:
            fence.append(span)
            if _FENCE.match(line) or span[2] == -1:
                units.append(_Unit(fence[0][0], fence[-1][1] if span[2] != -1 else fence[-2][1], fence[0][2],
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


def _split_block(text: str, lines: list[tuple[int, int, int]]) -> list[_Unit]:
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
        units.append(_Unit(start, end, group[0][2], bool(_MD_HEADING.match(first)), bool(_LIST_ITEM.match(first))))
    return units


def _leading_space(s: str) -> int:
    return len(s) - len(s.lstrip())


def _strip_markup(s: str) -> str:
    s = re.sub(r"^\s{0,3}#{1,6}\s+|\s+#+\s*$", "", s)
    s = re.sub(r"^[*_]{1,3}|[*_]{1,3}$", "", s.strip())
    return " ".join(s.split())


# --- classification -------------------------------------------------------

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?:\+|\b0)\d[\d\s\-/().]{6,}\d\b")
_CREDIT = re.compile(
    r"picture[- ]alliance|getty ?images|reuters|shutterstock|imago|\bdpa\b|\bafp\b|"
    r"associated press|\bap photo|\bphoto(?:graph)?s?\s*(?:by|:|credit)|\bfoto\b|©|"
    r"\(c\)\s*\d{4}|\bcredits?:|\bimage:|\bsource: (?:picture|photo)",
    re.IGNORECASE,
)
_PDF_LINE = re.compile(
    r"\b(?:pdf)\b.*\b(?:download|format|version|full|print|file)\b|"
    r"\b(?:download|format|version|full|print|file)\b.*\bpdf\b",
    re.IGNORECASE,
)
_WIDGET = re.compile(r"^[a-z]+(?:[-_][a-z]+)+$")
_BYLINE = re.compile(
    r"^[*_]{0,2}(?:by|von|par|written by|author:)\s+"
    r"([A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|und|et|de|van|von|&))*)[*_]{0,2}$"
)
_CLOSING = ".!?,;:…\"”’)"


def _n_words(s: str) -> int:
    return len(s.split())


def _is_short_label(s: str) -> bool:
    """A short line with no sentence punctuation: a heading, a name, a label."""
    return _n_words(s) <= 12 and len(s) <= 120 and not s.rstrip("*_ ").endswith(tuple(_CLOSING))


def _is_prose(s: str) -> bool:
    return _n_words(s) >= 15 or (_n_words(s) >= 4 and s.rstrip("*_ ").endswith((".", "!", "?", ".”", '."')))


def parse(text: str, source: str) -> Document:
    """Classify the units of one decoded file into a Document."""
    units = split_units(text)
    raw = [text[u.start : u.end] for u in units]
    clean = [_strip_markup(r) for r in raw]
    kinds: list[str] = [""] * len(units)
    reasons: list[str] = [""] * len(units)

    def mark(i: int, kind: str, reason: str) -> None:
        if not kinds[i]:
            kinds[i], reasons[i] = kind, reason

    structural = {i for i, u in enumerate(units) if u.structural}

    # 1. Page furniture, by general rules.
    counts: dict[str, int] = {}
    for c in clean:
        if _n_words(c) <= 6:
            counts[c.casefold()] = counts.get(c.casefold(), 0) + 1
    for i, c in enumerate(clean):
        if units[i].markdown_heading or i in structural:
            continue
        if _n_words(c) <= 6 and counts.get(c.casefold(), 0) >= 3:
            mark(i, BOILERPLATE, f"short line repeated {counts[c.casefold()]} times (navigation label)")
        elif _n_words(c) <= 15 and _CREDIT.search(c) and not c.endswith("."):
            mark(i, BOILERPLATE, "photo credit")
        elif _n_words(c) <= 25 and _PDF_LINE.search(c):
            mark(i, BOILERPLATE, "download-the-PDF line")
        elif _WIDGET.match(c):
            mark(i, BOILERPLATE, "page widget name")
    _mark_contact_blocks(clean, units, kinds, reasons)

    # 2. Title and byline: a short line just above "by Name" (else a leading # heading).
    title_i = byline_i = None
    for i, c in enumerate(clean[:20]):
        if not kinds[i] and _BYLINE.match(c):
            byline_i = i
            prev = [j for j in range(i) if not kinds[j]]
            if prev and _is_short_label(clean[prev[-1]]):
                title_i = prev[-1]
            break
    if title_i is None:
        first = next((i for i in range(len(units)) if not kinds[i] and i not in structural), None)
        if first is not None and (units[first].markdown_heading or _is_short_label(clean[first])):
            nxt = next((j for j in range(first + 1, len(units)) if not kinds[j]), None)
            if units[first].markdown_heading or (nxt is not None and _is_prose(clean[nxt])):
                title_i = first
    if title_i is not None:
        kinds[title_i], reasons[title_i] = TITLE, "document title"
        for j in range(title_i):
            mark(j, BOILERPLATE, "page header above the title")
    if byline_i is not None:
        kinds[byline_i], reasons[byline_i] = BYLINE, "byline"
        after = next((j for j in range(byline_i + 1, len(units)) if not kinds[j]), None)
        if after is not None and _is_short_label(clean[after]) and not units[after].markdown_heading:
            kinds[after], reasons[after] = SUBTITLE, "subtitle under the byline"

    # 3. Pull quotes, before headings: a pull quote must not open a section.
    _mark_pull_quotes(clean, kinds, reasons)

    # 4. Headings: Markdown ones, and short unpunctuated lines followed by prose.
    for i, c in enumerate(clean):
        if kinds[i] or i in structural:
            continue
        nxt = next((j for j in range(i + 1, len(units)) if not kinds[j] or kinds[j] == PULL_QUOTE), None)
        if units[i].markdown_heading:
            kinds[i], reasons[i] = HEADING, "Markdown heading"
        elif _is_short_label(c) and nxt is not None and _is_prose(clean[nxt]):
            kinds[i], reasons[i] = HEADING, "short line followed by body text"

    # 5. The rest is body; number paragraphs and carry sections.
    author = _BYLINE.match(clean[byline_i]).group(1) if byline_i is not None else None  # type: ignore[union-attr]
    blocks: list[Block] = []
    section: str | None = None
    paragraph = 0
    last_heading = max((i for i, k in enumerate(kinds) if k == HEADING), default=-1)
    for i, u in enumerate(units):
        kind = kinds[i] or BODY
        if kind == HEADING:
            section = clean[i]
        if kind == BODY:
            paragraph += 1
            sec = section
            if author and i > last_heading and clean[i].startswith(author):
                sec = AUTHOR_SECTION
            blocks.append(Block(u.start, u.end, BODY, u.line, "", sec, paragraph))
        else:
            blocks.append(Block(u.start, u.end, kind, u.line, reasons[i], section))
    title = clean[title_i] if title_i is not None else None
    return Document(source, text, title, clean[byline_i] if byline_i is not None else None, tuple(blocks))


def _mark_contact_blocks(clean: list[str], units: list[_Unit], kinds: list[str], reasons: list[str]) -> None:
    """An e-mail or phone line, and the short label lines around it, is a contact block."""
    n = len(clean)
    def mark(j: int) -> None:
        if not kinds[j]:
            kinds[j], reasons[j] = BOILERPLATE, "contact block (e-mail or phone number)"

    for i, c in enumerate(clean):
        if _n_words(c) > 15 or not (_EMAIL.search(c) or _PHONE.search(c)):
            continue
        lo = i
        while lo > 0 and _is_contact_label(clean[lo - 1], units[lo - 1]):
            lo -= 1
        hi = i
        while hi + 1 < n and (
            _is_contact_label(clean[hi + 1], units[hi + 1])
            or (_n_words(clean[hi + 1]) <= 15 and (_EMAIL.search(clean[hi + 1]) or _PHONE.search(clean[hi + 1])))
        ):
            hi += 1
        for j in range(lo, hi + 1):
            mark(j)


def _is_contact_label(c: str, unit: _Unit) -> bool:
    return (not unit.markdown_heading and _n_words(c) <= 8 and not c.endswith((".", "!", "?"))) or c.rstrip(".") in ("Dr", "Prof")


def _content_set(s: str) -> set[str]:
    return set(content_words(s))


def _mark_pull_quotes(clean: list[str], kinds: list[str], reasons: list[str]) -> None:
    """A short one-sentence paragraph that repeats a body sentence elsewhere.

    Pull quotes repeat a body sentence out of place, so we keep the body
    sentence (with its neighbours) and drop the copy. The match allows a
    close paraphrase: most of the quote's content words must occur in one or
    two consecutive sentences of a different paragraph.
    """
    candidates = [
        i
        for i, c in enumerate(clean)
        if not kinds[i] and 4 <= _n_words(c) <= 35 and len(sentence_spans(c)) == 1 and c.endswith((".", "!", "?", "”"))
    ]
    windows: list[tuple[int, set[str]]] = []
    for i, c in enumerate(clean):
        if kinds[i] or _n_words(c) < 15:
            continue
        sents = [_content_set(c[s:e]) for s, e in sentence_spans(c)]
        for k in range(len(sents)):
            windows.append((i, sents[k]))
            if k + 1 < len(sents):
                windows.append((i, sents[k] | sents[k + 1]))
    for i in candidates:
        want = _content_set(clean[i])
        if len(want) < 3:
            continue
        best = max((len(want & w) / len(want) for j, w in windows if j != i), default=0.0)
        if best >= 0.7:
            kinds[i], reasons[i] = PULL_QUOTE, f"pull quote repeating a body sentence ({best:.0%} of its words)"


def describe(doc: Document) -> str:
    """A short report of one document: title, sections, and what was dropped."""
    lines = [
        f"{doc.source}: title {doc.title!r}, byline {doc.byline!r}, "
        f"{len(doc.body)} body paragraphs, {len(doc.sections)} sections"
    ]
    for name in doc.sections:
        lines.append(f"  section: {name}")
    for b in doc.dropped:
        snippet = " ".join(doc.text[b.start : b.end].split())
        snippet = snippet if len(snippet) <= 70 else snippet[:67] + "..."
        lines.append(f"  dropped line {b.line} ({b.reason}): {snippet}")
    return "\n".join(lines)


__all__ = ["Block", "Document", "Skipped", "describe", "find_sources", "ingest", "parse", "read_source", "words"]
