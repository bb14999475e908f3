"""The web chat: a thin Gradio shell over `rag.Index.answer`.

    from ui.app import launch
    launch(index, host="127.0.0.1", port=7860)   # blocks; what `rag serve` calls

No retrieval or model code lives here: the chat and the `/ask` API endpoint
both call `index.answer` and only format what it returns (see `ui.render`).

- Chat: quotes as block quotes with [n] markers, one collapsible source per
  marker showing the paragraph with the quote highlighted (for a PDF, beside
  a picture of its page with the quote's lines marked, from `rag.pages`);
  abstentions read plainly; the last answer as Markdown (with a copy button) under the chat.
- API: `gradio_client.Client(url).predict(question, k, sources, api_name="/ask")`
  returns `dataclasses.asdict(answer)`.
- Safety: binds 127.0.0.1 by default, never shares, serves no extra files,
  loads no fonts or scripts from elsewhere; all user and document text is
  escaped by `ui.render`; errors become polite messages, never tracebacks.
- Concurrency: one shared index, read-only while serving; `Index.answer` from
  several threads at once gives each caller its own answer (checked by
  tests/test_ui_live.py and bench/bench_concurrency.py). Chat and `/ask` share
  one concurrency group of `CONCURRENCY` workers; further requests queue.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Citation, Index, InputError, RagError, pages

from .render import answer_markdown, render_answer, render_notice, render_question

log = logging.getLogger(__name__)

EXAMPLES = [
    "Why does Taiwan matter to Japan?",
    "What obstacles limit Japan's cooperation with NATO?",
    "How did the Red Sea attacks affect shipping costs?",
]
DEFAULT_K, MAX_K = 5, 10
CONCURRENCY = 8  # answers run at once (each takes milliseconds on CPU); others queue
QUEUE_SIZE = 256  # waiting requests beyond this are refused with "queue full"
FAILED = "Sorry, something went wrong while answering. Please try again, or rephrase the question."
NO_SOURCES = "Select at least one document to search (Settings)."

CSS = """
.rag-answer { line-height: 1.55; }
.rag-answer blockquote.rag-quote { border-left: 4px solid #6366f1; margin: 0.4em 0 0.8em; padding: 0.2em 0.9em;
  background: rgba(99, 102, 241, 0.06); }
