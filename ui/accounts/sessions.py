"""Sign-in sessions that expire, and failed sign-ins slowed down per name and per address.

    sessions = Sessions(idle=8 * 3600, lifetime=24 * 3600)
    token = sessions.start("ana")     # the cookie's value: 256 random bits
    sessions.user(token)              # "ana", or None once idle too long, too old or ended
    sessions.end(token)

    throttle = Throttle()
    throttle.wait(["name:ana", "addr:10.0.0.7"])   # seconds to wait before the next try (0: go ahead)
    throttle.failed([...]); throttle.succeeded(["name:ana"])

Both take a `clock` (seconds, monotonic) so tests can move time without
sleeping. Sessions live in memory: a restarted server asks everyone to sign
in again. Does not check passwords (`rag.service.users`) or read requests.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable

IDLE_SECONDS = 8 * 3600.0  # a session unused this long ends
LIFETIME_SECONDS = 7 * 24 * 3600.0  # and every session ends this long after its sign-in
FREE_FAILURES = 5  # failed sign-ins before each further one must wait
FIRST_WAIT, MAX_WAIT = 1.0, 900.0  # the wait doubles with each failure past the free ones, up to this
FORGET_SECONDS = 24 * 3600.0  # failures older than this no longer count
MAX_ENTRIES = 100_000  # sessions or throttle entries kept at most (the oldest go first)

Clock = Callable[[], float]


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Sessions:
    """Session tokens → user, each ending after `idle` seconds unused or `lifetime` seconds in all."""

    def __init__(self, *, idle: float = IDLE_SECONDS, lifetime: float = LIFETIME_SECONDS, clock: Clock = time.monotonic):
        self.idle, self.lifetime, self.clock = idle, lifetime, clock
        self._lock = threading.Lock()
        self._by_key: dict[str, tuple[str, float, float]] = {}  # sha256(token) -> (user, started, last used)

    def start(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            if len(self._by_key) >= MAX_ENTRIES:
                oldest = min(self._by_key, key=lambda k: self._by_key[k][2])
                del self._by_key[oldest]
            self._by_key[_key(token)] = (user, now, now)
        return token

    def user(self, token: str | None) -> str | None:
        """The user signed in with `token`, or None (no such session, or it expired: then it is ended)."""
        if not token:
            return None
        key, now = _key(token), self.clock()
        with self._lock:
            found = self._by_key.get(key)
            if found is None:
                return None
            user, started, used = found
            if now - used > self.idle or now - started > self.lifetime:
                del self._by_key[key]
                return None
            self._by_key[key] = (user, started, now)
            return user

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._by_key.pop(_key(token), None)

    def end_user(self, user: str) -> None:
        """End every session of `user` (e.g. removed, or its password changed)."""
        with self._lock:
            for key in [k for k, v in self._by_key.items() if v[0] == user]:
                del self._by_key[key]


class Throttle:
    """Failed attempts per key; past `free` of them, each further try waits twice as long as the one before."""

    def __init__(self, *, free: int = FREE_FAILURES, first: float = FIRST_WAIT, most: float = MAX_WAIT,
                 clock: Clock = time.monotonic):
        self.free, self.first, self.most, self.clock = free, first, most, clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last one)

    def _delay(self, failures: int) -> float:
        return 0.0 if failures < self.free else min(self.most, self.first * 2 ** (failures - self.free))

    def wait(self, keys: Iterable[str]) -> float:
        """Seconds until any of `keys` may try again (0: now)."""
        now, longest = self.clock(), 0.0
        with self._lock:
            for key in keys:
                failures, last = self._failures.get(key, (0, 0.0))
                if failures and now - last > FORGET_SECONDS:
                    self._failures.pop(key, None)
                    continue
                longest = max(longest, last + self._delay(failures) - now)
        return max(0.0, longest)

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                failures, _ = self._failures.get(key, (0, 0.0))
                if key not in self._failures and len(self._failures) >= MAX_ENTRIES:
                    oldest = min(self._failures, key=lambda k: self._failures[k][1])
                    del self._failures[oldest]
                self._failures[key] = (failures + 1, now)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


__all__ = ["Sessions", "Throttle"]
