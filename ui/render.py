"""Turn library answers into safe HTML for the chat, and Markdown for copying.

Pure functions, no Gradio: everything here is unit-tested on its own
(tests/ui/test_ui.py).

Safety: every piece of text that comes from a user or a document goes through
`text_html` (`ui.reflow`: escaped, and inert as Markdown, LaTeX and Mermaid).
The one exception is a PDF page picture: an <img> whose `src` must be an address of our own page route as `ui.page_urls.page_url`
makes it (checked in full against `PAGE_URL`: relative, percent-encoded,
numbers only), never any other URL or a data URI; it loads lazily, when its
source is opened, so an answer carries no picture bytes. Each
HTML fragment is emitted on one line so that Markdown never leaves the HTML
block (a blank line would end it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answers.pipeline import ABSTAIN_MESSAGE
from rag.answers.quotes import source_rows
from rag.ingest.breaks import reads_document
from rag.types import Answer, Citation, Passage, Quote
from ui.page_urls import PAGE_URL
from ui.reflow import copy_text_html, reflow, text_html

RELATED_SHOWN = 3
RELATED_NOTE = "The documents hold only related passages; none of them answers the question"
COPY_LABEL = "Copy answer"


def copy_tools(markdown: str) -> str:
    """A copy button and, hidden beside it, the exact text it copies (the page's script reads it)."""
    if not markdown:
        return ""
    return (f'<div class="rag-tools"><button class="rag-copy">{COPY_LABEL}</button>'
            f'<div class="rag-copy-text">{copy_text_html(markdown)}</div></div>')


@dataclass(frozen=True)
class Context:
    """Text around a citation: `text` starts at offset `start` of the source."""

    text: str
    start: int
    document: str = ""  # the whole source text, for reading its line breaks ("" when not at hand)


def paragraph_context(citation: Citation, passages: Sequence[Passage],
                      source_text: Callable[[str], str]) -> Context | None:
    """The whole body paragraph that holds `citation`, cut from the source text.

    A paragraph may be split into several passages; their union is the
    paragraph. When that union starts or ends inside a sentence (a paragraph
    cut at a page break, a passage that is a window of sentences), it is
    widened to the sentence's start and end, looking at most WIDEN characters
    either way and never across a blank line. A quote that runs on into the
    next paragraphs of its section (a lead-in ending "…built with:" and the
    command it announces) takes them in as far as its end (and that sentence's
    end). Returns None when the citation lies outside every passage or the
    source cannot be read (the caller then shows the quote alone).
    """
    def beside(c: Citation) -> bool:
        return c.source == citation.source and c.section == citation.section

    same = [p.citation for p in passages if beside(p.citation) and p.citation.paragraph == citation.paragraph]
    if not same:
        return None
    start, end = min(c.start for c in same), max(c.end for c in same)
    if citation.end > end and any(beside(p.citation) and p.citation.paragraph > citation.paragraph
                                  and p.citation.start < citation.end <= p.citation.end for p in passages):
        end = citation.end  # the quote's end lies in a later paragraph of the same section
    if not (start <= citation.start <= citation.end <= end):
        return None
    try:
        text = source_text(citation.source)
    except Exception:  # noqa: BLE001 - a missing source only costs the context, never the answer
        return None
    start, end = sentence_bounds(text, start, end)
    return Context(text[start:end], start, text)


WIDEN = 600  # characters a context may grow by at either end to reach a sentence's start or end
_BREAK_BEFORE = re.compile(r"(?:\n[ \t]*\n|[.!?…][\"'”’)\]]*\s)\s*")
_ENDED = re.compile(r"(?:[.!?…][\"'”’)\]]*|\n[ \t]*\n)\s*$")
_BREAK_AFTER = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)|(?=\n[ \t]*\n)")


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """(start, end) moved out to the nearest sentence or paragraph boundaries within WIDEN characters
    (unchanged where it already sits on one, or where none is that near)."""
    if 0 < start <= len(text):
        window_start = max(0, start - WIDEN)
        window = text[window_start:start]
        cuts = [m.end() for m in _BREAK_BEFORE.finditer(window)]
        if cuts:
            start = window_start + cuts[-1]
        elif window_start == 0:
            start = 0
    if 0 < end < len(text) and not _ENDED.search(text, max(0, end - 8), end):
        found = _BREAK_AFTER.search(text, end, min(len(text), end + WIDEN))
        if found is not None:
            end = found.end()
    return start, end


