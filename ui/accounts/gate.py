"""The middleware in front of every route of a server with logins: sign-in page, sign-out, 401 for the rest.

- `GET /login`: a plain HTML form (no scripts, fonts or styles from elsewhere).
  `POST /login` (form fields `name`, `password`) signs in: a session cookie
  `rag-session` (HttpOnly, SameSite=Lax, Secure behind https) and a redirect to
  the page; a wrong name or password gets the form again (401), too many
  failures a wait (429 with Retry-After). A sign-in posted from a page of
  another site is refused (403).
- `POST /logout` ends the session and goes back to the form; posted from a
  page of another site it is refused (403), and `GET /logout` gets 405, so
  no other site can sign a user out with a link or an image.
- Any other route (but Gradio's `startup-events`, which tells nothing) needs a session or an API key: without one, the page
  (`GET /`) redirects to the form and everything else gets 401 with JSON
  `{"error": {"code": "unauthenticated", "message": ...}}`.
- Gradio's event stream (`/gradio_api/queue/data?session_hash=…`) belongs to
  the user who first read it: another user asking for it gets 403 (a session
  hash is random, but it is the page's only claim to its results).
- The page's configuration (`GET /` and `/config`) carries the signed-in
  user's own browser-storage key in place of `KEY_PLACEHOLDER`
  (`ui.accounts.collections`), so each user's page encrypts with its own key.

Does not check passwords or keys itself (`ui.accounts.logins`), and lets
each route decide what a signed-in user may see (`access.workspace`).
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from ui.access import Denied
from ui.accounts.logins import COOKIE, SIGN_IN, Logins, address, header
from ui.origins import Origins

KEY_PLACEHOLDER = "rag-user-key-" + secrets.token_hex(16)  # replaced in each user's page by that user's key
PUBLIC = ("/gradio_api/startup-events",)  # Gradio's launch calls it once; it returns true or false, nothing else
MAX_FORM = 4096
MAX_STREAMS = 100_000  # event streams whose reader is remembered (the oldest are forgotten first)
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title>
<style>
body {{ font-family: ui-sans-serif, system-ui, sans-serif; display: flex; justify-content: center;
       margin-top: 12vh; color: #1f2937; }}
form {{ display: flex; flex-direction: column; gap: .6rem; width: min(22rem, 90vw); }}
input {{ font: inherit; padding: .5rem; border: 1px solid #9ca3af; border-radius: .4rem; }}
button {{ font: inherit; padding: .55rem; border: 0; border-radius: .4rem; background: #ea580c; color: white; }}
p.message {{ color: #b91c1c; margin: 0; }}
</style></head>
<body><form method="post" action="login">
<h1>Sign in</h1>
{message}
<label for="name">Name</label><input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>
"""


def login_page(message: str = "") -> bytes:
    shown = f'<p class="message" role="alert">{html.escape(message)}</p>' if message else ""
    return FORM.format(message=shown).encode("utf-8")


