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

from .boilerplate import furniture, pull_quotes
from .errors import IngestError
from .layout import is_prose, is_short_label, split_units, strip_markup

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
        return strip_markup(self.text[block.start : block.end])


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


# --- classification -------------------------------------------------------


_BYLINE = re.compile(
    r"^[*_]{0,2}(?i:by|von|par|written by|author:)\s+"
    r"([A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|und|et|de|van|von|&))*)[*_]{0,2}$"
)

def parse(text: str, source: str) -> Document:
    """Classify the units of one decoded file into a Document."""
    units = split_units(text)
    clean = [strip_markup(text[u.start : u.end]) for u in units]
    kinds: list[str] = [""] * len(units)
    reasons: list[str] = [""] * len(units)

    def mark(i: int, kind: str, reason: str) -> None:
        if not kinds[i]:
            kinds[i], reasons[i] = kind, reason

    structural = {i for i, u in enumerate(units) if u.structural}

    # 1. Page furniture, by general rules.
    for i, reason in furniture(clean, units).items():
        mark(i, BOILERPLATE, reason)

    # 2. Title and byline: a short line just above "by Name" (else a leading # heading).
    title_i = byline_i = None
    for i, c in enumerate(clean[:20]):
        if not kinds[i] and _BYLINE.match(c):
            byline_i = i
            prev = [j for j in range(i) if not kinds[j]]
            if prev and is_short_label(clean[prev[-1]]):
                title_i = prev[-1]
            break
    if title_i is None:
        first = next((i for i in range(len(units)) if not kinds[i] and i not in structural), None)
        if first is not None and (units[first].markdown_heading or is_short_label(clean[first])):
            nxt = next((j for j in range(first + 1, len(units)) if not kinds[j]), None)
            if units[first].markdown_heading or (nxt is not None and is_prose(clean[nxt])):
                title_i = first
    if title_i is not None:
        kinds[title_i], reasons[title_i] = TITLE, "document title"
        for j in range(title_i):
            mark(j, BOILERPLATE, "page header above the title")
    if byline_i is not None:
        kinds[byline_i], reasons[byline_i] = BYLINE, "byline"
        after = next((j for j in range(byline_i + 1, len(units)) if not kinds[j]), None)
        if after is not None and is_short_label(clean[after]) and not units[after].markdown_heading:
            kinds[after], reasons[after] = SUBTITLE, "subtitle under the byline"

    # 3. Pull quotes, before headings: a pull quote must not open a section.
    for i, reason in pull_quotes(clean, {j for j, k in enumerate(kinds) if k}).items():
        mark(i, PULL_QUOTE, reason)

    # 4. Headings: Markdown ones, and short unpunctuated lines followed by prose.
    for i, c in enumerate(clean):
        if kinds[i] or i in structural:
            continue
        nxt = next((j for j in range(i + 1, len(units)) if not kinds[j] or kinds[j] == PULL_QUOTE), None)
        if units[i].markdown_heading:
            kinds[i], reasons[i] = HEADING, "Markdown heading"
        elif is_short_label(c) and nxt is not None and is_prose(clean[nxt]):
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


__all__ = ["Block", "Document", "Skipped", "describe", "find_sources", "ingest", "parse"]
