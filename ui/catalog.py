"""What each indexed document is: its title, kind, length and sections, for listing documents.

The index keeps each document's text (a text file is read back from the
seeds; a PDF's, web page's or Word file's extracted text is stored) and each
passage's section, but not the title ingestion found. The title is worked out
again from the stored text by the same rules ingestion uses (`rag.ingest.parse.parse`;
a man page is listed by its NAME line rather than its header line, for display only),
once per document version (keyed by the file's sha256 in the manifest), so a
list refreshed after every rebuild costs only the documents that changed.

Does not search or rank anything, and never reads a file the index does not
already hold: it describes what an `Index` serves.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from rag.ingest.parse import parse

KIND_NAMES = {"pdf": "PDF", "html": "web page", "docx": "Word", "markdown": "Markdown", "text": "text"}
_WORD = re.compile(r"\S*[^\W_]\S*")
MAN_HEADER = re.compile(r"^(\S+)\((\w+)\)\s.*\s\1\(\2\)$")  # a man page's first line: "SSH(1) ... SSH(1)"


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document as a person would list it."""

    source: str  # its name in the seeds folder, as citations give it
    title: str  # the title ingestion reads from the text, else the file name in words
    kind: str  # "pdf", "html", "docx", "markdown" or "text"
    pages: int | None  # for paged formats (PDF), else None
    words: int
    passages: int
    sections: tuple[tuple[str, int], ...]  # (section heading, passages under it), in document order

    @property
    def size(self) -> str:
        """"12 pages" for a PDF, else "3,400 words"."""
        if self.pages is not None:
            return f"{self.pages:,} page" + ("" if self.pages == 1 else "s")
        return f"{self.words:,} word" + ("" if self.words == 1 else "s")

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)


def name_in_words(source: str) -> str:
    """A file name as words: "reports/ssh-manual.txt" -> "ssh manual"."""
    stem = PurePosixPath(source).stem
    return " ".join(stem.replace("_", " ").replace("-", " ").split()) or stem


def kind_of(source: str, extracted: dict[str, Any] | None) -> str:
    if extracted is not None:
        return str(extracted.get("kind", "text"))
    return "markdown" if PurePosixPath(source).suffix.lower() in (".md", ".markdown") else "text"


_titles: dict[tuple[str, str], str | None] = {}
_titles_lock = threading.Lock()


def _title(source: str, fingerprint: str, text: str) -> str | None:
    key = (source, fingerprint)
    with _titles_lock:
        if key in _titles:
            return _titles[key]
    doc = parse(text, source)
    title = doc.title
    if title and MAN_HEADER.match(title):  # "GIT-STASH(1) Git Manual GIT-STASH(1)": the NAME line names it better
        named = next((b for b in doc.body if b.section == "NAME"), None)
        title = " ".join(text[named.start : named.end].split()) if named is not None else title
    with _titles_lock:
        if len(_titles) > 4096:  # a long-running server sees many versions; keep the cache bounded
            _titles.clear()
        _titles[key] = title
    return title


def describe_document(index: Any, source: str, citations: list[Any] | None = None) -> DocumentInfo:
    """The `DocumentInfo` of one document of `index` (an `rag.Index`); `citations`: its passages' citations."""
    text = index.text_of(source)
    extracted = index.documents.extracted.get(source)
    fingerprint = index.manifest.sources.get(source) or str(hash(text))
    title = _title(source, fingerprint, text) or name_in_words(source)
    if citations is None:
        citations = [p.citation for p in index.passages_of(source)]  # its rows, without a walk over every passage
    sections = Counter(c.section for c in citations if c.section)
    order = list(dict.fromkeys(c.section for c in citations if c.section))
    passages = len(citations)
    pages = len(extracted.get("pages", ())) if extracted is not None and extracted.get("pages") else None
    return DocumentInfo(source, " ".join(title.split()), kind_of(source, extracted), pages,
                        len(_WORD.findall(text)), passages, tuple((s, sections[s]) for s in order))


def catalog(index: Any) -> tuple[DocumentInfo, ...]:
    """Every document `index` serves, by source name."""
    return tuple(describe_document(index, source) for source in index.sources)


__all__ = ["KIND_NAMES", "DocumentInfo", "catalog", "describe_document", "name_in_words"]
