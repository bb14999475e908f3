"""The chat's handlers: a question in, an answer out, as JSON for the API or as HTML for the page.

A conversation is kept as *turns*, small JSON records (the question, the
answer as `dataclasses.asdict`, which documents were searched, the index
version), so it can live in the browser's storage and be shown again after a
reload; the chat's HTML is rendered from them (`ui.render`). Every handler
turns bad input and library errors into a polite message, never a traceback.

Does not search or rank: `Index.answer` does. The earlier questions of the
conversation are passed as `history=` when the library's `answer` takes it.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import Any

import gradio as gr

from rag import Answer, Citation, Index, InputError, Passage, Quote, RagError
from rag.readers import BY_SUFFIX, PAGED
from rag.service.serving import Serving
from ui.page_route import document_path
from ui.page_urls import page_url
from ui.render import answer_markdown, render_answer, render_notice, render_question
from ui.workspace import version_of

log = logging.getLogger(__name__)

DEFAULT_K, MAX_K = 5, 10
FAILED = "Sorry, something went wrong while answering. Please try again, or rephrase the question."
NO_SOURCES = "Select at least one document to search (Documents)."
GONE = "This answer cannot be shown again; ask the question again to see it."
MAX_TURNS = 40  # turns kept in the browser's storage; older ones drop off the top


def _k(value: Any) -> Any:
    """The slider sends floats; pass whole numbers on as int, None as the default, anything else to the library."""
    if value is None:
        return DEFAULT_K
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _filter(index: Any, sources: Any) -> list[str] | None:
    """The documents to search, or None for all; InputError for what cannot be a document list."""
    if sources is None:
        return None
    if isinstance(sources, str) or not isinstance(sources, (list, tuple)):
        raise InputError(f"sources must be a list of document names, e.g. {list(index.sources)[:1]}.")
    if not sources:
        raise InputError(NO_SOURCES)
    return None if set(sources) == set(index.sources) else list(sources)


def takes_history(index: Any) -> bool:
    try:
        return "history" in inspect.signature(index.answer).parameters
    except (TypeError, ValueError):
        return False


def answer_of(index: Any, question: Any, k: Any, sources: Any, history: Sequence[str] = ()) -> Answer:
    """`index.answer(...)`, with the earlier questions as `history=` when the library takes them."""
    options: dict[str, Any] = {"sources": _filter(index, sources)}
    if history and takes_history(index):
        options["history"] = [str(h) for h in history]
    return index.answer(question, _k(k), **options)


def ask(index: Any, question: Any, k: Any = DEFAULT_K, sources: Any = None) -> dict[str, Any]:
    """The `/ask` endpoint: `dataclasses.asdict(index.answer(...))`; bad input raises gr.Error with a polite message."""
    index = index.current() if isinstance(index, Serving) else index
    try:
        result = answer_of(index, question, k, sources)
    except RagError as err:
        raise gr.Error(str(err), print_exception=False) from None
    except Exception:
        log.exception("answering %r failed", question)
        raise gr.Error(FAILED, print_exception=False) from None
    return dataclasses.asdict(result)


def page_images(index: Any) -> Callable[[Citation], str | None]:
    """For `render_answer`: the page route's address of a PDF's or picture's cited page with the quote highlighted
    (`ui.page_urls`), for a document the index lists and still holds; else None. Draws nothing: the
    browser fetches the picture when its source is opened."""
    version = version_of(index)

    def image(citation: Citation) -> str | None:
        if BY_SUFFIX.get(PurePath(citation.source).suffix.lower()) not in PAGED or citation.page is None:
            return None
        try:
            if document_path(index, citation.source) is None:
                return None
            return page_url(citation.source, page=citation.page, start=citation.start, end=citation.end,
                            version=version)
        except Exception:  # without the picture the source still shows its paragraph
            log.debug("no page image for %s", citation.label(), exc_info=True)
            return None

    return image


def show_answer(index: Any, answer: Answer, scope: str = "") -> str:
    """The chat HTML of `answer`, with its sources in context and a button copying it as Markdown."""
    cited = dict.fromkeys(q.citation.source for q in answer.quotes)  # only their passages hold the paragraphs
    passages = [p for source in cited for p in index.passages_of(source)]
    return render_answer(answer, index.source_text, passages, page_image=page_images(index), scope=scope,
                         copy=answer_markdown(answer, scope))


def reply(index: Index, question: str, k: Any = DEFAULT_K, sources: list[str] | None = None) -> tuple[str, str]:
    """One chat answer: (HTML for the chat, Markdown for copying; "" when there is no answer). Never raises."""
    advise = index.advise if isinstance(index, Serving) else (lambda answer: answer)
    index = index.current() if isinstance(index, Serving) else index  # one index for the answer and its sources
    turn = answer_turn(index, question, k, sources, advise=advise)
    return show_turn(index, turn), turn_markdown(turn)


# --- turns -----------------------------------------------------------------------------------


def answer_turn(index: Any, question: Any, k: Any = DEFAULT_K, sources: Any = None, *,
                history: Sequence[str] = (), scope: str = "", version: str = "",
                advise: Callable[[Answer], Answer] = lambda answer: answer) -> dict[str, Any]:
    """One turn of the conversation: the question and its answer (or the notice shown instead)."""
    turn: dict[str, Any] = {"question": question if isinstance(question, str) else str(question), "answer": None,
                            "notice": "", "scope": scope, "version": version,
                            "sources": list(sources) if isinstance(sources, (list, tuple)) else None}
    try:
        turn["answer"] = dataclasses.asdict(advise(answer_of(index, question, k, sources, history)))
    except RagError as err:
        turn["notice"] = str(err)
    except Exception:
        log.exception("answering %r failed", question)
        turn["notice"] = FAILED
    return turn


def _citation(data: Any) -> Citation:
    return Citation(str(data["source"]), data.get("section"), int(data["paragraph"]), int(data["start"]),
                    int(data["end"]), data.get("page"))


def answer_from_dict(data: dict[str, Any]) -> Answer:
    """An `Answer` back from its `asdict` form (as stored in a turn); KeyError/TypeError/ValueError when malformed."""
    known = {f.name for f in dataclasses.fields(Answer)}
    values = {k: v for k, v in data.items() if k in known}
    values["quotes"] = [Quote(str(q["text"]), float(q["score"]), _citation(q["citation"])) for q in data["quotes"]]
    values["passages"] = [Passage(str(p["id"]), str(p["text"]), _citation(p["citation"]), p.get("score"))
                          for p in data["passages"]]
    return Answer(**values)


def show_turn(index: Any, turn: dict[str, Any]) -> str:
    """The assistant message of a turn."""
    if turn.get("answer") is None:
        return render_notice(str(turn.get("notice") or FAILED))
    return show_answer(index, answer_from_dict(turn["answer"]), str(turn.get("scope") or ""))


def turn_markdown(turn: dict[str, Any]) -> str:
    if turn.get("answer") is None:
        return ""
    return answer_markdown(answer_from_dict(turn["answer"]), str(turn.get("scope") or ""))


def messages(index: Any, turns: Any) -> list[dict[str, Any]]:
    """The chat's messages for stored turns, two per turn (feedback finds its turn by that count)."""
    out: list[dict[str, Any]] = []
    for turn in valid_turns(turns):
        try:
            shown = show_turn(index, turn)
        except (KeyError, TypeError, ValueError, AttributeError):
            shown = render_notice(GONE)
        out += [{"role": "user", "content": render_question(turn["question"])},
                {"role": "assistant", "content": shown}]
    return out


