"""The web chat as a document workspace: a thin Gradio shell over `rag.Index.answer`.

    from ui.server import launch
    launch(index_or_live_index, host="127.0.0.1", port=7860)   # blocks; what `rag serve` calls

The page: the documents on the left (add by drop or picker, the transfer
shown in percent; a live list with search, select all / none, title, kind
and size of each, what is being indexed; remove with confirmation), the
chat on the right (quotes as block quotes with [n] markers, each source
opening on its paragraph, and for a PDF its page, with the quote marked; a
copy button and feedback buttons on each answer, each named by what it
records; example questions from the documents' own headings). On a phone
the chat comes first and the documents below it.

- API: `gradio_client.Client(url).predict(question, k, sources, api_name="/ask")`
  returns `dataclasses.asdict(answer)`.
- Live: with a `rag.service.live.LiveIndex`, answers keep coming from the index
  already loaded while a rebuild runs; a timer polls its status, showing the
  progress, and refreshes the list, title and examples when a new index is in.
- Storage: the conversation and the settings (k, unticked documents) are kept
  in the browser (`gr.BrowserState`), encrypted with a key kept in the index
  folder (`ui.browserkey`), so a reload, even after a restart, shows them again.
- Who: every handler, `/ask` included, serves `access.workspace(request)`
  (`ui.access`): the one workspace without logins, the caller's own
  collection with them (`ui.accounts`; the page is then built empty and its
  load fills in the caller's documents).
- Safety: see `ui.server` (binding, uploads, routes) and `ui.render` (escaping).
- Concurrency: answers run in one concurrency group of `CONCURRENCY` workers;
  each holds one index for the whole answer, so a swap never mixes two.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

import ui.documents as docs_view
from ui.access import Access, Denied, OneWorkspace
from ui.browserkey import browser_key
from ui.chat import (
    DEFAULT_K,
    FAILED,
    MAX_K,
    MAX_TURNS,
    NO_SOURCES,
    answer_turn,
    ask,
    chat_turn,
    earlier_questions,
    messages,
    page_images,
    reply,
    show_turn,
    valid_turns,
)
from ui.light import SLIM_JS, append_js, keyed
from ui.page import DROP_JS, DROP_ZONE, FOCUS_JS, SCROLL_JS
from ui.render import render_question, text_html
from ui.verdicts import OPTIONS, feedback_handler
from ui.workspace import Workspace, version_of

CONCURRENCY = 8  # answers run at once (each takes milliseconds on CPU); others queue
QUEUE_SIZE = 256  # waiting requests beyond this are refused with "queue full"
POLL_SECONDS = 2.0
SETTINGS = {"k": DEFAULT_K, "excluded": []}


def _settings(value: Any) -> dict[str, Any]:
    """Stored settings, with anything malformed replaced by the default (browser storage is not to be trusted)."""
    value = value if isinstance(value, dict) else {}
    k = value.get("k", DEFAULT_K)
    excluded = value.get("excluded", [])
    return {"k": k if isinstance(k, int | float) and 1 <= k <= MAX_K else DEFAULT_K,
            "excluded": [s for s in excluded if isinstance(s, str)] if isinstance(excluded, list) else []}


def _heading(infos: Any) -> str:
    return (f"## {text_html(docs_view.title(infos))}\nAnswers are **verbatim quotes** from the documents, each numbered and "
            "cited to its exact place. Open a source to read the quote in its paragraph.")


SIGN_OUT = ('<form method="post" action="logout" style="margin:0"><button type="submit" id="rag-sign-out" '
            'style="background:none;border:0;padding:0;color:inherit;text-decoration:underline;cursor:pointer">'
            'Sign out</button></form>')  # a POST (with the page's Origin): a link elsewhere cannot sign anyone out
SIGNED_OUT = "You are signed out (or your sign-in expired); reload the page to sign in again."


def workspace_of(access: Access, request: Any) -> Workspace:
    """The caller's workspace; a polite gr.Error when the caller has none (signed out, expired)."""
    try:
        return access.workspace(request)
    except Denied as err:
        raise gr.Error(SIGNED_OUT if err.status == 401 else err.message, print_exception=False) from None


