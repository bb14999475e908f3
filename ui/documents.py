"""The document list, and the words of the page taken from the documents themselves.

Pure functions over `ui.catalog.DocumentInfo` and a live index's status:
the checkbox labels ("Japan-NATO Alignment — text, 3,512 words"), which
documents a search of the list shows, which are searched (every document
but those the user unticked, so a new document is searched from the moment
it is indexed), the title, placeholder and example questions (from the
documents' titles and section headings, never fixed words), and the
progress line of a rebuild. Everything shown goes through `render.text_html`.

Does not touch Gradio or the index: `ui.app` wires these in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ui.catalog import DocumentInfo, name_in_words
from ui.render import text_html

N_EXAMPLES = 3
# Words of a document put into the page's own text (title, examples) must read as plain words: a heading or
# title holding markup characters is not used there (its file name in words stands in for a title).
_MARKUP = re.compile(r"[<>\[\]{}`*_$\\|#~^=]|://")
_NUMBERING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*\.?|[IVXLC]{1,6}\.|[A-Z]\.|§)\s+")
_GENERIC = {"contents", "table of contents", "introduction", "abstract", "summary", "name", "synopsis",
            "see also", "references", "notes", "appendix", "index", "description", "files", "authors",
            "copyright", "license", "acknowledgements", "acknowledgments", "bibliography", "footnotes"}


def label(info: DocumentInfo) -> str:
    """The checkbox label of a document: its title, then its kind and size, then its file name."""
    shown = info.title if info.title.lower() != info.source.lower() else info.source
    return f"{shown} — {info.kind_name}, {info.size} · {info.source}"


def matches(info: DocumentInfo, query: str) -> bool:
    """Whether a search of the document list shows `info`: every word of `query` in its title, name or kind."""
    hay = f"{info.title} {info.source} {info.kind_name}".lower()
    return all(word in hay for word in query.lower().split())


def shown(infos: Sequence[DocumentInfo], query: str | None) -> list[DocumentInfo]:
    return [i for i in infos if matches(i, query or "")]


def choices(infos: Sequence[DocumentInfo], query: str | None) -> list[tuple[str, str]]:
    """(label, source) of each document the search shows, in the index's order."""
    return [(label(i), i.source) for i in shown(infos, query)]


def ticked(infos: Sequence[DocumentInfo], query: str | None, excluded: Iterable[str]) -> list[str]:
    """The shown documents that are searched (not unticked)."""
    out = set(excluded or ())
    return [i.source for i in shown(infos, query) if i.source not in out]


def excluded_after(infos: Sequence[DocumentInfo], query: str | None, excluded: Iterable[str],
                   ticked_now: Iterable[str] | None) -> list[str]:
    """The unticked documents after the user changed the ticks of the shown ones (the hidden ones keep theirs)."""
    visible = {i.source for i in shown(infos, query)}
    now = set(ticked_now or ())
    kept = {s for s in (excluded or ()) if s not in visible}
    return sorted(kept | (visible - now))


def search_scope(sources: Sequence[str], excluded: Iterable[str]) -> list[str] | None:
    """The documents to search: None for all of them, else those not unticked (possibly none)."""
    out = set(excluded or ())
    if not out & set(sources):
        return None
    return [s for s in sources if s not in out]


def scope_note(infos: Sequence[DocumentInfo], searched: Sequence[str] | None) -> str:
    """"Searched 2 of 5 documents: A; B." when a filter was on, else ""."""
    if searched is None:
        return ""
    titles = {i.source: i.title for i in infos}
    names = [titles.get(s, s) for s in searched]
    listed = "; ".join(names[:6]) + (f"; and {len(names) - 6} more" if len(names) > 6 else "")
    total = len(infos)
    return f"Searched {len(names)} of {total} document{'s' if total != 1 else ''}: {listed}."


# --- the page's words, from the documents ---------------------------------------------


def heading_topic(section: str) -> str:
    """A section heading as a topic: numbering dropped ("2.1. Grants" -> "Grants")."""
    return _NUMBERING.sub("", section).strip().strip(":").strip()