def highlighted(context: Context, citation: Citation, quote: str) -> str:
    """`context` as HTML with the quoted characters wrapped in <mark>.

    The mark is placed by offsets and only if those offsets hold exactly the
    quoted text; otherwise the context is shown without a mark.
    """
    lo, hi = citation.start - context.start, citation.end - context.start
    shown = reflow(context.text, context.document, context.start)  # same length: the offsets still hold
    if not (0 <= lo <= hi <= len(context.text)) or context.text[lo:hi] != quote:
        return text_html(shown)
    return (text_html(shown[:lo]) + '<mark class="rag-hl">' + text_html(shown[lo:hi]) + "</mark>"
            + text_html(shown[hi:]))


def highlighted_all(context: Context, quotes: Sequence[Quote]) -> str:
    """`context` with every quote of one passage marked (each as `highlighted` marks one), in text order."""
    spans = sorted((q.citation.start - context.start, q.citation.end - context.start, q.text) for q in quotes)
    if len(spans) == 1 or any(b[0] < a[1] for a, b in itertools.pairwise(spans)):
        return highlighted(context, quotes[0].citation, quotes[0].text)
    shown, out, at = reflow(context.text, context.document, context.start), [], 0
    for lo, hi, quote in spans:
        if not (at <= lo <= hi <= len(context.text)) or context.text[lo:hi] != quote:
            return text_html(shown)  # offsets that do not hold a quote: no marks rather than wrong ones
        out += [text_html(shown[at:lo]), '<mark class="rag-hl">', text_html(shown[lo:hi]), "</mark>"]
        at = hi
    return "".join(out) + text_html(shown[at:])


def _offsets(c: Citation) -> str:
    return f'<span class="rag-offsets">characters {c.start}–{c.end}</span>'


def _label(c: Citation) -> str:
    return text_html(c.label())


def render_question(question: str) -> str:
    """The user's question as it appears in the chat: literal text, whitespace collapsed."""
    shown = " ".join(question.split())
    return f'<div class="rag-question">{text_html(shown)}</div>'


def page_view(citation: Citation, uri: str | None) -> str:
    """A lazily loaded <img> of the cited page, or "" when `uri` is not one of our page route's addresses
    (`ui.page_urls.PAGE_URL`, checked in full: nothing else is ever shown as a picture)."""
    if not uri or not PAGE_URL.fullmatch(uri):
        return ""
    where = f"p. {citation.page} of {citation.source}" if citation.page is not None else f"The page of {citation.source}"
    alt = text_html(" ".join(f"{where} with the quote highlighted".split()))
    return f'<img class="rag-page" loading="lazy" alt="{alt}" src="{uri.replace("&", "&amp;")}">'


def notes_html(answer: Answer, scope: str = "") -> str:
    """What was searched, above the answer: the documents (when a filter was on) and the resolved question."""
    parts = []
    if scope:
        parts.append(f'<p class="rag-scope">{text_html(scope)}</p>')
    searched = getattr(answer, "searched", "") or ""
    if searched:
        parts.append(f'<p class="rag-searched">{text_html("Searched for: " + " ".join(searched.split()))}</p>')
    return "".join(parts)


