"""The JSON API and the OpenAI-compatible endpoint, served by the web chat's own server (no second one).

    from ui.api import middleware
    demo.launch(app_kwargs={"middleware": [middleware(access), ...]})   # what `ui.server.start` does

Routes (all JSON; errors are `{"error": {"code", "message"}}` with the status):

    POST   /api/v1/answer  /api/v1/search         (`ui.api.routes`)
    GET    /api/v1/documents   POST /api/v1/documents   DELETE /api/v1/documents/{source}
    POST   /v1/chat/completions   GET /v1/models   (`ui.api.openai_compat`)
    GET    /api/v1/openapi.json   /api/v1/docs     (the schema, and a page that reads it, offline)

Gradio builds its FastAPI app inside `launch`, so these routes are not added
to it: `Dispatch`, an ASGI middleware in front of Gradio's app (and of
`ui.guard`), sends requests under /api/v1 and /v1 to a small FastAPI app of
their own and everything else on to Gradio. Gradio's catch-all routes and
the guard's closed routes therefore never see them. Bodies other than an
upload are read up to MAX_BODY_BYTES (413 past it). Every route asks the
`ui.access.Access` it is given for the caller's workspace; the server
without logins passes `OneWorkspace`.

Does not authenticate anyone (`ui.access`), and serves no page or file of Gradio's.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, cast

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.middleware import Middleware
from starlette.types import Message, Receive, Scope, Send

from ui.access import Access
from ui.api import openai_compat, routes
from ui.api.docs import PAGE
from ui.api.errors import error_response, install
from ui.guard import Stalled, _read
from ui.quota import Quota

log = logging.getLogger(__name__)

PREFIXES = ("/api/v1", "/v1")
MAX_BODY_BYTES = 1024 * 1024  # a question, its history, or a conversation: far more than any needs
UPLOAD = ("POST", "/api/v1/documents")


def build(access: Access, quota: Quota | None = None) -> FastAPI:
    """The API's own FastAPI app: its routes, the schema, the reference page and the one error shape."""
    app = FastAPI(title="rag JSON API", version="1", openapi_url="/api/v1/openapi.json", docs_url=None,
                  redoc_url=None, description="Verbatim, cited answers from the documents. Errors are "
                  '`{"error": {"code", "message"}}`. Examples in docs/api.md.')
    install(app)
    app.include_router(routes.router(access, quota if quota is not None else Quota()))
    app.include_router(openai_compat.router(access))

    @app.get("/api/v1/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"cache-control": "no-store"})

    return app


def ours(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PREFIXES)


class Dispatch:
    """ASGI middleware: /api/v1 and /v1 go to the API app (`build(access, quota)`), the rest to `app`."""

    def __init__(self, app: Any, *, access: Access, quota: Quota | None = None):
        self.app, self.api = app, build(access, quota)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        if scope["type"] != "http" or not ours(path):
            await self.app(scope, receive, send)
            return
        if (scope.get("method"), path.rstrip("/")) != UPLOAD:
            try:
                body = await _read(cast(Any, receive), MAX_BODY_BYTES)
            except Stalled:
                await error_response(408, "timeout", "The request stopped arriving; send it again.")(scope, receive, send)
                return
            if body is None:
                await error_response(413, "too_large", f"The request body is over {MAX_BODY_BYTES // 1024} KB; "
                                     "send a shorter question or history.")(scope, receive, send)
                return
            receive = _replay(body, receive)
        with contextlib.suppress(Exception):  # answered with a 500 and logged by `ui.api.errors` already
            await self.api(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, then whatever the client sends next (its disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def middleware(access: Access, quota: Quota | None = None) -> Middleware:
    """The API for a server's middleware list; `quota`: the page's upload quota, so both count together."""
    return Middleware(Dispatch, access=access, quota=quota)


__all__ = ["MAX_BODY_BYTES", "Dispatch", "build", "middleware"]
