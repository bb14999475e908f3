"""The OpenAI chat-completions protocol over the documents: `POST /v1/chat/completions`, `GET /v1/models`.

    client = openai.OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="local")
    client.chat.completions.create(model="rag", messages=[{"role": "user", "content": "..."}])

The last user message is the question and the earlier user messages are the
conversation's history (for follow-ups); system and assistant messages are
not read. The reply's content is the answer as Markdown: the verbatim quotes
with numbered [n] citations and their exact character offsets; when the
documents do not answer, that is the reply, as an ordinary message. The
structured answer (`dataclasses.asdict(rag.Answer)`) travels beside it in
the extra field `rag` of the completion (of the last chunk when streaming).
`stream: true` sends Server-Sent Events of `chat.completion.chunk` objects
ending with `data: [DONE]`; the answer is worked out whole first (its quotes
are chosen together), then sent in pieces. Any `model` name is accepted, and
any API key: a server with logins checks the caller in `ui.access`.

Does not generate text: every word of a reply is a quote or a citation.
Sampling options (temperature, max_tokens, n, tools) are accepted and ignored.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag.answers.pipeline import ABSTAIN_MESSAGE
from rag.types import Answer
from ui.access import Access
from ui.api.errors import ApiError
from ui.api.schemas import ERRORS, ChatMessage, ChatRequest
from ui.chat import DEFAULT_K, answer_of
from ui.render import answer_markdown

MODEL = "rag"
CREATED = int(time.time())
NO_QUESTION = ("Send the question as the last message with role \"user\", e.g. "
               "{\"messages\": [{\"role\": \"user\", \"content\": \"...\"}]}.")
PIECE_CHARS = 200  # about how much text one streamed chunk carries


def text_of(message: ChatMessage) -> str:
    """A message's text: its content string, or the text parts of a list of content parts."""
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def question_and_history(messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """The last message, which must be the user's, and the user's earlier messages (oldest first)."""
    if not messages:
        raise ApiError(400, "no_question", NO_QUESTION)
    last = messages[-1]
    question = text_of(last)
    if last.role != "user" or not question.strip():
        raise ApiError(400, "no_question", NO_QUESTION)
    return question, [t for t in (text_of(m) for m in messages[:-1] if m.role == "user") if t.strip()]


def reply_markdown(answer: Answer) -> str:
    """The answer as a chat reply: what `ui.render.answer_markdown` copies, without repeating the question."""
    lines = answer_markdown(answer).split("\n")
    if lines and lines[0].startswith("**Question:**"):
        lines = lines[1:]
    text = "\n".join(lines).strip()
    return text or answer.message or ABSTAIN_MESSAGE


def completion(answer: Answer, model: str, ident: str) -> dict[str, Any]:
    return {"id": ident, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply_markdown(answer),
                                                 "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "rag": dataclasses.asdict(answer)}


def pieces(text: str, size: int = PIECE_CHARS) -> Iterator[str]:
    """`text` in consecutive pieces of about `size` characters, cut after a space or line break where one is near."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = cut + 1 if cut > start else end
        yield text[start:end]
        start = end


def chunks(answer: Answer, model: str, ident: str) -> Iterator[str]:
    """The Server-Sent Events of a streamed reply: role, content in pieces, the finish with `rag`, then [DONE]."""
    created = int(time.time())

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in pieces(reply_markdown(answer)):
        yield event({"content": piece})
    yield event({}, "stop", rag=dataclasses.asdict(answer))
    yield "data: [DONE]\n\n"


def router(access: Access) -> APIRouter:
    """The OpenAI-compatible routes, each asking `access` for the caller's workspace."""
    api = APIRouter(prefix="/v1", responses=ERRORS, tags=["OpenAI-compatible"])

    @api.get("/models", summary="The one model")
    def models(request: Request) -> JSONResponse:
        """One model, `rag`: the documents themselves (any name is accepted by chat completions)."""
        access.workspace(request)  # who may not ask may not list either
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "created": CREATED,
                                                         "owned_by": "rag"}]})

    @api.get("/models/{model}", summary="One model")
    def model(model: str, request: Request) -> JSONResponse:
        access.workspace(request)
        if model != MODEL:
            raise ApiError(404, "model_not_found", f"No model {model[:80]!r}; the one model is {MODEL!r}.")
        return JSONResponse({"id": MODEL, "object": "model", "created": CREATED, "owned_by": "rag"})

    @api.post("/chat/completions", response_model=None, summary="Answer the last user message")
    def chat(body: ChatRequest, request: Request) -> Any:
        """The answer to the last user message (earlier user messages are its history) as a chat completion,
        or as `chat.completion.chunk` Server-Sent Events when `stream` is true. Structured quotes and citations
        are in the extra field `rag`."""
        ws = access.workspace(request)
        question, history = question_and_history(body.messages)
        index = ws.index()
        result = ws.advise(answer_of(index, question, DEFAULT_K, None, history))
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        if body.stream:
            return StreamingResponse(chunks(result, body.model, ident), media_type="text/event-stream",
                                     headers={"cache-control": "no-store", "x-accel-buffering": "no"})
        return JSONResponse(completion(result, body.model, ident), headers={"cache-control": "no-store"})

    return api


__all__ = ["MODEL", "chunks", "completion", "pieces", "question_and_history", "reply_markdown", "router"]