.rag-answer blockquote.rag-quote p { margin: 0; }
.rag-marker { font-weight: 600; color: #4f46e5; }
.rag-sources { margin-top: 0.6em; font-size: 0.95em; }
.rag-sources-title { margin: 0.2em 0; font-weight: 600; }
.rag-source { border: 1px solid rgba(128, 128, 128, 0.35); border-radius: 6px; padding: 0.3em 0.6em;
  margin: 0.3em 0; }
.rag-source summary { cursor: pointer; }
.rag-context { margin: 0.5em 0 0.2em; white-space: normal; }
.rag-context mark.rag-hl { background: #fde68a; color: #111; padding: 0 1px; }
.rag-with-page { display: flex; flex-wrap: wrap; gap: 0.8em; align-items: flex-start; }
.rag-with-page .rag-context { flex: 1 1 18em; min-width: 0; }
#rag-chat .rag-answer img.rag-page { flex: 1 1 22em; min-width: 0; width: auto; max-width: 100%; height: auto;
  max-height: none; margin: 0.5em 0 0.2em; border: 1px solid rgba(128, 128, 128, 0.35); border-radius: 4px; }
.rag-offsets { display: block; font-size: 0.8em; opacity: 0.7; }
.rag-tag { font-size: 0.8em; padding: 0 0.4em; border-radius: 4px; background: rgba(128, 128, 128, 0.2); }
.rag-abstain, .rag-notice { font-weight: 500; margin: 0.2em 0; }
"""

# System fonts only: the default theme would fetch web fonts from Google.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"])


def _k(value: Any) -> Any:
    """The slider sends floats; pass whole numbers on as int and anything else to the library to judge."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _filter(index: Index, sources: Any) -> list[str] | None:
    """The documents to search, or None for all; InputError for what cannot be a document list."""
    if sources is None:
        return None
    if isinstance(sources, str) or not isinstance(sources, (list, tuple)):
        raise InputError(f"sources must be a list of document names, e.g. {list(index.sources)[:1]}.")
    if not sources:
        raise InputError(NO_SOURCES)
    return None if set(sources) == set(index.sources) else list(sources)


def ask(index: Index, question: str, k: Any = DEFAULT_K, sources: list[str] | None = None) -> dict[str, Any]:
    """The `/ask` endpoint: `dataclasses.asdict(index.answer(...))`; bad input raises gr.Error with a polite message."""
    try:
        result = index.answer(question, _k(k), sources=_filter(index, sources))
    except RagError as err:
        raise gr.Error(str(err), print_exception=False) from None
    except Exception:
        log.exception("answering %r failed", question)
        raise gr.Error(FAILED, print_exception=False) from None
    return dataclasses.asdict(result)


def page_images(index: Index) -> Callable[[Citation], str | None]:
    """For `render_answer`: a PDF citation's page with the quote highlighted, as a data URI; else None."""
    def image(citation: Citation) -> str | None:
        if not citation.source.lower().endswith(".pdf"):
            return None
        try:
            picture = pages.page_image(Path(index.manifest.seeds_dir) / citation.source, citation.start, citation.end)
            return pages.data_uri(picture) if picture is not None else None
        except Exception:  # without the picture the source still shows its paragraph
            log.debug("no page image for %s", citation.label(), exc_info=True)
            return None

    return image


def reply(index: Index, question: str, k: Any = DEFAULT_K, sources: list[str] | None = None) -> tuple[str, str]:
    """One chat answer: (HTML for the chat, Markdown for copying; "" when there is no answer).

    Never raises: bad input and library errors become a polite message.
    """
    index = index.current() if hasattr(index, "current") else index  # one index for the answer and its sources
    try:
        result = index.answer(question, _k(k), sources=_filter(index, sources))
    except RagError as err:
        return render_notice(str(err)), ""
    except Exception:
        log.exception("answering %r failed", question)
        return render_notice(FAILED), ""
    html = render_answer(result, index.source_text, index.passages, page_image=page_images(index))
    return html, answer_markdown(result)


def chat_turn(index: Index, question: str, history: list[dict[str, Any]] | None, k: Any = DEFAULT_K,
              sources: list[str] | None = None) -> tuple[list[dict[str, Any]], str]:
    """The session history with `question` and its answer appended, and the answer as Markdown."""
    html, markdown = reply(index, question, k, sources)
    history = [*(history or []), {"role": "user", "content": render_question(question)},
               {"role": "assistant", "content": html}]
    return history, markdown


def build_app(index: Index) -> gr.Blocks:
    """The chat and the `/ask` endpoint for `index` (not launched)."""
    all_sources = list(index.sources)

    def api_ask(question: str, k: int = DEFAULT_K, sources: list[str] | None = None) -> dict[str, Any]:
        """Answer `question` from the documents: verbatim quotes, each cited to exact character offsets.

        Returns dataclasses.asdict(rag.Answer): question, quotes (text, score, citation with
        source/section/paragraph/start/end), passages, abstained, message, truncated, text.
        `sources` limits the search to those documents (default: all).
        """
        return ask(index, question, k, sources)

    def chat(question: str, history: list[dict[str, Any]], k: float, sources: list[str]):
        if not question or not question.strip():
            gr.Warning("Type a question about the documents, e.g. “Why does Taiwan matter to Japan?”")
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        history, markdown = chat_turn(index, question, history, k, sources)
        return "", history, history, markdown

    def example(evt: gr.SelectData, history: list[dict[str, Any]], k: float, sources: list[str]):
        value = evt.value
        text = value.get("text", "") if isinstance(value, dict) else str(value)
        return chat(text, history, k, sources)

    with gr.Blocks(title="Ask the report", analytics_enabled=False) as demo:
        gr.Markdown("## Ask the report\nAnswers are **verbatim quotes** from the documents, each numbered and "
                    "cited to its exact place. Open a source to read the quote in its paragraph.")
        history = gr.State([])
        chatbot = gr.Chatbot(
            label="Chat",
            show_label=False,
            height=None,
            min_height=420,
            max_height="78vh",
            examples=[{"text": q} for q in EXAMPLES],
            placeholder="Ask a question about the report, or pick an example.",
            latex_delimiters=[],  # a "$$" in a document must not become a formula
            sanitize_html=True,  # defence in depth: ui.render already escapes everything
            render_markdown=True,
            allow_tags=False,
            feedback_options=None,
            buttons=[],  # its copy buttons would copy HTML; the Markdown box below copies clean text
            elem_id="rag-chat",
        )
        with gr.Row():
            question = gr.Textbox(placeholder="Why does Taiwan matter to Japan?", show_label=False, scale=8,
                                  max_lines=4, submit_btn=True, elem_id="rag-question", autofocus=True)
        with gr.Accordion("Settings", open=False):
            k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label="Number of passages to search")
            sources = gr.CheckboxGroup(all_sources, value=all_sources, label="Documents to search",
                                       visible=len(all_sources) > 1)
        with gr.Accordion("Copy the last answer as Markdown", open=False):
            markdown = gr.Code(value="", language="markdown", label="Answer with citations", interactive=False,
                               lines=6, max_lines=40, wrap_lines=True, show_line_numbers=False,
                               buttons=["copy", "download"],
                               elem_id="rag-markdown")

        outputs = [question, chatbot, history, markdown]
        question.submit(chat, [question, history, k, sources], outputs, concurrency_id="index",
                        concurrency_limit=CONCURRENCY, api_visibility="private")
        chatbot.example_select(example, [history, k, sources], outputs, concurrency_id="index",
                               concurrency_limit=CONCURRENCY, api_visibility="private")
        chatbot.clear(lambda: ([], ""), None, [history, markdown], api_visibility="private", queue=False)
        gr.api(api_ask, api_name="ask", concurrency_id="index", concurrency_limit=CONCURRENCY)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def _launch_options(host: str, port: int) -> dict[str, Any]:
    return {
        "server_name": host,
        "server_port": port,
        "share": False,  # never, whatever GRADIO_SHARE says
        "allowed_paths": None,  # serve no files of ours
        "ssr_mode": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "run_history": False,  # history stays in the page's session only
        "show_error": False,  # errors are shown as polite messages by the handlers
        "footer_links": ["api"],
        "quiet": True,
        "theme": THEME,
        "css": CSS,
    }


