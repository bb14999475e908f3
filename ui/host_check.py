"""Answer only requests addressed to this server by one of its own names (a defence against DNS rebinding).

A page of evil.example whose name is made to point at 127.0.0.1 can have the
visitor's browser send requests to the chat there; the browser then names
evil.example in the Host header. Without logins nothing else tells such a
request apart, so before any route runs, a request whose Host is not one of
the server's names (`ui.origins.Origins.allows_host`: its bound host, the
loopback names, the machine's names on 0.0.0.0, and $RAG_ORIGINS) gets 403
and a one-line reason; a WebSocket is closed. A request without a Host header
(HTTP/1.0, which no browser sends) passes.

Does not check logins, origins of uploads (`ui.guard`) or anything in the body.
"""

from __future__ import annotations

import json
from typing import Any

from ui.origins import Origins


class HostCheck:
    """ASGI middleware: 403 for a request that names another host than this server's."""

    def __init__(self, app: Any, *, origins: Origins):
        self.app, self.origins = app, origins

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
            if host is not None and not self.origins.allows_host(host):
                await self._refuse(scope, send, host)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: dict[str, Any], send: Any, host: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = (f"This server does not answer for the host {host[:100]!r}; open it by its own address, or, "
                   "behind a proxy, list the proxy's address in RAG_ORIGINS.")
        body = json.dumps({"ok": False, "error": {"code": "unknown_host", "message": message}}).encode("utf-8")
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


__all__ = ["HostCheck"]
