"""A build's documents, read one at a time, so a build holds a batch of them, never the corpus.

`survey` reads and hashes every seed file first and keeps nothing of them
but their fingerprints: the build then knows which documents it re-uses
(`Unchanged`), which it must parse (`Pending`) and how many bytes those
hold. `Intake` parses and chunks the pending files in order as the build
reaches them, says what each reader left out, and estimates how many texts
the model has still to read from the bytes still to parse, so progress has
a total before the last file is read.

Does not classify text (`rag.ingest.parse`), embed or write (`rag.build.builder`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IngestError
from rag.ingest.chunk import Chunk, chunk_document
from rag.ingest.context import context_ids
from rag.ingest.parse import Document, Skipped, describe
from rag.ingest.sandbox import parse_file
from rag.ingest.text import vocabulary as words_of
from rag.readers import FormatError
from rag.readers.limits import corpus_too_big, file_too_big, limits
from rag.readers.seedfiles import check_source, find_sources, printable, read_source

OCR_STAGE = "reading (OCR)"  # the build stage while a file's pages are read by OCR


@dataclass(frozen=True)
class Unchanged:
    """A file whose bytes hash to the sha256 an earlier index recorded for it: not parsed again."""

    source: str
    sha256: str


@dataclass(frozen=True)
class Pending:
    """A file to parse (new, or changed since the earlier index); `size` in bytes when surveyed."""

    source: str
    path: Path
    target: Path  # the file to read (`path`, or what a link inside the seeds folder points to)
    size: int


@dataclass(frozen=True)
class Chunked:
    """A parsed document, its passages and its words (which de-hyphenate its sentences, `rag.ingest.text`)."""

    doc: Document
    chunks: list[Chunk]
    vocabulary: set[str]

    @property
    def texts(self) -> int:
        """The texts the model reads for it: each passage, each sentence and each context."""
        return len(self.chunks) + sum(len(c.sentences) for c in self.chunks) + len(context_ids(self.chunks)[1])


def survey(seeds_dir: Path, known: Mapping[str, str]) -> list[Unchanged | Pending | Skipped]:
    """Every source under `seeds_dir` in order: `Unchanged` (its bytes hash to `known[source]`), `Pending` (to
    parse, see `read_pending`) or `Skipped`. Reads and hashes each file but keeps none of it."""
    out: list[Unchanged | Pending | Skipped] = []
    for path, target, problem in _sized_sources(seeds_dir):
        source = path.relative_to(seeds_dir).as_posix()
        if problem:
            out.append(Skipped(printable(source), problem))
            continue
        try:
            data = read_source(target)
        except OSError as err:
            out.append(Skipped(source, f"cannot be read ({err.strerror or err}); check its permissions"))
            continue
        sha = hashlib.sha256(data).hexdigest()
        out.append(Unchanged(source, sha) if known.get(source) == sha else Pending(source, path, target, len(data)))
    return out


def read_pending(entry: Pending, progress: Callable[[int, int], None] | None = None) -> Document | Skipped:
    """The file `entry` names, read again and parsed, or why it is skipped; `progress(done, total)` hears the pages
    read by OCR, if any."""
    source, path = entry.source, entry.path
    try:
        data = read_source(entry.target)
    except FileNotFoundError:
        return Skipped(source, "removed while the build was reading the folder")
    except OSError as err:
        return Skipped(source, f"cannot be read ({err.strerror or err}); check its permissions")
    # The fingerprint is of these very bytes, so the manifest can never
    # record an edit made after they were read.
    sha = hashlib.sha256(data).hexdigest()
    try:
        doc = parse_file(path, data, source, progress=progress)  # in a worker process with memory and time limits (rag.ingest.sandbox)
    except FormatError as err:
        return Skipped(source, err.reason.split(": ", 1)[-1] if err.reason.startswith(path.name) else err.reason, sha)
    except IngestError as err:
        return Skipped(source, str(err).split(": ", 1)[-1], sha)
    doc = dataclasses.replace(doc, sha256=sha)
    if not doc.body:
        return Skipped(source, "no body text found after removing boilerplate", sha)
    return doc


def ingest_changed(seeds_dir: Path, known: Mapping[str, str]) -> tuple[list[Document | Unchanged], list[Skipped]]:
    """Every document under `seeds_dir`, in order, parsed, except a file whose sha256 is `known[source]`,
    which is `Unchanged`; the files skipped. Holds every document: a build uses `Intake` instead."""
    docs: list[Document | Unchanged] = []
    skipped: list[Skipped] = []
    for entry in survey(seeds_dir, known):
        found = read_pending(entry) if isinstance(entry, Pending) else entry
        if isinstance(found, Skipped):
            skipped.append(found)
        else:
            docs.append(found)
    if not docs:
        raise no_documents(seeds_dir, skipped)
    return docs, skipped


def no_documents(seeds_dir: Path, skipped: list[Skipped], *, shown: int = 5) -> IngestError:
    """The error for a seeds folder with nothing readable: the first `shown` reasons and how many more."""
    reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:shown])
    more = f"; and {len(skipped) - shown:,} more" if len(skipped) > shown else ""
    return IngestError(f"No readable documents in {seeds_dir} ({reasons or 'no files'}{more}).")


class Intake:
    """The seeds folder's documents in order, each `Unchanged` or `Chunked` only when the build reaches it.

    Skipped files and what each reader left out are said (`say`, one line each) as the build reaches them,
    so an intake that is dropped unread (`prime`d, then made again) says nothing twice. A file with pages to
    read by OCR is said as it starts, and `step(OCR_STAGE, done, total)` hears each of its pages.
    """

    def __init__(self, seeds_dir: Path, known: Mapping[str, str], *, max_words: int,
                 say: Callable[[str], None], verbose: bool = False,
                 step: Callable[[str, int, int], None] | None = None) -> None:
        self.seeds_dir, self.max_words, self.say, self.verbose = seeds_dir, max_words, say, verbose
        self.step = step
        self._entries = deque(survey(seeds_dir, known))
        self._waiting: deque[Unchanged | Chunked | Skipped] = deque()
        self.skipped: list[Skipped] = []
        self.sources: dict[str, str] = {}  # every document and skipped file reached that was read: its sha256
        self.bytes_left = sum(e.size for e in self._entries if isinstance(e, Pending))
        self._bytes_read = 0
        self.texts_read = 0  # texts the model reads for the documents chunked so far
        self.found = 0  # documents parsed or re-used so far
        self.parsed = 0  # of which parsed and chunked

    def prime(self, passages: int) -> None:
        """Parse ahead until `passages` passages wait or every file is read; IngestError if no document is
        readable (so a bad folder fails before the model is loaded)."""
        waiting = 0
        while self._entries and waiting < passages:
            item = self._next()
            self._waiting.append(item)
            waiting += len(item.chunks) if isinstance(item, Chunked) else 0
        if not self._entries and not self.found:
            raise no_documents(self.seeds_dir, [s for s in self._waiting if isinstance(s, Skipped)])

    def texts_estimate(self) -> int:
        """Texts the model reads in all: those of the documents chunked so far, and as many per byte for the
        bytes still to parse (exact once every file is read)."""
        if not self.bytes_left or not self._bytes_read:
            return self.texts_read
        return self.texts_read + round(self.bytes_left * self.texts_read / self._bytes_read)

    def __iter__(self) -> Iterator[Unchanged | Chunked]:
        while self._waiting or self._entries:
            item = self._waiting.popleft() if self._waiting else self._next()
            if isinstance(item, Skipped):
                self.skipped.append(item)
                if item.sha256:
                    self.sources[item.source] = item.sha256
                self.say(f"skipped {item.source}: {item.reason}")
                continue
            if isinstance(item, Chunked):
                doc = item.doc
                self.sources[doc.source] = doc.sha256
                for line in [describe(doc)] if self.verbose else [f"{doc.source}: {note}" for note in doc.notes]:
                    self.say(line)
            else:
                self.sources[item.source] = item.sha256
            yield item
        if not self.found:
            raise no_documents(self.seeds_dir, self.skipped)

    def _next(self) -> Unchanged | Chunked | Skipped:
        """The next entry, parsed and chunked if pending."""
        entry = self._entries.popleft()
        if isinstance(entry, Pending):
            self.bytes_left -= entry.size
            self._bytes_read += entry.size
            entry = read_pending(entry, self._ocr_progress(entry.source))  # type: ignore[assignment]
        if isinstance(entry, Skipped):
            return entry
        self.found += 1
        if isinstance(entry, Unchanged):
            return entry
        doc: Document = entry  # type: ignore[assignment]
        words = words_of(doc.text[b.start : b.end] for b in doc.body)
        item = Chunked(doc, chunk_document(doc, max_words=self.max_words, vocabulary=words), words)
        self.parsed += 1
        self.texts_read += item.texts
        return item


    def _ocr_progress(self, source: str) -> Callable[[int, int], None]:
        def heard(done: int, total: int) -> None:
            if done == 0:
                self.say(f"{source}: reading {total:,} page{'s' * (total != 1)} by OCR")
            if self.step is not None:
                self.step(OCR_STAGE, done, total)

        return heard


def _sized_sources(seeds_dir: Path) -> list[tuple[Path, Path, str]]:
    """(path, file to read, why not) for every source; too big is a reason, too much in all an IngestError."""
    lim = limits()
    out, total, counted = [], 0, 0
    for path in find_sources(seeds_dir):
        target, problem = check_source(path, seeds_dir)
        if not problem:
            try:
                size = target.stat().st_size
            except OSError:
                size = 0  # vanished or unreadable: reading it says why
            problem = file_too_big(size, lim)
            if not problem:
                total, counted = total + size, counted + 1
        out.append((path, target, problem))
    if error := corpus_too_big(total, counted, lim, seeds_dir):
        raise IngestError(error)
    return out


def ingest(seeds_dir: Path) -> tuple[list[Document], list[Skipped]]:
    """Ingest every document under `seeds_dir`; unreadable files are skipped, not fatal."""
    entries, skipped = ingest_changed(seeds_dir, {})
    return [e for e in entries if isinstance(e, Document)], skipped