def render_answer(answer: Answer, source_text: Callable[[str], str] | None = None,
                  passages: Sequence[Passage] = (), *,
                  page_image: Callable[[Citation], str | None] | None = None, scope: str = "",
                  copy: str = "") -> str:
    """The chat message for `answer`: block quotes with [n] markers, then one
    collapsible source per marker showing its paragraph with the quote marked.

    `source_text` and `passages` (the index's) give the surrounding paragraph;
    without them each source shows the retrieved passage that holds the quote.
    `page_image`, given a citation, returns the page route's address of its
    page with the quote highlighted (or None); the source then shows it beside
    the paragraph. Each [n] is a button: the page's script opens source n
    (or its page in the viewer).
    `scope` says which documents were searched; `copy` is the exact text
    the answer's copy button copies ("" for no button).
    """
    parts = ['<div class="rag-answer">', notes_html(answer, scope)]

    texts: dict[str, str] = {}

    def cached(source: str) -> str:  # each source read once per answer
        if source not in texts:
            texts[source] = source_text(source) if source_text is not None else ""
        return texts[source]

    def document(source: str, text: str) -> str:  # "" when `text` shows the same without it, or not at hand
        try:
            return cached(source) if reads_document(text) else ""
        except Exception:  # noqa: BLE001 - a missing source only costs how its line breaks are shown
            return ""

    if answer.abstained:
        parts.append(f'<p class="rag-abstain">{text_html(answer.message or ABSTAIN_MESSAGE)}</p>')
        related = answer.passages[:RELATED_SHOWN]
        if related:
            parts.append('<div class="rag-sources rag-related">')
            parts.append(f'<p class="rag-sources-title">{text_html(RELATED_NOTE)}:</p>')
            for p in related:
                parts.append('<details class="rag-source">')
                parts.append(f'<summary><span class="rag-tag">related, not an answer</span> {_label(p.citation)}</summary>')
                parts.append(f'<div class="rag-context">{text_html(reflow(p.text, document(p.citation.source, p.text), p.citation.start))}</div>{_offsets(p.citation)}')
                parts.append("</details>")
            parts.append("</div>")
        parts.append(copy_tools(copy))
        parts.append("</div>")
        return "".join(parts)

    if answer.message:
        parts.append(f'<p class="rag-note">{text_html(answer.message)}</p>')
    rows = source_rows(answer.quotes)
    for n, quote in zip(rows, answer.quotes, strict=True):
        shown = reflow(quote.text, document(quote.citation.source, quote.text), quote.citation.start)
        parts.append(f'<blockquote class="rag-quote"><p>“{text_html(shown)}” '
                     f'<sup class="rag-marker"><button class="rag-cite">[{n}]</button></sup></p></blockquote>')
    parts.append('<div class="rag-sources">')
    parts.append('<p class="rag-sources-title">Sources (open one to read the quote in context):</p>')
    for n in sorted(set(rows)):  # one row per passage, its quotes all marked in it
        quotes = [q for row, q in zip(rows, answer.quotes, strict=True) if row == n]
        quote = quotes[0]
        c = quote.citation
        context = paragraph_context(c, passages, cached) if source_text is not None else None
        if context is None:
            holder = next((p for p in answer.passages if p.citation.source == c.source
                           and p.citation.start <= c.start and c.end <= p.citation.end), None)
            held = (holder.text, holder.citation.start) if holder else (quote.text, c.start)
            context = Context(*held, document(c.source, held[0]))
        parts.append('<details class="rag-source">')
        parts.append(f'<summary><span class="rag-marker">[{n}]</span> {_label(c)}</summary>')
        paragraph = f'<div class="rag-context">{highlighted_all(context, quotes)}</div>'
        picture = page_view(c, page_image(c)) if page_image is not None else ""
        if picture:
            paragraph = f'<div class="rag-with-page">{paragraph}{picture}</div>'
        parts.append(paragraph + "".join(_offsets(q.citation) for q in quotes))
        parts.append("</details>")
    parts.append("</div>")
    parts.append(copy_tools(copy))
    parts.append("</div>")
    return "".join(parts)


def render_notice(message: str) -> str:
    """A polite message (bad input, a library error) in place of an answer."""
    return f'<div class="rag-answer"><p class="rag-notice">{text_html(message)}</p></div>'


def answer_markdown(answer: Answer, scope: str = "") -> str:
    """The answer as Markdown for copying: question, quotes with [n], citations with offsets.

    This is plain text for the clipboard (shown in a code box, never rendered),
    so the quotes stay exactly as in the source.
    """
    lines = [f"**Question:** {' '.join(answer.question.split())}", ""]
    searched = getattr(answer, "searched", "") or ""
    if searched:
        lines[1:1] = [f"Searched for: {' '.join(searched.split())}"]
    if scope:
        lines[1:1] = [scope]
    body = answer.text or ""
    lines.append(body)
    if not answer.abstained and answer.quotes:
        lines += ["", "Exact character offsets:"]
        lines += [f"[{n}] {q.citation.source}, characters {q.citation.start}–{q.citation.end}"
                  for n, q in zip(source_rows(answer.quotes), answer.quotes, strict=True)]
    return "\n".join(lines).strip() + "\n"