def valid_turns(turns: Any) -> list[dict[str, Any]]:
    """The turns of a stored conversation that are well formed (browser storage is not to be trusted)."""
    if not isinstance(turns, list):
        return []
    ok = []
    for turn in turns[-MAX_TURNS:]:
        if not isinstance(turn, dict) or not isinstance(turn.get("question"), str):
            continue
        if turn.get("answer") is not None:
            try:
                answer_from_dict(turn["answer"])
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        ok.append(turn)
    return ok


def earlier_questions(turns: Sequence[dict[str, Any]]) -> list[str]:
    return [t["question"] for t in turns if t.get("answer") is not None]


def chat_turn(index: Index, question: str, history: list[dict[str, Any]] | None, k: Any = DEFAULT_K,
              sources: list[str] | None = None) -> tuple[list[dict[str, Any]], str]:
    """The chat messages with `question` and its answer appended, and the answer as Markdown."""
    html, markdown = reply(index, question, k, sources)
    history = [*(history or []), {"role": "user", "content": render_question(question)},
               {"role": "assistant", "content": html}]
    return history, markdown


__all__ = ["DEFAULT_K", "FAILED", "MAX_K", "NO_SOURCES", "answer_from_dict", "answer_of", "answer_turn", "ask",
           "chat_turn", "earlier_questions", "messages", "page_images", "reply", "show_turn", "valid_turns"]
