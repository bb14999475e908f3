"""`GET …/rag/page`: one page of a PDF or picture the caller's index holds, as a PNG with a cited span highlighted.

    GET rag/page?source=report.pdf&page=3&start=120&end=180&w=1800
    -> 200 image/png; X-Rag-Page: 3, X-Rag-Pages: 12, X-Rag-Mark: left,top,right,bottom (pixels; absent
       when nothing on this page is highlighted); Cache-Control private, an ETag (304 on If-None-Match)

An ASGI middleware in front of Gradio (`ui.server` installs it), so no route
of Gradio's can shadow it and `ui.guard` never sees it. Each request asks
`access.workspace(request)` (`ui.access`) for the caller's workspace and
serves only a source that workspace's current index lists, read from that
index's seeds folder: the query string is compared with the index's own
names, never joined to a path, and a name that resolves outside the seeds
folder is refused. Widths are capped at MAX_ROUTE_WIDTH and every picture at
`rag.readers.pdf_draw.MAX_PIXELS`; drawing runs in the sandboxed reading
worker (`ui.pages.page_of`, which keeps the last pictures in memory keyed by
file size and modification time).

Errors are JSON `{"error": {"code", "message"}}`, as the API's: 400 for a malformed request, 401/403
from `Access`, 404 for a source or page the index does not have (or a file
that is not a PDF or a PNG, JPEG or TIFF picture), 405 for a method other than GET or HEAD.
Does not serve the document itself (a picture is drawn afresh, as a PDF's page is), nor pages of Word,
HTML or text files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio

import ui.pages as pages
from ui.access import Access, Denied
from ui.page_urls import ROUTE

log = logging.getLogger(__name__)

PATH = "/" + ROUTE
MAX_ROUTE_WIDTH = 2400  # pixels; wider asks are drawn this wide (and MAX_PIXELS may make them narrower)
MAX_AGE = 86400  # seconds a browser may reuse a picture: the chat's addresses name the index version
Scope = dict[str, Any]


CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         500: "internal"}


def _json(status: int, message: str, code: str | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """An error in the API's shape: {"error": {"code", "message"}}."""
    error = {"code": code or CODES.get(status, "error"), "message": message}
    body = json.dumps({"error": error}, ensure_ascii=False).encode("utf-8")
    return status, [(b"content-type", b"application/json; charset=utf-8"), (b"cache-control", b"no-store")], body


def _number(values: dict[str, list[str]], name: str) -> int | None:
    """The whole number in query parameter `name`; None when absent; ValueError when malformed or repeated."""
    found = values.get(name)
    if found is None:
        return None
    if len(found) != 1 or not found[0].isascii() or not found[0].isdigit() or len(found[0]) > 12:
        raise ValueError(name)
    return int(found[0])


def document_path(index: Any, source: str) -> Path | None:
    """The file of `source` if `index` lists it and it lies inside the index's seeds folder, else None."""
    try:
        listed = source in set(index.sources)
        seeds = Path(index.manifest.seeds_dir).resolve()
    except Exception:  # noqa: BLE001 - an index without sources or a seeds folder serves no pages
        return None
    if not listed:
        return None
    path = (seeds / source).resolve()
    if not path.is_relative_to(seeds) or path == seeds or not path.is_file():
        return None
    return path


def answer(access: Access, request: Any, query: str, if_none_match: str | None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) for one request: the work of the route, without ASGI (runs in a thread)."""
    try:
        workspace = access.workspace(request)
    except Denied as err:
        return _json(err.status, err.message, err.code)
    values = parse_qs(query, keep_blank_values=True)
    source = values.get("source", [])
    try:
        page, start, end, width = (_number(values, n) for n in ("page", "start", "end", "w"))
    except ValueError as err:
        return _json(400, f"{err} must be one whole number, e.g. rag/page?source=report.pdf&page=1&w=900.")
    if len(source) != 1 or not source[0] or page is None:
        return _json(400, "Name one document and page, e.g. rag/page?source=report.pdf&page=1&w=900.")
    if (start is None) != (end is None) or (start is not None and end is not None and start >= end):
        return _json(400, "Give start and end together, start before end, or neither.")
    width = min(width or pages.MAX_WIDTH, MAX_ROUTE_WIDTH)
    index = workspace.index()
    path = document_path(index, source[0])
    if path is None:
        return _json(404, "No such document in this index; ask again to get a fresh link.")
    stat = path.stat()
    tag = '"' + hashlib.sha256(json.dumps([source[0], stat.st_size, stat.st_mtime_ns, page, start, end,
                                           width]).encode()).hexdigest()[:32] + '"'
    cache = [(b"cache-control", f"private, max-age={MAX_AGE}".encode()), (b"etag", tag.encode()),
             (b"vary", b"Cookie, Authorization")]
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return 304, cache, b""
    drawn = pages.page_of(path, page, start, end, width=width)
    if drawn is None:
        return _json(404, f"{source[0]} has no page {page} with that span to show.")
    image = drawn.image
    headers = [(b"content-type", b"image/png"), (b"x-content-type-options", b"nosniff"), *cache,
               (b"x-rag-page", str(image.page).encode()), (b"x-rag-pages", str(drawn.pages).encode())]
    if image.mark is not None:
        headers.append((b"x-rag-mark", ",".join(str(v) for v in image.mark).encode()))
    return 200, headers, image.png


class PageRoute:
    """The middleware: `GET …/rag/page` answered here for the caller `access` names; everything else passed on."""

    def __init__(self, app: Any, *, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").endswith(PATH):
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            status, headers, body = _json(405, "Fetch page pictures with GET.")
        else:
            request = Request(scope)
            query = scope.get("query_string", b"").decode("latin-1")
            try:
                status, headers, body = await anyio.to_thread.run_sync(
                    answer, self.access, request, query, request.headers.get("if-none-match"))
            except Exception:
                log.exception("serving a page picture failed")
                status, headers, body = _json(500, "The page could not be drawn; try again.")
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


__all__ = ["MAX_ROUTE_WIDTH", "PATH", "PageRoute", "answer", "document_path"]