def plain_title(info: DocumentInfo) -> str:
    """The document's title for the page's own words, or its file name in words when the title holds markup."""
    return info.title if not _MARKUP.search(info.title) else name_in_words(info.source)


def _topic_question(section: str, title: str) -> str | None:
    topic = heading_topic(section)
    if (not topic or topic.lower() in _GENERIC or len(topic) > 90 or not any(ch.isalpha() for ch in topic)
            or _MARKUP.search(topic)):
        return None
    if topic.endswith("?"):
        return topic  # an FAQ's question is already one
    if topic.isupper():
        topic = topic.capitalize()  # "BUILD INSTRUCTIONS" -> "Build instructions"
    return f"What does {title} say about {topic}?"


def example_questions(infos: Sequence[DocumentInfo], n: int = N_EXAMPLES) -> list[str]:
    """Up to `n` questions from the documents' section headings, the best-covered sections first, one document
    at a time in turn; a document without sections gives "What is <title> about?"."""
    per_doc: list[list[str]] = []
    for info in infos:
        ranked = sorted(info.sections, key=lambda s: -s[1])
        title = plain_title(info)
        found = [q for s, _ in ranked if (q := _topic_question(s, title))]
        per_doc.append(found or [f"What is {title} about?"])
    out: list[str] = []
    depth = 0
    while len(out) < n and any(depth < len(q) for q in per_doc):
        for questions in per_doc:
            if depth < len(questions) and questions[depth] not in out and len(out) < n:
                out.append(questions[depth])
        depth += 1
    return out


def title(infos: Sequence[DocumentInfo]) -> str:
    """The page's heading: "Ask Japan-NATO Alignment", "Ask 5 documents"."""
    if len(infos) == 1:
        return f"Ask {plain_title(infos[0])}"
    return f"Ask {len(infos)} documents" if infos else "Ask your documents"


def placeholder(infos: Sequence[DocumentInfo]) -> str:
    """The empty chat's invitation, naming what can be asked about."""
    if not infos:
        return "No documents are indexed yet; add one to start."
    names = [plain_title(i) for i in infos[:3]]
    more = f" and {len(infos) - 3} more" if len(infos) > 3 else ""
    return f"Ask a question about {', '.join(names)}{more}, or pick an example."


def status_html(status: Any, skipped: Sequence[dict[str, str]] = ()) -> str:
    """The rebuild's progress (a bar and its one line), the documents still being indexed, and the skipped ones."""
    parts = ['<div class="rag-status">']
    state = getattr(status, "state", "ready")
    message = getattr(status, "message", "") or ""
    if state == "indexing":
        done, total = int(getattr(status, "done", 0) or 0), int(getattr(status, "total", 0) or 0)
        bar = (f'<progress class="rag-progress" max="{total}" value="{min(done, total)}"></progress>' if total > 0
               else '<progress class="rag-progress"></progress>')
        parts.append(f'<p class="rag-indexing">{bar} {text_html(message or "Indexing…")}</p>')
        pending = tuple(getattr(status, "pending", ()) or ())
        if pending:
            parts.append('<ul class="rag-pending">' + "".join(
                f'<li>{text_html(name)} <span class="rag-tag">indexing…</span></li>' for name in pending[:20]) + "</ul>")
    elif message:
        css = "rag-failed" if state == "failed" else "rag-notice"
        parts.append(f'<p class="{css}">{text_html(message)}</p>')
    if skipped:
        parts.append('<details class="rag-skipped"><summary>' + text_html(f"{len(skipped)} file(s) not indexed")
                     + "</summary><ul>" + "".join(
                         f"<li>{text_html(s.get('source', '?'))}: {text_html(s.get('reason', ''))}</li>"
                         for s in skipped[:50]) + "</ul></details>")
    parts.append("</div>")
    return "".join(parts) if len(parts) > 2 else ""


__all__ = ["choices", "example_questions", "excluded_after", "label", "matches", "placeholder", "scope_note",
           "search_scope", "shown", "status_html", "ticked", "title"]