def check_port(port: int) -> None:
    """InputError unless `port` is a TCP port a server can be asked to listen on."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"port must be 1-65535, got {port!r}; pass e.g. --port 7860.")


def _check_address(host: str, port: int) -> None:
    """Raise InputError saying what to do when the server could not bind `host`:`port`."""
    check_port(port)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (OSError, UnicodeError):
        raise InputError(f"Cannot bind to host {host!r}: no such address; use e.g. --host 127.0.0.1.") from None
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is not "in use"
        try:
            s.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise InputError(f"Port {port} on {host} is already in use; pass another one, "
                                 f"e.g. --port {port + 1}.") from None
            raise InputError(f"Cannot bind to {host}:{port} ({err.strerror}); use e.g. --host 127.0.0.1 "
                             "and a port above 1024.") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on `host` right now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start(index: Index, *, host: str = "127.0.0.1", port: int | None = 7860) -> tuple[gr.Blocks, str]:
    """Start serving in background threads; returns the app (call `.close()` to stop) and its URL.

    `port=None` picks a free port. Raises InputError (a RagError) when the address cannot be bound.
    """
    if port is None:
        port = free_port(host)
    else:
        _check_address(host, port)
    demo = build_app(index)
    _, url, _ = demo.launch(prevent_thread_lock=True, **_launch_options(host, port))
    return demo, url


def launch(index: Index, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the chat for `index` until interrupted, printing its URL first."""
    demo, url = start(index, host=host, port=port)
    print(f"Web chat running at {url}  (Ctrl+C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Note: bound to {host}, so anyone who can reach this machine can use the chat (there is no login).",
              flush=True)
    try:
        demo.block_thread()
    finally:
        demo.close()