def build_app(target: Any, *, access: Access | None = None, browser_secret: str | None = None) -> gr.Blocks:
    """The page and the `/ask` endpoint for `target`: a `ui.workspace.Workspace`, an Index or a LiveIndex.

    With `access` (a server with logins, `ui.accounts`), every handler serves the
    caller's own workspace and `target` is None: the page is built without any
    user's documents, which its load fills in; `browser_secret` is the placeholder
    the middleware replaces with each user's browser-storage key.
    """
    logins = access is not None
    if access is None:
        shared = target if isinstance(target, Workspace) else Workspace(target)
        access = OneWorkspace(shared)
        infos = shared.documents()
        upload = shared.upload
        key = browser_key(shared.index_dir())  # kept with the index: a restarted server reads what the page stored
        first_status = docs_view.status_html(shared.status(), shared.skipped())
    else:
        infos, upload, key, first_status = (), True, browser_secret or "", ""
    seen_by = access

    def api_ask(question: str, k: int = DEFAULT_K, sources: list[str] | None = None,
                request: gr.Request | None = None) -> dict[str, Any]:
        """Answer `question` from the documents: verbatim quotes, each cited to exact character offsets.

        Returns dataclasses.asdict(rag.Answer): question, quotes (text, score, citation with
        source/section/paragraph/start/end/page), passages, abstained, message, truncated, text.
        `sources` limits the search to those documents (default: all).
        """
        return ask(workspace_of(seen_by, request).index(), question, k, sources)

    def doc_list(ws: Workspace, index: Any, query: str | None, settings: Any) -> dict[str, Any]:
        found = ws.documents(index)
        excluded = _settings(settings)["excluded"]
        return gr.update(choices=docs_view.choices(found, query), value=docs_view.ticked(found, query, excluded))

    def page_words(ws: Workspace, index: Any) -> tuple[Any, Any, Any]:
        found = ws.documents(index)
        return (gr.update(value=_heading(found)),
                gr.update(examples=[{"text": q} for q in docs_view.example_questions(found)],
                          placeholder=docs_view.placeholder(found)),
                gr.update(placeholder=docs_view.placeholder(found)))

    def removable_docs(ws: Workspace, index: Any) -> Any:
        return gr.update(choices=[(docs_view.label(i), i.source) for i in ws.documents(index)
                                  if i.source.startswith("uploads/")], value=None)

    def chat(question: Any, turns: Any, shown: Any, settings: Any, request: gr.Request | None = None) -> Any:
        if not isinstance(question, str) or not question.strip():
            gr.Warning("Type a question about the documents, or pick an example.")
            return gr.skip(), gr.skip(), gr.skip(), None
        ws = workspace_of(seen_by, request)
        index = ws.index()  # one index for the answer and its sources, even if a rebuild swaps meanwhile
        saved = _settings(settings)
        found = ws.documents(index)
        sources = docs_view.search_scope(index.sources, saved["excluded"])
        old = valid_turns(turns)
        turn = answer_turn(index, question, saved["k"], sources,
                           history=earlier_questions(old), scope=docs_view.scope_note(found, sources),
                           version=ws.status().version or version_of(index), advise=ws.advise)
        shown = [*(shown if isinstance(shown, list) else messages(index, old)),
                 {"role": "user", "content": render_question(question)},
                 {"role": "assistant", "content": show_turn(index, turn)}]
        return "", keyed(shown), shown, turn  # only the new messages in full; the page appends the turn (ui.light)

    def example(evt: gr.SelectData, turns: Any, shown: Any, settings: Any, request: gr.Request | None = None) -> Any:
        value = evt.value
        text = value.get("text", "") if isinstance(value, dict) else str(value)
        return chat(text, turns, shown, settings, request)

    def restore(turns: Any, settings: Any, request: gr.Request | None = None) -> Any:
        ws = workspace_of(seen_by, request)
        index = ws.index()
        saved = _settings(settings)
        shown = messages(index, turns)
        heading, chatbot, box = page_words(ws, index)
        chatbot = {**chatbot, "value": keyed(shown, full=None)}
        box = {**box, "interactive": True}  # asking opens only now: a question asked sooner was wiped by this load
        return (chatbot, shown, saved["k"], doc_list(ws, index, "", saved), heading, box,
                docs_view.status_html(ws.status(), ws.skipped(index)), removable_docs(ws, index), _seen(ws, index))

    def _seen(ws: Workspace, index: Any) -> list[Any]:
        s = ws.status()
        return [s.version or version_of(index), s.state, s.stage, s.done, s.total, s.message, list(s.pending)]

    def tick(seen: Any, query: str, settings: Any, request: gr.Request | None = None) -> Any:
        ws = workspace_of(seen_by, request)
        index = ws.index()
        now = _seen(ws, index)
        if now == seen:
            return (gr.skip(),) * 7
        status = gr.update(value=docs_view.status_html(ws.status(), ws.skipped(index)))
        if isinstance(seen, list) and seen and seen[0] == now[0]:
            return (status,) + (gr.skip(),) * 5 + (now,)  # progress only: the same index serves
        heading, chatbot, box = page_words(ws, index)
        return status, doc_list(ws, index, query, settings), heading, chatbot, box, removable_docs(ws, index), now

    def pick(ticked_now: list[str], query: str, settings: Any, request: gr.Request | None = None) -> dict[str, Any]:
        saved = _settings(settings)
        found = workspace_of(seen_by, request).documents()
        return {**saved, "excluded": docs_view.excluded_after(found, query, saved["excluded"], ticked_now)}

    def select(every: bool) -> Any:
        def handler(query: str, settings: Any, request: gr.Request | None = None) -> Any:
            ws = workspace_of(seen_by, request)
            index = ws.index()
            found = ws.documents(index)
            saved = _settings(settings)
            visible = [i.source for i in docs_view.shown(found, query)]
            saved["excluded"] = docs_view.excluded_after(found, query, saved["excluded"], visible if every else [])
            return doc_list(ws, index, query, saved), saved
        return handler

    def search_docs(query: str, settings: Any, request: gr.Request | None = None) -> Any:
        ws = workspace_of(seen_by, request)
        return doc_list(ws, ws.index(), query, settings)

    def confirm(source: Any) -> Any:
        if not isinstance(source, str) or not source:
            gr.Warning("Pick a document added from this page first.")
            return gr.update(visible=False), gr.skip()
        return gr.update(visible=True), f"Remove **{source}** from the documents? It is moved to uploads/.removed/."

    def remove(source: Any, request: gr.Request | None = None) -> Any:
        from ui.uploads import UploadError

        try:
            ws = workspace_of(seen_by, request)
            if not ws.upload or ws.seeds_dir() is None:
                raise UploadError("Removing documents from the page is off on this server.")
            origin = request.headers.get("origin") if request is not None else None
            if origin is not None and ws.origins is not None and not ws.origins.allows(origin):
                raise UploadError("Documents can be removed only from this server's own page.")
            ws.seeds_folder().remove(source)
            ws.look_soon()
            gr.Info(f"Removed {source}; the index is being updated.")
        except UploadError as err:
            gr.Warning(str(err))
        return gr.update(visible=False)

    with gr.Blocks(title=docs_view.title(infos), analytics_enabled=False) as demo:
        turns = gr.BrowserState([], storage_key="rag-turns", secret=key)
        settings = gr.BrowserState(dict(SETTINGS), storage_key="rag-settings", secret=key)
        shown = gr.State(None)
        seen = gr.State(None)
        heading = gr.Markdown(_heading(infos), elem_id="rag-title")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300, elem_id="rag-side"):
                gr.HTML(SIGN_OUT, visible=logins, elem_id="rag-account")
                gr.HTML(DROP_ZONE, js_on_load=DROP_JS, visible=upload, elem_id="rag-upload")
                status = gr.HTML(first_status, elem_id="rag-status")
                search = gr.Textbox(placeholder="Search the documents", show_label=False, elem_id="rag-doc-search",
                                    max_lines=1)
                with gr.Row():
                    every = gr.Button("Select all", size="sm", min_width=90, elem_id="rag-select-all")
                    none = gr.Button("Select none", size="sm", min_width=90, elem_id="rag-select-none")
                doc_box = gr.CheckboxGroup(docs_view.choices(infos, ""), value=[i.source for i in infos],
                                           label="Documents to search", elem_id="rag-docs")
                k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Passages to search", elem_id="rag-k",
                              info="How many of the best-matching passages each answer may quote from.")
                with gr.Accordion("Remove a document", open=False, visible=upload):
                    doomed = gr.Dropdown([], label="Added from this page", elem_id="rag-remove-pick")
                    ask_remove = gr.Button("Remove…", size="sm", variant="secondary", elem_id="rag-remove")
                    with gr.Row(visible=False) as confirm_row:
                        confirm_text = gr.Markdown()
                        yes = gr.Button("Yes, remove it", variant="stop", size="sm", elem_id="rag-remove-yes")
                        no = gr.Button("Cancel", size="sm")
            with gr.Column(scale=3, elem_id="rag-main"):
                chatbot = gr.Chatbot(
                    label="Chat", show_label=False, height="72vh", min_height=420, autoscroll=True,
                    examples=None,  # set by the page's load with the question box (see restore)
                    placeholder=docs_view.placeholder(infos),
                    latex_delimiters=[],  # a "$$" in a document must not become a formula
                    sanitize_html=True,  # defence in depth: ui.render already escapes everything
                    render_markdown=True, allow_tags=False,
                    feedback_options=OPTIONS,  # relabelled by what they record (ui.page)
                    buttons=[],  # its copy button would copy HTML; each answer has its own
                    elem_id="rag-chat",
                )
                question = gr.Textbox(placeholder=docs_view.placeholder(infos), show_label=False, max_lines=4,
                                      submit_btn=True, elem_id="rag-question", interactive=False)

        new_turn = gr.JSON(None, visible=False)
        outputs = [question, chatbot, shown, new_turn]
        question.submit(chat, [question, turns, shown, settings], outputs, concurrency_id="index",
                        concurrency_limit=CONCURRENCY, api_visibility="private", js=SLIM_JS).then(
            None, [turns, new_turn], turns, js=append_js(MAX_TURNS)).then(None, js=SCROLL_JS)
        chatbot.example_select(example, [turns, shown, settings], outputs, concurrency_id="index",
                               concurrency_limit=CONCURRENCY, api_visibility="private").then(
            None, [turns, new_turn], turns, js=append_js(MAX_TURNS)).then(None, js=SCROLL_JS)
        chatbot.clear(lambda: ([], []), None, [shown, turns], api_visibility="private", queue=False)
        last_feedback = gr.State(None)
        chatbot.like(feedback_handler(seen_by), [turns, last_feedback], last_feedback, api_visibility="private")
        watched = [status, doc_box, heading, chatbot, question, doomed, seen]
        gr.Timer(POLL_SECONDS).tick(tick, [seen, search, settings], watched, api_visibility="private",
                                    queue=False, show_progress="hidden")
        demo.load(restore, [turns, settings], [chatbot, shown, k, doc_box, heading, question, status, doomed, seen],
                  api_visibility="private").then(None, js=FOCUS_JS)
        search.change(search_docs, [search, settings], doc_box,
                      api_visibility="private", queue=False, show_progress="hidden")
        doc_box.input(pick, [doc_box, search, settings], settings, api_visibility="private", queue=False)
        every.click(select(True), [search, settings], [doc_box, settings], api_visibility="private", queue=False)
        none.click(select(False), [search, settings], [doc_box, settings], api_visibility="private", queue=False)
        k.input(lambda value, s: {**_settings(s), "k": int(value)}, [k, settings], settings,
                api_visibility="private", queue=False)
        ask_remove.click(confirm, [doomed], [confirm_row, confirm_text], api_visibility="private", queue=False)
        yes.click(remove, [doomed], [confirm_row], api_visibility="private")
        no.click(lambda: gr.update(visible=False), None, [confirm_row], api_visibility="private", queue=False)
        gr.api(api_ask, api_name="ask", concurrency_id="index", concurrency_limit=CONCURRENCY)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


__all__ = ["CONCURRENCY", "FAILED", "NO_SOURCES", "ask", "build_app", "chat_turn", "page_images", "reply"]
