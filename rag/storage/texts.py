"""The documents' texts as indexed, and whether the files on disk still hold them.

Citation offsets index a document's text: for a text file, its bytes decoded
as UTF-8 with no newline translation, read from the seeds folder; for a PDF,
HTML or Word file, the text its reader extracted, stored in the index (the
file's bytes are not that text). A quote is verified before it is shown: a
text file must still hold it at its offsets; any other file must still have
the bytes it was indexed from (its sha256). Files are read afresh for every
check, never judged by size and modification time, which an edit can keep.

Does not read formats itself: `rag.readers` did at build time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rag.errors import StaleIndexError
from rag.ingest.parse import page_at
from rag.readers.seedfiles import read_seed


class SourceTexts:
    """Every indexed document's text, its pages, and a check against the files as they are now."""

    def __init__(self, seeds_dir: str, index_dir: Path, sources: list[str], extracted: dict[str, dict[str, Any]],
                 fingerprints: dict[str, str]):
        self.seeds = Path(seeds_dir)
        self.extracted = extracted
        self.fingerprints = fingerprints
        self.texts = self._read(index_dir, sources)

    def _read(self, index_dir: Path, sources: list[str]) -> dict[str, str]:
        """Each source's text: quotes are cut from these. Whether a text file still holds what was indexed is
        its sha256 against the manifest's (`rag.service.loading`), and each quote's own check (`current`)."""
        texts: dict[str, str] = {}
        for source in sources:
            if source in self.extracted:
                texts[source] = self.extracted[source]["text"]
                continue
            try:
                # Decoded exactly as ingestion did: no newline translation, so "\r\n" counts as two.
                texts[source] = read_seed(self.seeds, source).decode("utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise StaleIndexError(
                    f"Cannot read {source} from {self.seeds} ({err.__class__.__name__}); the index at "
                    f"{index_dir} needs its documents: run `rag build --seeds DIR --index {index_dir}`."
                ) from None
        return texts

    def page_at(self, source: str, offset: int) -> int | None:
        """The 1-based page of `source` holding character `offset`; None for formats without pages."""
        record = self.extracted.get(source)
        return page_at(record["pages"], offset) if record else None

    def current(self, source: str) -> str | None:
        """The source's text if its file still holds it now, else None (edited, removed, unreadable).

        Read afresh at every call, never judged by size and modification time
        (an edit can keep both): the few files an answer cites cost little.
        """
        try:
            data = read_seed(self.seeds, source)  # never through a link out of the seeds folder
        except OSError:
            return None
        if source in self.extracted:
            same = hashlib.sha256(data).hexdigest() == self.fingerprints.get(source)
            return self.extracted[source]["text"] if same else None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None
