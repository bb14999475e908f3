"""`Logins`: the `ui.access.Access` of a server with logins; finds the caller by session cookie or API key.

    logins = Logins(Users(folder), collections)
    logins.user(request)        # "ana" (cookie `rag-session`, or `Authorization: Bearer rag_…`), or None
    logins.workspace(request)   # ana's own Workspace; Denied(401) when nobody is signed in
    token = logins.sign_in("ana", "passphrase", address="10.0.0.7")   # Denied(401 or 429) when refused

`request` is a Starlette `Request`, a `gr.Request` or an ASGI scope: only
its headers are read. A user removed with `rag users remove` is signed out
at their next request; a revoked key stops working at once. Failed sign-ins
are slowed down per name and per address (`ui.accounts.sessions.Throttle`);
API keys carry 192 random bits, so guessing one is not throttled.

Does not serve the sign-in page (`ui.accounts.gate`) or keep collections
(`ui.accounts.collections`).
"""

from __future__ import annotations

import math
from http.cookies import CookieError, SimpleCookie
from typing import Any

from rag.service.users import Users
from ui.access import Denied
from ui.accounts.collections import Collections
from ui.accounts.sessions import Sessions, Throttle
from ui.workspace import Workspace

COOKIE = "rag-session"
SIGN_IN = ("Sign in first: open this server's page to sign in, or send the header "
           "`Authorization: Bearer <API key>` (make a key with `rag users key add NAME`).")


def header(request: Any, name: str) -> str | None:
    """The value of header `name` (lower case) of a Starlette/Gradio request or an ASGI scope; None if absent."""
    if isinstance(request, dict):
        wanted = name.encode("latin-1")
        for key, value in request.get("headers", []):
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except Exception:  # noqa: BLE001 - a request without readable headers carries no credentials
        return None
    return value if isinstance(value, str) else None


def cookie(request: Any, name: str = COOKIE) -> str | None:
    raw = header(request, "cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def bearer(request: Any) -> str | None:
    raw = header(request, "authorization")
    if not raw:
        return None
    scheme, _, value = raw.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def address(request: Any) -> str:
    client = request.get("client") if isinstance(request, dict) else getattr(request, "client", None)
    host = getattr(client, "host", None) if client is not None and not isinstance(client, tuple | list) else (
        client[0] if client else None)
    return str(host or "")


class Logins:
    """Who is calling (session or API key), and that user's own collection."""

    def __init__(self, users: Users, collections: Collections, *, sessions: Sessions | None = None,
                 throttle: Throttle | None = None):
        self.users, self.collections = users, collections
        self.sessions = sessions if sessions is not None else Sessions()
        self.throttle = throttle if throttle is not None else Throttle()

    # --- ui.access.Access ----------------------------------------------

    def user(self, request: Any) -> str | None:
        key = bearer(request)
        if key is not None:
            return self.users.by_key(key)
        token = cookie(request)
        name = self.sessions.user(token)
        if name is not None and self.users.get(name) is None:  # removed since signing in
            self.sessions.end_user(name)
            return None
        return name

    def workspace(self, request: Any) -> Workspace:
        name = self.user(request)
        if name is None:
            raise Denied(401, "unauthenticated", SIGN_IN)
        return self.collections.workspace(name)

    def can_change(self, request: Any) -> bool:
        return self.workspace(request).upload

    # --- signing in and out --------------------------------------------

    def _keys(self, name: Any, address: str) -> tuple[str, list[str]]:
        name = name.strip().lower() if isinstance(name, str) else ""
        return name, [f"name:{name}", f"addr:{address}"]

    def retry_after(self, name: Any, address: str = "") -> int:
        """Whole seconds until `name` may try to sign in again from `address` (0: now)."""
        return math.ceil(self.throttle.wait(self._keys(name, address)[1]))

    def sign_in(self, name: str, password: str, *, address: str = "") -> str:
        """A new session token for `name`; Denied(429) while throttled, Denied(401) for a wrong name or password."""
        name, keys = self._keys(name, address)
        wait = self.throttle.wait(keys)
        if wait > 0:
            raise Denied(429, "throttled", f"Too many failed sign-ins; try again in {math.ceil(wait)} s.")
        if not name or not self.users.check_password(name, password):
            self.throttle.failed(keys)
            raise Denied(401, "wrong_password", "Wrong name or password.")
        self.throttle.succeeded([f"name:{name}"])
        return self.sessions.start(name)

    def sign_out(self, request: Any) -> None:
        self.sessions.end(cookie(request))

    def browser_key(self, request: Any) -> str | None:
        name = self.user(request)
        return self.collections.browser_key(name) if name is not None else None


__all__ = ["COOKIE", "SIGN_IN", "Logins", "address", "bearer", "cookie", "header"]
