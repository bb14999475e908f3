"""HTTP in front of the Gradio app: the document upload route, routes closed, clear errors where Gradio gives none.

An ASGI middleware (installed through `launch(app_kwargs={"middleware": ...})`):

- `POST …/rag/upload`: one document as the raw request body, its name in the
  `X-File-Name` header (percent-encoded UTF-8). A request from a page that
  is not one of this server's own addresses (`ui.origins`, never compared
  with the request's Host header) is refused, and the custom header makes a
  browser ask first (CORS preflight) in any case. Past the per-client and
  per-server limits (`ui.quota`) it gets 429 and a message saying when to
  try again. The body is read up to the per-file limit and no further (413
  past it); the file is checked and kept by the server's `ui.seeds_folder.SeedsFolder`
  (no look through the whole seeds folder), then the live index is asked to
  look at the seeds in a background thread. The reply is JSON
  `{"ok": bool, "message": "one line"}`, and never holds a path on the server.
- Gradio routes this page does not use are closed with 404: its upload
  routes (`/gradio_api/upload`, which answers with the absolute path of a
  temporary file, its progress, and `/gradio_api/process_recording`, which
  takes a recording and sends it back), file and proxy serving, media
  streams, component server functions, run history, the editor ("vibe")
  and reload routes, deep links and monitoring (`CLOSED`).
- API calls (`/gradio_api/call/NAME`, `/gradio_api/run/NAME`, `/gradio_api/queue/join`)
  with too many values get a 422 naming the parameters; too few are padded
  with nulls, which the handlers read as "the default" or answer with a clear
  error (Gradio itself would reply `{"error": null}`).

An upload goes into the caller's own workspace (`access.workspace(scope)`,
`ui.access`): on a server with logins, the signed-in user's collection
(401 without a sign-in); without logins, the server's one workspace. Does not
authenticate anyone itself: `ui.accounts` does, when logins are on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import anyio

from rag.readers.limits import limits, size_text
from ui.access import Access, Denied, OneWorkspace
from ui.origins import Origins
from ui.quota import Quota
from ui.uploads import UploadError

log = logging.getLogger(__name__)

UPLOAD_PATH = "/rag/upload"
STALL_SECONDS = 30.0  # an upload whose body stops arriving for this long is refused and its slot freed
UPLOAD_OFF = ("Adding documents from the page is off on this server; copy them into its seeds folder, or start it "
              "with `rag serve --allow-upload`.")
FOREIGN = ("Documents can be added only from this server's own page; a server reached under another address "
           "needs that address in RAG_ORIGINS when it starts (e.g. RAG_ORIGINS=https://docs.example.org).")
_API_CALL = re.compile(r"/gradio_api/(?:call|run)/(?P<name>[\w-]+)/?$")
# Gradio routes the page and the `/ask` API never call (checked against gradio/routes.py of Gradio 6).
CLOSED = re.compile(r"/gradio_api/(?:upload|upload_progress|process_recording|file=|file/|proxy=|stream/"
                    r"|component_server|run-history/|runs\b|vibe-|undo-vibe-edit|dev/reload|deep_link|mcp\b)"
                    r"|/monitoring\b")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _reply(send: Send, status: int, data: dict[str, Any], *, retry_after: int = 0) -> None:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store")]
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Stalled(Exception):
    """The client sent nothing for STALL_SECONDS in the middle of an upload."""


async def _read(receive: Receive, limit: int, stall: float | None = None) -> bytes | None:
    """The request body, or None as soon as it passes `limit` bytes; Stalled when no part of it comes for
    `stall` seconds (so a client that stops sending does not hold an upload slot)."""
    chunks, size = [], 0
    while True:
        try:
            with anyio.fail_after(stall if stall is not None else STALL_SECONDS):
                message = await receive()
        except TimeoutError:
            raise Stalled from None
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class Guard:
    """The middleware; `workspace` is a `ui.workspace.Workspace` (or `access` a `ui.access.Access` that finds
    the caller's), `arity(api_name or fn_index)` the parameter names of an API endpoint (None for one it does
    not check)."""

    def __init__(self, app: Any, *, workspace: Any = None, arity: Callable[[Any], list[str] | None],
                 origins: Origins, quota: Quota | None = None, access: Access | None = None):
        self.app, self.arity, self.origins = app, arity, origins
        self.access: Access = access if access is not None else OneWorkspace(workspace)
        self.quota = quota if quota is not None else Quota()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if path.endswith(UPLOAD_PATH):
            await self.upload(scope, receive, send) if method == "POST" else await _reply(
                send, 405, {"ok": False, "message": "Send the document with POST."})
            return
        if CLOSED.search(path):
            await _reply(send, 404, {"error": "Not found: this server takes documents only through its document "
                                     "panel, and answers through its page and the /ask API."})
            return
        if method == "POST" and (_API_CALL.search(path) or path.endswith("/gradio_api/queue/join")):
            await self.api_call(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            workspace = self.access.workspace(scope)
        except Denied as err:
            await _reply(send, err.status, {"ok": False, "message": err.message})
            return
        if not workspace.upload:
            await _reply(send, 403, {"ok": False, "message": UPLOAD_OFF})
            return
        origin = _header(scope, b"origin")
        if origin is not None and not self.origins.allows(origin):
            await _reply(send, 403, {"ok": False, "message": FOREIGN})
            return
        raw_name = _header(scope, b"x-file-name")
        if raw_name is None:
            await _reply(send, 400, {"ok": False, "message": "Name the file in the X-File-Name header "
                                     "(percent-encoded UTF-8), e.g. X-File-Name: report.pdf."})
            return
        lim = limits()
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > lim.max_file_bytes:
            too_big = f"{size_text(int(declared))}; the limit is {size_text(lim.max_file_bytes)} a file"
            await _reply(send, 413, {"ok": False, "message": f"That file is {too_big} (RAG_MAX_FILE_MB on the server)."})
            return
        client = (scope.get("client") or ("",))[0] or ""
        refusal = self.quota.take(client)
        if refusal is not None:
            await _reply(send, 429, {"ok": False, "message": refusal[0]}, retry_after=refusal[1])
            return
        try:
            await self._receive_and_keep(workspace, scope, receive, send, lim)
        finally:
            self.quota.done()

    async def _receive_and_keep(self, workspace: Any, scope: Scope, receive: Receive, send: Send, lim: Any) -> None:
        name = unquote(_header(scope, b"x-file-name") or "", encoding="utf-8", errors="replace")
        try:
            data = await _read(receive, lim.max_file_bytes)
        except Stalled:
            await _reply(send, 408, {"ok": False, "message": f"The upload stopped: nothing arrived for {STALL_SECONDS:.0f} "
                                     "seconds. Try again."})
            return
        if data is None:
            await _reply(send, 413, {"ok": False, "message": f"That file is over the {size_text(lim.max_file_bytes)} "
                                     "limit a file (RAG_MAX_FILE_MB on the server)."})
            return
        try:
            folder = workspace.seeds_folder()
            saved = await anyio.to_thread.run_sync(folder.save, name, data, lim)
        except UploadError as err:
            await _reply(send, 422, {"ok": False, "message": str(err)})
            return
        except Exception:
            log.exception("keeping an upload failed")
            await _reply(send, 500, {"ok": False, "message": "The document could not be kept; try again, or copy it "
                                     "into the seeds folder."})
            return
        workspace.look_soon()  # in the background: a look at the seeds reads the whole folder
        await _reply(send, 200, {"ok": True, "source": saved.source, "message": f"Added {saved.source} "
                                 f"({size_text(saved.size)}); it is being indexed and appears in the list when ready."})

    async def api_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read(receive, 8 * 1024 * 1024)
        except Stalled:
            await _reply(send, 408, {"error": f"The request stopped: nothing arrived for {STALL_SECONDS:.0f} seconds."})
            return
        if body is None:
            await _reply(send, 413, {"error": "The request is too large for a question."})
            return
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            match = _API_CALL.search(scope.get("path", ""))
            names = self.arity(match.group("name") if match else data.get("fn_index"))
            if names is not None:
                values = data["data"]
                if len(values) > len(names):
                    await _reply(send, 422, {"error": f"This endpoint takes {len(names)} values "
                                             f"({', '.join(names)}), got {len(values)}; send "
                                             '{"data": [' + ", ".join(names) + "]}."})
                    return
                if len(values) < len(names):
                    data["data"] = values + [None] * (len(names) - len(values))
                    body = json.dumps(data).encode("utf-8")
        await self.app(_with_length(scope, len(body)), _replay(body), send)


def _with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    return receive


__all__ = ["CLOSED", "FOREIGN", "UPLOAD_OFF", "UPLOAD_PATH", "Guard"]
