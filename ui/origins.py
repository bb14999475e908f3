"""Which pages may change the documents: the server's own addresses, never one the request names itself.

    origins = Origins.serving("127.0.0.1", 7860)      # http://127.0.0.1:7860, http://localhost:7860, ...
    origins.allows("http://localhost:7860")           # True
    origins.allows("http://evil.example:7860")        # False, whatever the request's Host header says

A browser names the page a request comes from in its Origin header. Comparing
it with the request's Host header is no check at all against DNS rebinding:
a page of evil.example whose name is made to point at this machine sends
`Host: evil.example` and `Origin: http://evil.example`. So the origin is
compared with the addresses the server was started on: the host and port it
binds, the loopback names when it binds a loopback or every address, the
machine's own names when it binds every address, and any origins listed in
$RAG_ORIGINS (space- or comma-separated, e.g. `https://docs.example.org` for
a server behind a proxy). On a server bound to a non-loopback address an
origin that is an IP address with the server's port is also allowed: a
rebinding page always has a name of its own, never an address.

`allows_host` applies the same names to a request's Host header: a server
without logins answers only requests addressed to one of its own names
(`ui.host_check`), so a rebinding page cannot read answers either.

Does not decide which requests need the check (`ui.guard`, `ui.host_check`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

VARIABLE = "RAG_ORIGINS"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")


def _origin(text: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin such as "http://[::1]:7860", or None when it is not one."""
    try:
        parts = urlsplit(text.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    return parts.scheme, host.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _machine_names() -> set[str]:
    """This machine's host names and the addresses they resolve to (nothing when they cannot be read)."""
    names: set[str] = set()
    try:
        hostname = socket.gethostname()
        names.add(hostname)
        names.update(socket.gethostbyname_ex(hostname)[2])
    except OSError:
        pass
    return {n.lower() for n in names if n}


def configured() -> tuple[str, ...]:
    """The origins listed in $RAG_ORIGINS."""
    return tuple(part for part in re.split(r"[\s,]+", os.environ.get(VARIABLE, "")) if part)


@dataclass(frozen=True)
class Origins:
    """The origins a page may have to add or remove documents on this server."""

    hosts: frozenset[str]  # names and addresses, any scheme, on `port`
    port: int
    extra: frozenset[tuple[str, str, int]]  # exact origins from the configuration
    any_address: bool  # an origin that is an IP address with our port is ours too

    @classmethod
    def serving(cls, host: str, port: int, extra: tuple[str, ...] = ()) -> Origins:
        host = host.lower().strip("[]")
        hosts = {host}
        if host in LOOPBACK_NAMES or host in WILDCARD or host.startswith("127."):
            hosts.update(LOOPBACK_NAMES)
        if host in WILDCARD:
            hosts.update(_machine_names())
        exact = {o for o in (_origin(text) for text in (*extra, *configured())) if o is not None}
        loopback = host in LOOPBACK_NAMES or host.startswith("127.")
        return cls(frozenset(hosts - {""}), port, frozenset(exact), any_address=not loopback)

    def allows(self, origin: str) -> bool:
        """Whether a request whose Origin header is `origin` comes from a page of this server."""
        parsed = _origin(origin)
        if parsed is None:
            return False  # "null" (a sandboxed frame, a local file) or nonsense
        if parsed in self.extra:
            return True
        _, host, port = parsed
        return port == self.port and (host in self.hosts or (self.any_address and _is_address(host)))


    def allows_host(self, host_header: str) -> bool:
        """Whether a request whose Host header is `host_header` names this server (any port: a rebinding
        page is told apart by its name, never by its port)."""
        parsed = _origin(f"http://{host_header}")
        if parsed is None:
            return False
        host = parsed[1].strip("[]")
        return (host in self.hosts or any(host == known for _, known, _ in self.extra)
                or (self.any_address and _is_address(host)))


__all__ = ["VARIABLE", "Origins", "configured"]
