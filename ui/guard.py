"""HTTP in front of the Gradio app: the document upload route, and clear errors where Gradio gives none.

An ASGI middleware (installed through `launch(app_kwargs={"middleware": ...})`):

- `POST …/rag/upload`: one document as the raw request body, its name in the
  `X-File-Name` header (percent-encoded UTF-8). The body is read up to the
  per-file limit and no further (413 past it); the file is checked and kept
  by `ui.uploads`, then the live index is asked to look at the seeds. The
  reply is JSON `{"ok": bool, "message": "one line"}`, and never holds a
  path on the server. A request from another site's page (its Origin is
  not this server) is refused, and the custom header makes a browser ask
  first (CORS preflight) in any case.
- `…/gradio_api/upload` (Gradio's own upload route, which answers with the
  absolute path of a temporary file and that no component here uses) is
  refused with 404.
- API calls (`/gradio_api/call/NAME`, `/gradio_api/run/NAME`, `/gradio_api/queue/join`)
  with too many values get a 422 naming the parameters; too few are padded
  with nulls, which the handlers read as "the default" or answer with a clear
  error (Gradio itself would reply `{"error": null}`).

Does not authenticate anyone: there is no login, which is why uploads are off
unless the server is bound to 127.0.0.1 or `--allow-upload` is given.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio

from rag.limits import limits, size_text

from .uploads import UploadError, save_upload

log = logging.getLogger(__name__)

UPLOAD_PATH = "/rag/upload"
UPLOAD_OFF = ("Adding documents from the page is off on this server; copy them into its seeds folder, or start it "
              "with `rag serve --allow-upload`.")
_API_CALL = re.compile(r"/gradio_api/(?:call|run)/(?P<name>[\w-]+)/?$")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _reply(send: Send, status: int, data: dict[str, Any]) -> None:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
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
    """The middleware; `workspace` is a `ui.workspace.Workspace`, `arity(api_name or fn_index)` the
    parameter names of an API endpoint (None for one it does not check)."""

    def __init__(self, app: Any, *, workspace: Any, arity: Callable[[Any], list[str] | None]):
        self.app, self.workspace, self.arity = app, workspace, arity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if path.endswith(UPLOAD_PATH):
            await self.upload(scope, receive, send) if method == "POST" else await _reply(
                send, 405, {"ok": False, "message": "Send the document with POST."})
            return
        if path.endswith("/gradio_api/upload"):
            await _reply(send, 404, {"error": "This server takes documents only through its document panel."})
            return
        if method == "POST" and (_API_CALL.search(path) or path.endswith("/gradio_api/queue/join")):
            await self.api_call(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.workspace.upload:
            await _reply(send, 403, {"ok": False, "message": UPLOAD_OFF})
            return
        origin = _header(scope, b"origin")
        if origin is not None and urlsplit(origin).netloc != (_header(scope, b"host") or ""):
            await _reply(send, 403, {"ok": False, "message": "Documents can be added only from this server's own page."})
            return
        raw_name = _header(scope, b"x-file-name")
        if raw_name is None:
            await _reply(send, 400, {"ok": False, "message": "Name the file in the X-File-Name header "
                                     "(percent-encoded UTF-8), e.g. X-File-Name: report.pdf."})
            return
        name = unquote(raw_name, encoding="utf-8", errors="replace")
        lim = limits()
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > lim.max_file_bytes:
            too_big = f"{size_text(int(declared))}; the limit is {size_text(lim.max_file_bytes)} a file"
            await _reply(send, 413, {"ok": False, "message": f"That file is {too_big} (RAG_MAX_FILE_MB on the server)."})
            return
        data = await _read(receive, lim.max_file_bytes)
        if data is None:
            await _reply(send, 413, {"ok": False, "message": f"That file is over the {size_text(lim.max_file_bytes)} "
                                     "limit a file (RAG_MAX_FILE_MB on the server)."})
            return
        try:
            seeds = self.workspace.seeds_dir()
            saved = await anyio.to_thread.run_sync(save_upload, seeds, name, data, lim)
            self.workspace.refresh()
        except UploadError as err:
            await _reply(send, 422, {"ok": False, "message": str(err)})
            return
        except Exception:
            log.exception("keeping an upload failed")
            await _reply(send, 500, {"ok": False, "message": "The document could not be kept; try again, or copy it "
                                     "into the seeds folder."})
            return
        await _reply(send, 200, {"ok": True, "source": saved.source, "message": f"Added {saved.source} "
                                 f"({size_text(saved.size)}); it is being indexed and appears in the list when ready."})

    async def api_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read(receive, 8 * 1024 * 1024)
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


__all__ = ["UPLOAD_OFF", "UPLOAD_PATH", "Guard"]
