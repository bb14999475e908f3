"""The feedback buttons under each answer: what each click records, through `rag.service.feedback.record`.

    chatbot.like(feedback_handler(access), [turns, last], last)   # a ui.access.Access (or one Workspace)

Gradio reports a thumb as `liked=True/False` and the flag's option by its
text; they become the log's verdicts "helpful", "wrong" and "should_abstain".
The buttons' own labels (what a tooltip and a screen reader say) are set by
`ui.page.FEEDBACK_LABELS`. Each click goes to the feedback log of the caller's
own workspace (`access.workspace(request)`), so on a server with logins each
user's verdicts stay in that user's collection. Does not write the log
itself: `rag.service.feedback` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from rag.service.feedback import record
from ui.access import Denied, OneWorkspace
from ui.chat import earlier_questions, valid_turns
from ui.workspace import Workspace

ABSTAIN = "Should have abstained"
OPTIONS = ("Like", "Dislike", ABSTAIN)  # Gradio draws "Like" and "Dislike" as thumbs, the rest under its flag
VERDICTS = {True: "helpful", False: "wrong", "Like": "helpful", "Dislike": "wrong", ABSTAIN: "should_abstain"}
SAID = {"helpful": "helpful", "wrong": "wrong", "should_abstain": "should have abstained"}


def feedback_handler(access: Any) -> Callable[..., Any]:
    """The `.like` handler for a `ui.access.Access` (or one `ui.workspace.Workspace`): appends one line per
    verdict to the feedback log of the caller's workspace."""
    access = OneWorkspace(access) if isinstance(access, Workspace) else access

    def feedback(evt: gr.LikeData, turns: Any, last: Any, request: gr.Request | None = None) -> Any:
        try:
            ws = access.workspace(request)
        except Denied:
            gr.Warning("Feedback not saved: you are signed out; reload the page to sign in again.")
            return gr.skip()
        verdict = VERDICTS.get(evt.liked) if isinstance(evt.liked, bool | str) else None
        position = evt.index if isinstance(evt.index, int) else None
        stored = valid_turns(turns)
        if verdict is None or position is None or not 0 <= position // 2 < len(stored) or ws.feedback_log is None:
            return gr.skip()
        if last == [position, verdict]:
            return gr.skip()  # the same button again (the flag's menu sends its choice twice): recorded already
        turn = stored[position // 2]
        if turn.get("answer") is None:
            gr.Info("That message is a notice, not an answer: no feedback recorded.")
            return gr.skip()
        try:
            record(ws.feedback_log, verdict=verdict, question=turn["question"],
                   history=earlier_questions(stored[: position // 2]), answer=turn["answer"],
                   index_version=str(turn.get("version", "")), sources=turn.get("sources"))
        except Exception as err:  # noqa: BLE001 - a full disk must not break the chat
            gr.Warning(f"Feedback not saved: {err}")
            return gr.skip()
        gr.Info(f"Thank you: recorded as “{SAID[verdict]}”.")
        return [position, verdict]

    return feedback


__all__ = ["OPTIONS", "SAID", "VERDICTS", "feedback_handler"]
