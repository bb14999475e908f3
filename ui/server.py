"""Serving the web app: the address, Gradio's launch options, and the middleware in front of it.

- Binds 127.0.0.1 by default and never shares; serves no files of ours;
  loads no fonts or scripts from elsewhere; shows no tracebacks.
- Without logins, answers only requests addressed to one of its own names
  (`ui.host_check`): a DNS-rebinding page reads nothing.
- Logins (`start_logins`, `rag serve --logins`, `ui.accounts`) are off by
  default on a loopback address and required on any other: `start` refuses
  to bind one without them (`check_logins`). With logins, every user signs in
  and gets a private collection; the middleware `ui.accounts.gate.Gate` sends
  everyone else to the sign-in page (or a 401).
- Uploads (`ui.uploads`) are on by default only on a loopback address; on
  any other address only with `upload=True` (`rag serve --allow-upload`).
  They are taken only from pages of the addresses the server was started on
  (`ui.origins`: its host and port, plus `origins=` and $RAG_ORIGINS).
- Page pictures (`ui.page_route`, `GET …/rag/page`) are served to the caller
  `Access` names (`ui.access`; default: everyone shares the one workspace).
- Gradio's routes the page does not use are closed (`ui.guard.CLOSED`) and
  its size limit set anyway (`max_file_size`); API calls Gradio would answer
  with `{"error": null}` get a clear message (`ui.guard`).
- The JSON API (/api/v1: answer, search, documents) and the OpenAI-compatible
  endpoint (/v1/chat/completions, /v1/models) are served by the same server,
  in front of Gradio's routes (`ui.api`; docs/api.md). Each asks `ui.access`
  for the caller's workspace: without logins, `OneWorkspace`, the one every
  caller shares. Uploads through the API meet the page's limits, checks,
  origin rule and quota (one quota for both).
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from rag import InputError
from rag.readers.limits import limits
from ui import api
from ui.access import Access, OneWorkspace
from ui.guard import Guard
from ui.host_check import HostCheck
from ui.origins import Origins
from ui.page import CSS, HEAD
from ui.page_route import PageRoute
from ui.quota import Quota
from ui.workspace import Workspace

LOOPBACK = ("127.0.0.1", "localhost", "::1")

# System fonts only: the default theme would fetch web fonts from Google.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"])


def upload_allowed(host: str, upload: bool | None) -> bool:
    """Uploads are on for a loopback address unless turned off, elsewhere only when asked for."""
    return bool(upload) if upload is not None else host in LOOPBACK


def arity_of(demo: gr.Blocks) -> Any:
    """For `ui.guard`: the parameter names of the public API endpoint named (or numbered) so, else None."""
    def names(key: Any) -> list[str] | None:
        for number, dep in enumerate(demo.config.get("dependencies", [])):
            if dep.get("api_name") == "ask" and key in ("ask", number):
                return ["question", "k", "sources"]
        return None

    return names


def check_logins(host: str, logins: bool) -> None:
    """InputError unless the server may bind `host` with logins on or off (off only on a loopback address)."""
    if not logins and host not in LOOPBACK:
        raise InputError(f"Binding {host} needs logins, or anyone who reaches it reads every document: add a user "
                         f"with `rag users add NAME`, then run `rag serve --logins --host {host}`.")


def _launch_options(host: str, port: int, workspace: Workspace | None = None, demo: gr.Blocks | None = None,
                    origins: Origins | None = None, access: Access | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "server_name": host,
        "server_port": port,
        "share": False,  # never, whatever GRADIO_SHARE says
        "allowed_paths": None,  # serve no files of ours
        "ssr_mode": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "run_history": False,  # history stays in the page and the browser's storage
        "show_error": False,  # errors are shown as polite messages by the handlers
        "footer_links": ["api"],
        "quiet": True,
        "theme": THEME,
        "css": CSS,
        "head": HEAD,
        "max_file_size": limits().max_file_bytes,  # Gradio's upload route is closed; its limit is set all the same
    }
    if workspace is not None and demo is not None:
        quota = Quota()  # one upload quota for the page and the API
        ours = origins if origins is not None else Origins.serving(host, port)
        guard = Middleware(Guard, workspace=workspace, arity=arity_of(demo), quota=quota, origins=ours)
        who = access if access is not None else OneWorkspace(workspace)
        pictures = Middleware(PageRoute, access=who)
        hosts = Middleware(HostCheck, origins=ours)  # first: a rebinding page reads nothing (no logins here)
        options["app_kwargs"] = {"middleware": [hosts, api.middleware(who, quota), pictures, guard]}
    return options


def check_port(port: int) -> None:
    """InputError unless `port` is a TCP port a server can be asked to listen on."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"port must be 1-65535, got {port!r}; pass e.g. --port 7860.")


