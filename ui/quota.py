"""How many uploads the server takes: per client and in all, a minute at a time, and at once.

    quota = Quota()
    refusal = quota.take("192.0.2.7")   # None: go ahead (call quota.done() when finished); else (message, seconds)
    ...
    quota.done()

There are no accounts, and the browser key (`ui.browserkey`) is the same for
every visitor, so a client is its network address; behind a proxy every
visitor shares one and the per-client limit is the server's. The page sends
the files of one drop one after another, so a person adding a folder of
documents meets the per-minute limit only past PER_CLIENT_PER_MINUTE files,
and is told to wait a minute for the rest. Does not look at what is uploaded
(`ui.uploads`, `ui.seeds_folder`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

PER_CLIENT_PER_MINUTE = 30
PER_MINUTE = 120  # all clients together
AT_ONCE = 4  # uploads being received or written at the same time (each holds up to RAG_MAX_FILE_MB in memory)
WINDOW = 60.0


class Quota:
    """A sliding minute of upload times per client and in all, and a count of uploads in progress."""

    def __init__(self, *, per_client: int | None = None, per_minute: int | None = None, at_once: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.per_client = per_client if per_client is not None else PER_CLIENT_PER_MINUTE
        self.per_minute = per_minute if per_minute is not None else PER_MINUTE
        self.at_once = at_once if at_once is not None else AT_ONCE
        self.clock = clock
        self._lock = threading.Lock()
        self._all: deque[float] = deque()
        self._by_client: dict[str, deque[float]] = {}
        self._running = 0

    def take(self, client: str) -> tuple[str, int] | None:
        """Count one upload from `client` now; None when it may go ahead (then call `done()`), else why not and
        the seconds to wait."""
        now = self.clock()
        with self._lock:
            self._forget(now)
            mine = self._by_client.get(client, deque())
            if self._running >= self.at_once:
                return (f"The server is taking {self.at_once} documents at once already; add this one again in a "
                        "moment.", 5)
            if len(mine) >= self.per_client:
                return (f"Too many documents added from your address in the last minute ({self.per_client} at "
                        "most); wait a minute and add the rest, or copy them into the server's seeds folder.",
                        int(WINDOW))
            if len(self._all) >= self.per_minute:
                return (f"Too many documents added to this server in the last minute ({self.per_minute} at most); "
                        "wait a minute and add this one again.", int(WINDOW))
            mine.append(now)
            self._by_client[client] = mine
            self._all.append(now)
            self._running += 1
            return None

    def done(self) -> None:
        """An upload `take` let through has finished, kept or refused."""
        with self._lock:
            self._running = max(0, self._running - 1)

    def _forget(self, now: float) -> None:
        """Drop times older than the window (holding the lock); clients with none left are forgotten."""
        while self._all and now - self._all[0] >= WINDOW:
            self._all.popleft()
        for client in [c for c, times in self._by_client.items() if not times or now - times[-1] >= WINDOW]:
            del self._by_client[client]
        for times in self._by_client.values():
            while times and now - times[0] >= WINDOW:
                times.popleft()


__all__ = ["AT_ONCE", "PER_CLIENT_PER_MINUTE", "PER_MINUTE", "Quota"]
