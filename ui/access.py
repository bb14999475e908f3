"""Who is asking, and which workspace a request may see: the one seam every web route goes through.

    access = OneWorkspace(workspace)          # the local single-user server: everyone shares it
    ws = access.workspace(request)            # raises Denied (401/403) for a caller with no access
    if not access.can_change(request): ...    # uploads and removals

Every route that serves document text, page images, citations, feedback or
conversations (the page's handlers, the JSON API, the OpenAI endpoint, page
images) asks `workspace(request)` for the caller's workspace and uses nothing
else. A server with logins passes an `Access` that looks the caller up by
session cookie or API key and returns that user's own workspace.

`request` is whatever the route has: a Starlette `Request`, a `gr.Request`,
or an ASGI scope; implementations read only headers and cookies from it.
Does not authenticate by itself and stores nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

from ui.workspace import Workspace


class Denied(Exception):
    """A request the caller may not make: `status` 401 (who are you?) or 403 (not yours), with a message to show."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Access(Protocol):
    """Maps a request to the workspace its caller may use."""

    def workspace(self, request: Any) -> Workspace:
        """The caller's workspace; raises Denied when the caller has none."""
        ...

    def can_change(self, request: Any) -> bool:
        """Whether the caller may add and remove documents in that workspace."""
        ...

    def user(self, request: Any) -> str | None:
        """The caller's user name, or None on a server without logins."""
        ...


class OneWorkspace:
    """The server without logins: every caller uses the one workspace (uploads as the workspace allows)."""

    def __init__(self, workspace: Workspace):
        self.shared = workspace

    def workspace(self, request: Any) -> Workspace:
        return self.shared

    def can_change(self, request: Any) -> bool:
        return self.shared.upload

    def user(self, request: Any) -> str | None:
        return None


__all__ = ["Access", "Denied", "OneWorkspace"]
