"""Value types shared by the library, the CLI's --json and the web app.

All are frozen dataclasses; `dataclasses.asdict` gives the one JSON schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Citation:
    """Where a piece of text came from: exact character offsets into a document's text.

    `start`/`end` are Python string offsets into `Index.text_of(source)`: for
    a text file its bytes decoded as UTF-8 with no newline translation, for a
    PDF, HTML or Word file the text extracted from it (see `rag.readers`).
    """

    source: str  # path relative to the seeds folder, with "/" separators
    section: str | None  # section title, or None before the first heading
    paragraph: int  # 1-based number of the body paragraph in its document
    start: int
    end: int
    page: int | None = None  # 1-based page on which the text starts, for paged formats (PDF)

    def label(self) -> str:
        """A short human label: `file · p. n · section · ¶n`."""
        parts = [self.source]
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.section:
            parts.append(self.section)
        parts.append(f"¶{self.paragraph}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Passage:
    """A sentence-aligned excerpt of a body paragraph; the unit of retrieval."""

    id: str
    text: str
    citation: Citation
    score: float | None = None


@dataclass(frozen=True)
class Quote:
    """Contiguous sentences of one body paragraph, quoted verbatim.

    A chosen sentence, plus the sentence it points back to or the one that
    continues it, so that the quote reads on its own.
    """

    text: str
    score: float
    citation: Citation


@dataclass(frozen=True)
class Answer:
    """What `answer()` returns: verbatim quotes with citations, or an abstention."""

    question: str  # as asked; when `truncated`, the shortened text that was answered
    quotes: list[Quote]
    passages: list[Passage]
    abstained: bool
    message: str = ""  # a plain sentence shown above or instead of the quotes
    truncated: bool = False  # the question was cut to fit the model
    text: str = field(default="")  # the rendered answer with numbered markers
    searched: str = ""  # the text searched when it differs from the question (a resolved follow-up), else ""