def _check_address(host: str, port: int) -> None:
    """Raise InputError saying what to do when the server could not bind `host`:`port`."""
    check_port(port)
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (OSError, UnicodeError):
        raise InputError(f"Cannot bind to host {host!r}: no such address; use e.g. --host 127.0.0.1.") from None
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is not "in use"
        try:
            s.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise InputError(f"Port {port} on {host} is already in use; pass another one, "
                                 f"e.g. --port {port + 1}.") from None
            raise InputError(f"Cannot bind to {host}:{port} ({err.strerror}); use e.g. --host 127.0.0.1 "
                             "and a port above 1024.") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on `host` right now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start(index: Any, *, host: str = "127.0.0.1", port: int | None = 7860, upload: bool | None = None,
          feedback_log: str | Path | None = None, origins: tuple[str, ...] = (),
          access: Access | None = None) -> tuple[gr.Blocks, str]:
    """Start serving `index` (an Index, or a LiveIndex that rebuilds) in background threads.

    Returns the app (call `.close()` to stop) and its URL. `port=None` picks a
    free port. `origins`: more pages that may add documents (e.g.
    "https://docs.example.org" for a server behind a proxy), besides the
    server's own addresses and $RAG_ORIGINS. `access` maps a request to its
    caller's workspace for the page pictures (default: `OneWorkspace`). Raises InputError (a RagError)
    when the address cannot be bound.
    """
    from ui.app import build_app

    check_logins(host, False)
    if port is None:
        port = free_port(host)
    else:
        _check_address(host, port)
    allowed = Origins.serving(host, port, origins)
    workspace = Workspace(index, upload=upload_allowed(host, upload), feedback_log=feedback_log, origins=allowed)
    if workspace.upload:
        workspace.seeds_folder()  # counts the seeds folder now, not in the first upload's request
    demo = build_app(workspace)
    _, url, _ = demo.launch(prevent_thread_lock=True, **_launch_options(host, port, workspace, demo, allowed, access))
    return demo, url


def launch(index: Any, *, host: str = "127.0.0.1", port: int = 7860, upload: bool | None = None,
           feedback_log: str | Path | None = None) -> None:
    """Serve the chat for `index` until interrupted, printing its URL first."""
    demo, url = start(index, host=host, port=port, upload=upload, feedback_log=feedback_log)
    print(f"Web chat running at {url}  (Ctrl+C to stop)", flush=True)
    print(f"JSON API at {url}api/v1 (reference: {url}api/v1/docs), OpenAI-compatible at {url}v1", flush=True)
    try:
        demo.block_thread()
    finally:
        demo.close()


def start_logins(folder: str | Path | Any, *, host: str = "127.0.0.1", port: int | None = 7860, upload: bool | None = None,
                 model: str | None = None, origins: tuple[str, ...] = (), sessions: Any = None, throttle: Any = None,
                 poll_seconds: float = 2.0) -> tuple[gr.Blocks, str, Any]:
    """Start a server with logins for the users in `folder` (or a `rag.service.users.Users`), in background threads.

    Returns the app, its URL and the `ui.accounts.logins.Logins` (its `collections.close()`
    stops every user's index). Each user's collection is `folder/users/NAME`; uploads
    into it are on unless `upload=False`. `model` builds new indexes (default: the
    packaged one); `sessions` and `throttle` replace the defaults (tests pass a clock).
    Raises InputError when there is no user yet or the address cannot be bound.
    """
    from rag.service.users import Users
    from ui.accounts.collections import Collections
    from ui.accounts.gate import KEY_PLACEHOLDER, Gate
    from ui.accounts.logins import Logins
    from ui.app import build_app

    users = folder if isinstance(folder, Users) else Users(folder)
    if not users.names():
        raise InputError(f"No users in {users.folder} yet; add one with `rag users --users {users.folder} add NAME`.")
    if port is None:
        port = free_port(host)
    else:
        _check_address(host, port)
    allowed = Origins.serving(host, port, origins)
    collections = Collections(users, model=model, upload=upload is not False, origins=allowed,
                              poll_seconds=poll_seconds)
    logins = Logins(users, collections, sessions=sessions, throttle=throttle)
    demo = build_app(None, access=logins, browser_secret=KEY_PLACEHOLDER)
    options = _launch_options(host, port, None, None, allowed)
    quota = Quota()  # one upload quota for the whole server
    options["app_kwargs"] = {"middleware": [  # the gate first: nothing behind it runs for a caller not signed in
        Middleware(Gate, logins=logins, origins=allowed),
        api.middleware(logins, quota),
        Middleware(PageRoute, access=logins),
        Middleware(Guard, access=logins, arity=arity_of(demo), origins=allowed, quota=quota)]}
    options["auth_dependency"] = logins.user  # Gradio's own routes ask too, and tell handlers the user's name
    _, url, _ = demo.launch(prevent_thread_lock=True, **options)
    return demo, url, logins


def launch_logins(folder: str | Path, *, host: str = "127.0.0.1", port: int = 7860, upload: bool | None = None,
                  model: str | None = None) -> None:
    """Serve the chat with logins until interrupted, printing its URL first."""
    demo, url, logins = start_logins(folder, host=host, port=port, upload=upload, model=model)
    print(f"Web chat running at {url} with logins for the users in {folder}  (Ctrl+C to stop)", flush=True)
    print(f"JSON API at {url}api/v1 (reference: {url}api/v1/docs), OpenAI-compatible at {url}v1", flush=True)
    try:
        demo.block_thread()
    finally:
        demo.close()
        logins.collections.close()


__all__ = ["THEME", "check_logins", "check_port", "free_port", "launch", "launch_logins", "start", "start_logins",
           "upload_allowed"]
