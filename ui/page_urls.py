"""The addresses of page pictures: built here for the chat, and checked here before the chat shows one.

    url = page_url("report.pdf", page=3, start=120, end=180, width=900, version="3f2a...")
    # "rag/page?source=report.pdf&page=3&start=120&end=180&w=900&v=3f2a..."
    PAGE_URL.fullmatch(url)   # the only image address `ui.render` lets into the chat

The address is relative to the page, so it works under any root path, and
its parts are percent-encoded: it cannot close an HTML attribute, name
another host or scheme, or reach another route. Pure string work: does not
check that the document exists or that the caller may see it (the route,
`ui.page_route`, does that on every request).
"""

from __future__ import annotations

import re
from urllib.parse import quote

ROUTE = "rag/page"
THUMB_WIDTH = 640  # pixels across of the picture beside a quote (shown about 420 px wide; sharp on a 1.5x screen)
VIEW_WIDTH = 1800  # pixels across the viewer asks for (narrower for a page that would pass MAX_PIXELS)

# What `page_url` makes, and nothing else: encoded source, whole numbers, a hex version.
PAGE_URL = re.compile(r"rag/page\?source=[A-Za-z0-9%._~-]{1,3000}&page=[1-9][0-9]{0,5}"
                      r"(?:&start=[0-9]{1,12}&end=[0-9]{1,12})?&w=[1-9][0-9]{0,3}(?:&v=[0-9a-f]{1,64})?")


def page_url(source: str, *, page: int, start: int | None = None, end: int | None = None,
             width: int = THUMB_WIDTH, version: str = "") -> str:
    """The route's address for page `page` (1-based) of `source`, text[start:end] highlighted on it."""
    parts = [f"source={quote(source, safe='')}", f"page={int(page)}"]
    if start is not None and end is not None:
        parts += [f"start={int(start)}", f"end={int(end)}"]
    parts.append(f"w={int(width)}")
    if version and re.fullmatch(r"[0-9a-f]{1,64}", version):
        parts.append(f"v={version}")
    return f"{ROUTE}?{'&'.join(parts)}"


__all__ = ["PAGE_URL", "ROUTE", "THUMB_WIDTH", "VIEW_WIDTH", "page_url"]
