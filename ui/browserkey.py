"""The key the page's browser storage is encrypted with, kept so a restarted server can read it again.

    secret = browser_key(Path("index"))   # the same string every time for this index folder

The conversation and the settings are stored in the browser, encrypted with a
key the server hands the page (`gr.BrowserState(secret=...)`). Gradio makes a
new random key on every start, so a restart would lose them; here the key is
made once per index folder and kept in it as `.web-chat-key`, readable by its
owner only (0600). The index folder is never part of the repository (it is
ignored), and builds leave files they did not write alone. A second index
folder gets its own key, so one workspace never shows another's conversation.

This keeps a conversation readable across restarts; it is not access control:
the page needs the key to decrypt, so anyone who can open the page receives it.
When the folder cannot hold the key (read-only, or no folder at all) a fresh
key is used for this run only, and a reload after a restart starts afresh.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

KEY_FILE = ".web-chat-key"
KEY_BYTES = 24  # 48 hex characters


def fresh_key() -> str:
    return secrets.token_hex(KEY_BYTES)


def _valid(text: str) -> bool:
    return len(text) == 2 * KEY_BYTES and all(ch in "0123456789abcdef" for ch in text)


def browser_key(folder: str | Path | None) -> str:
    """The key kept in `folder` (made there with mode 0600 the first time); a fresh one when it cannot be kept."""
    if folder is None:
        return fresh_key()
    path = Path(folder) / KEY_FILE
    try:
        key = _read(path)
        if key is not None:
            return key
        key = fresh_key()
        temporary = path.with_name(f"{KEY_FILE}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # never replaces a key another server just made
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
        return _read(path) or key
    except OSError:
        return fresh_key()


def _read(path: Path) -> str | None:
    """The key in `path`, or None when there is none; a damaged file or one others can read is replaced."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077:
        path.unlink()  # a link, or a key others could read: not to be trusted; a new one is made
        return None
    key = path.read_text("ascii", errors="replace").strip()
    if not _valid(key):
        path.unlink()
        return None
    return key


__all__ = ["KEY_FILE", "browser_key", "fresh_key"]
