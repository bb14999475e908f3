"""A PDF's title as a reader sees it: the largest text on its first page.

The document information's Title is used only when it says the same (it is
often empty, a file name such as "Microsoft Word - draft3.docx", or an
author's line); then its spelling is kept, since it has no line-break
hyphens. A first page whose largest text is body-sized (a letter, a plain
memo) has no title by size, and the metadata's counts only if the page shows it.

Does not read the PDF (that is `rag.readers.pdf`) and does not decide which
unit of the text is the title for classification (that is `rag.ingest.classify`).
"""

from __future__ import annotations

import re

from rag.readers.pdf_lines import Line, body_size

TITLE_SCALE = 1.15  # the title's type is at least this much larger than the page's body text
SAME_SIZE = 0.9  # lines this close to the largest size belong to the title
MAX_LINES = 3
MAX_WORDS = 25


def _words(s: str) -> list[str]:
    return re.findall(r"[^\W_]+", s.casefold())


def first_page_title(lines: list[Line], metadata: str = "") -> tuple[str | None, list[Line]]:
    """The title of a PDF whose first page has `lines` (top to bottom), and the lines that draw it."""
    shown = [ln for ln in lines if _words(ln.text)]
    meta = " ".join(metadata.split())
    if not shown:
        return None, []
    largest = max(ln.size for ln in shown)
    if largest < body_size(shown) * TITLE_SCALE:
        page = _words(" ".join(ln.text for ln in shown))
        words = _words(meta)
        found = bool(words) and any(page[i : i + len(words)] == words for i in range(len(page) - len(words) + 1))
        return (meta, []) if found else (None, [])
    top = sorted(shown, key=lambda ln: -ln.middle)
    start = next(n for n, ln in enumerate(top) if ln.size >= SAME_SIZE * largest)
    title_lines = []
    for ln in top[start : start + MAX_LINES]:
        if ln.size < SAME_SIZE * largest:
            break
        title_lines.append(ln)
    text = " ".join(" ".join(ln.text for ln in title_lines).split())
    if len(text.split()) > MAX_WORDS:
        return None, []
    if meta and _words(meta) == _words(text):
        return meta, title_lines
    return text, title_lines
