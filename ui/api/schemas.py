"""The JSON the API takes and returns, as pydantic models (they make the OpenAPI schema too).

The answer and its parts mirror `rag.types` field for field: the API's
answer is `dataclasses.asdict(rag.Answer)`, the same JSON as the CLI's
`--json` and the page's `/ask`. Requests forbid unknown fields, so a
misspelt option is an error rather than silently ignored; the OpenAI
request keeps the protocol's other fields (temperature, max_tokens, ...)
and ignores them. Does not answer anything (`ui.api.routes`, `ui.api.openai`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

MAX_K = 50  # passages: more than a person reads, less than makes an answer slow


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerRequest(Strict):
    question: StrictStr = Field(description="The question, as a person would ask it.",
                                examples=["Which flowers do honey bees visit in early summer?"])
    k: StrictInt = Field(5, ge=1, le=MAX_K, description="How many passages to search for quotes.")
    sources: list[StrictStr] | None = Field(None, description="Search only these documents (names as "
                                            "GET /api/v1/documents lists them); default: all.")
    history: list[StrictStr] = Field(default_factory=list, description="The earlier questions of the "
                                     "conversation, oldest first; a follow-up such as 'and the second one?' "
                                     "is searched with what it refers to.")


class SearchRequest(Strict):
    question: StrictStr = Field(description="What to search for.", examples=["shore power"])
    k: StrictInt = Field(5, ge=1, le=MAX_K, description="How many passages to return.")
    sources: list[StrictStr] | None = Field(None, description="Search only these documents; default: all.")


class CitationOut(BaseModel):
    source: str
    section: str | None
    paragraph: int
    start: int = Field(description="Offset of the first character in the document's text.")
    end: int = Field(description="Offset after the last character: text[start:end] is the quote.")
    page: int | None = Field(None, description="1-based page, for paged formats (PDF).")


class PassageOut(BaseModel):
    id: str
    text: str
    citation: CitationOut
    score: float | None = None


class QuoteOut(BaseModel):
    text: str = Field(description="Verbatim: the document's text from citation.start to citation.end.")
    score: float
    citation: CitationOut


class AnswerOut(BaseModel):
    question: str
    quotes: list[QuoteOut]
    passages: list[PassageOut]
    abstained: bool = Field(description="True when the documents do not answer the question.")
    message: str = ""
    truncated: bool = False
    text: str = Field("", description="The answer as Markdown: the quotes with numbered [n] citations.")
    searched: str = Field("", description="What was searched, when it differs from the question (a follow-up).")


class SearchOut(BaseModel):
    question: str
    passages: list[PassageOut]


class StatusOut(BaseModel):
    state: str = Field(description="'ready', 'indexing' or 'failed'.")
    done: int
    total: int
    stage: str
    message: str
    version: str
    pending: list[str] = Field(description="Documents waiting to be indexed.")


class DocumentOut(BaseModel):
    source: str = Field(description="Its name as citations give it; the {source} of DELETE.")
    title: str
    kind: str
    pages: int | None
    words: int
    passages: int
    sections: list[dict[str, Any]]
    removable: bool = Field(description="Added through the page or the API, so it may be removed.")


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]
    status: StatusOut
    skipped: list[dict[str, str]] = Field(description="Files the last build skipped, with the reason.")
    can_change: bool = Field(description="Whether this caller may add and remove documents.")


class ChangedOut(BaseModel):
    source: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: StrictStr
    content: StrictStr | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: StrictStr = Field("rag", description="Any name; the one model is the documents.")
    messages: list[ChatMessage] = Field(description="The conversation; the last must be the user's question.")
    stream: bool = False


ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorOut, "description": text} for status, text in (
    (400, "Not JSON, or the wrong types"), (401, "Who are you? (servers with logins)"),
    (403, "Not allowed for this caller"), (422, "A value out of range, or a question the library refuses"))}

__all__ = ["ERRORS", "MAX_K", "AnswerOut", "AnswerRequest", "ChangedOut", "ChatRequest", "DocumentOut",
           "DocumentsOut", "ErrorOut", "SearchOut", "SearchRequest", "StatusOut"]
