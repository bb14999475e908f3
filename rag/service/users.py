"""The people who may use a server with logins: names, hashed passwords, API keys, an admin flag.

    users = Users(Path("server"))              # reads server/users.json (none yet: no users)
    users.add("ana", "a long passphrase")      # argon2id hash of the password; raises InputError when taken
    key = users.add_key("ana", "laptop")       # "rag_<id>_<secret>": shown once, only its sha256 is kept
    users.check_password("ana", "...")         # True / False, never raises for a wrong name
    users.by_key(key)                          # "ana", or None for an unknown or revoked key
    users.collection("ana")                    # server/users/ana: that user's seeds, index and feedback

One JSON file, `users.json`, stamped with its format, written atomically
(a new file renamed over the old one) and re-read when another process
changed it, so `rag users add` takes effect on a running server. A
`users.json` without the stamp was not made here and is never overwritten.
Names are lower-case letters, digits, ".", "_" and "-" (they name folders).
Passwords are hashed with argon2id (`argon2-cffi`); API keys carry 192
random bits, so one sha256 of each is kept and compared in constant time.

Does not log anyone in, keep sessions or slow down guessing: `ui.accounts` does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rag.errors import InputError, RagError

FORMAT = "rag-users-1"
FILE = "users.json"
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    name: str
    admin: bool
    keys: tuple[dict[str, Any], ...]  # {"id", "label", "created"} of each API key (never the key)


def check_name(name: str) -> str:
    """`name` when it can name a user (and its folder); InputError saying what can otherwise."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InputError(f"User name {name!r} is not allowed: use 1-32 lower-case letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit (e.g. ana).")
    return name


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Users:
    """The users of the server kept in `folder` (made when the first user is added)."""

    def __init__(self, folder: str | Path, *, hasher: PasswordHasher | None = None):
        self.hasher = hasher if hasher is not None else PasswordHasher()  # argon2id, RFC 9106's low-memory profile
        self._dummy = ""  # a hash checked for an unknown name, so both take as long
        self.folder = Path(folder)
        self.path = self.folder / FILE
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}
        self._stamp: tuple[int, int] | None = None

    # --- reading -------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        """The users, re-read when the file changed since the last read (holding the lock)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._data, self._stamp = {}, None
            return self._data
        except OSError as err:
            raise RagError(f"Cannot read {self.path} ({err.strerror}); check its permissions.") from None
        stamp = (info.st_size, info.st_mtime_ns)
        if stamp != self._stamp:
            try:
                raw = json.loads(self.path.read_text("utf-8"))
            except (OSError, ValueError) as err:
                raise RagError(f"{self.path} is not a users file this program wrote ({err}); move it away "
                               "and add the users again with `rag users add NAME`.") from None
            if not isinstance(raw, dict) or raw.get("format") != FORMAT or not isinstance(raw.get("users"), dict):
                raise RagError(f"{self.path} is not a users file this program wrote (no format {FORMAT!r}); "
                               "move it away or pick another folder with --users.")
            self._data, self._stamp = raw["users"], stamp
        return self._data

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._load())

    def get(self, name: str) -> User | None:
        with self._lock:
            record = self._load().get(name)
        if not isinstance(record, dict):
            return None
        keys = tuple({k: v for k, v in key.items() if k != "sha256"} for key in record.get("keys", []))
        return User(name, bool(record.get("admin")), keys)

    def check_password(self, name: str, password: str) -> bool:
        """Whether `password` is `name`'s; as slow for an unknown name as for a known one."""
        with self._lock:
            record = self._load().get(name) if isinstance(name, str) else None
        hashed = record.get("password") if isinstance(record, dict) else None
        if not isinstance(hashed, str):
            self._dummy = self._dummy or self.hasher.hash(secrets.token_hex(8))
        try:
            ok = self.hasher.verify(hashed if isinstance(hashed, str) else self._dummy,
                                    password if isinstance(password, str) else "")
        except (VerificationError, InvalidHashError):
            return False
        return ok and isinstance(hashed, str) and isinstance(password, str)

    def by_key(self, key: str) -> str | None:
        """The user an API key belongs to; None for a malformed, unknown or revoked key."""
        parts = key.split("_") if isinstance(key, str) else []
        if len(parts) != 3 or parts[0] != "rag":
            return None
        digest = _digest(key)
        with self._lock:
            users = self._load()
        for name, record in users.items():
            for known in record.get("keys", []) if isinstance(record, dict) else []:
                if known.get("id") == parts[1] and hmac.compare_digest(str(known.get("sha256", "")), digest):
                    return str(name)
        return None

    def collection(self, name: str) -> Path:
        """The folder of `name`'s private collection (`seeds/`, `index/`, `feedback.jsonl`)."""
        return self.folder / "users" / check_name(name)

    # --- changing ------------------------------------------------------

    def add(self, name: str, password: str, *, admin: bool = False) -> User:
        check_name(name)
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise InputError(f"The password must have at least {MIN_PASSWORD} characters; pick a longer one.")
        with self._lock:
            users = dict(self._load())
            if name in users:
                raise InputError(f"User {name!r} exists already; remove it first (rag users remove {name}) or pick "
                                 "another name.")
            users[name] = {"password": self.hasher.hash(password), "admin": bool(admin), "keys": [],
                           "created": int(time.time())}
            self._write(users)
        return User(name, bool(admin), ())

    def set_password(self, name: str, password: str) -> None:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise InputError(f"The password must have at least {MIN_PASSWORD} characters; pick a longer one.")
        with self._lock:
            users = dict(self._load())
            self._known(users, name)["password"] = self.hasher.hash(password)
            self._write(users)

    def remove(self, name: str) -> None:
        """Forget `name` (its sign-ins and keys stop working); its collection's files are left where they are."""
        with self._lock:
            users = dict(self._load())
            self._known(users, name)
            del users[name]
            self._write(users)

    def add_key(self, name: str, label: str = "") -> str:
        """A new API key for `name`; the only time it is shown (only its sha256 is kept)."""
        key_id = secrets.token_hex(4)
        key = f"rag_{key_id}_{secrets.token_urlsafe(24).replace('_', '-')}"
        with self._lock:
            users = dict(self._load())
            record = self._known(users, name)
            record["keys"] = [*record.get("keys", []), {"id": key_id, "label": str(label)[:80],
                                                        "created": int(time.time()), "sha256": _digest(key)}]
            self._write(users)
        return key

    def revoke_key(self, name: str, key_id: str) -> None:
        """Revoke `name`'s key with id `key_id` (the part after "rag_", as `rag users list` shows)."""
        with self._lock:
            users = dict(self._load())
            record = self._known(users, name)
            keys = record.get("keys", [])
            kept = [k for k in keys if k.get("id") != key_id]
            if len(kept) == len(keys):
                ids = ", ".join(str(k.get("id")) for k in keys) or "none"
                raise InputError(f"User {name!r} has no key {key_id!r} (its keys: {ids}); see `rag users list`.")
            record["keys"] = kept
            self._write(users)

    def _known(self, users: dict[str, Any], name: str) -> dict[str, Any]:
        record = users.get(name)
        if not isinstance(record, dict):
            raise InputError(f"No user {name!r}; see `rag users list`.")
        users[name] = record = dict(record)
        return record

    def _write(self, users: dict[str, Any]) -> None:
        """Replace users.json with `users`, atomically and readable by its owner only (holding the lock)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f".{FILE}.{secrets.token_hex(4)}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"format": FORMAT, "users": users}, handle, indent=1, sort_keys=True)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self.path)
            finally:
                temporary.unlink(missing_ok=True)
        except OSError as err:
            raise RagError(f"Cannot write {self.path} ({err.strerror}); check the folder's permissions.") from None
        self._data, self._stamp = users, None  # re-read once: the stamp of the file just written


__all__ = ["FILE", "FORMAT", "User", "Users", "check_name"]