async def _send(send: Send, status: int, body: bytes, content_type: str, *,
                headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _form(receive: Receive) -> dict[str, str] | None:
    """The urlencoded form of a POST, or None when it is larger than MAX_FORM."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > MAX_FORM:
            return None
        if not message.get("more_body"):
            break
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}


def _cookie(scope: Scope, value: str, max_age: int) -> bytes:
    secure = scope.get("scheme") == "https" or (header(scope, "x-forwarded-proto") or "").lower() == "https"
    return (f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"
            + ("; Secure" if secure else "")).encode("latin-1")


class Gate:
    """The middleware; `logins` a `ui.accounts.logins.Logins`, `origins` the pages that may post the sign-in form."""

    def __init__(self, app: Any, *, logins: Logins, origins: Origins):
        self.app, self.logins, self.origins = app, logins, origins
        self._streams: OrderedDict[str, str] = OrderedDict()  # Gradio session hash -> the user reading its events
        self._lock = threading.Lock()

    def _owns_stream(self, scope: Scope, user: str) -> bool:
        """Whether `user` may read the event stream the request names (the first user to read one owns it)."""
        fields = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session = (fields.get("session_hash") or [""])[0]
        if not session:
            return True  # Gradio refuses it itself
        with self._lock:
            owner = self._streams.setdefault(session, user)
            self._streams.move_to_end(session)
            while len(self._streams) > MAX_STREAMS:
                self._streams.popitem(last=False)
        return owner == user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        method = scope.get("method", "GET")
        if scope["type"] == "http" and path.rstrip("/") == "/login":
            await (self.sign_in(scope, receive, send) if method == "POST" else
                   _send(send, 200, login_page(), "text/html; charset=utf-8"))
            return
        if scope["type"] == "http" and path.rstrip("/") == "/logout":
            await self.sign_out(scope, send)
            return
        if path in PUBLIC:
            await self.app(scope, receive, send)
            return
        user = self.logins.user(scope)
        if user is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401})
            elif method == "GET" and path in ("", "/"):
                await _send(send, 303, b"", "text/plain", headers=[(b"location", b"login")])
            else:
                body = json.dumps({"error": {"code": "unauthenticated", "message": SIGN_IN}}).encode("utf-8")
                await _send(send, 401, body, "application/json", headers=[(b"www-authenticate", b"Bearer")])
            return
        if path.endswith("/gradio_api/queue/data") and not self._owns_stream(scope, user):
            refusal = {"error": {"code": "forbidden", "message": "That event stream is another user's."}}
            await _send(send, 403, json.dumps(refusal).encode("utf-8"), "application/json")
            return
        if scope["type"] == "http" and method == "GET" and path.rstrip("/") in ("", "/config"):
            await self.app(scope, receive, _with_key(send, self.logins.collections.browser_key(user)))
            return
        await self.app(scope, receive, send)

    def _foreign(self, scope: Scope) -> bool:
        """Whether the request was posted from a page of another site (its Origin header says so)."""
        origin = header(scope, "origin")
        return origin is not None and origin != "null" and not self.origins.allows(origin)

    async def sign_out(self, scope: Scope, send: Send) -> None:
        if scope.get("method", "GET") != "POST":
            refusal = {"error": {"code": "method_not_allowed", "message": "Sign out with the page's Sign out button "
                                 "(POST /logout)."}}
            await _send(send, 405, json.dumps(refusal).encode("utf-8"), "application/json",
                        headers=[(b"allow", b"POST")])
            return
        if self._foreign(scope):
            await _send(send, 403, login_page("Sign out from this server's own page."), "text/html; charset=utf-8")
            return
        self.logins.sign_out(scope)
        await _send(send, 303, b"", "text/plain", headers=[(b"location", b"login"),
                                                          (b"set-cookie", _cookie(scope, "", 0))])

    async def sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._foreign(scope):
            await _send(send, 403, login_page("Sign in from this server's own page."), "text/html; charset=utf-8")
            return
        form = await _form(receive)
        if form is None:
            await _send(send, 413, login_page("That form is too large."), "text/html; charset=utf-8")
            return
        try:
            token = self.logins.sign_in(form.get("name", ""), form.get("password", ""), address=address(scope))
        except Denied as err:
            wait = self.logins.retry_after(form.get("name", ""), address(scope))
            extra = [(b"retry-after", str(wait).encode())] if err.status == 429 else []
            await _send(send, err.status, login_page(err.message), "text/html; charset=utf-8", headers=extra)
            return
        await _send(send, 303, b"", "text/plain", headers=[
            (b"location", b"./"), (b"set-cookie", _cookie(scope, token, int(self.logins.sessions.lifetime)))])


def _with_key(send: Send, key: str) -> Send:
    """`send`, with the response body gathered and KEY_PLACEHOLDER in it replaced by `key`."""
    start: dict[str, Any] = {}
    parts: list[bytes] = []

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        parts.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = b"".join(parts).replace(KEY_PLACEHOLDER.encode("ascii"), key.encode("ascii"))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return sending


__all__ = ["KEY_PLACEHOLDER", "Gate", "login_page"]
