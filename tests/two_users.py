"""Two users' documents and passwords for the isolation tests (`tests/ui/test_isolation*.py`).

Ana's words in SECRET_WORDS appear in no question, so finding one in Bob's reply is a leak.
`two_user_server(folder)` serves both with logins (hash embedder) and stops it afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

ANA_DOC = ("Zebra Ledger\n\nThe zebra marmalade recipe needs eleven quinces and one jar of wildflower honey, "
           "stirred for forty minutes over a low flame until it turns amber. Keep the copper pot covered.\n")
BOB_DOC = ("Glacier Log\n\nThe glacier station recorded a tundra blizzard with winds of ninety knots, and the "
           "weather balloon drifted north past the ridge before dawn.\n")
ANA_PDF_LINE = "Saffron orchards bloom on the plateau in late autumn every year"
SECRET_WORDS = ("wildflower", "forty minutes", "copper pot", "amber", "Saffron")  # ana's, not in any question
PASSWORD = {"ana": "ana-passphrase-1", "bob": "bob-passphrase-2"}
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id, cheap: these passwords guard nothing


@contextlib.contextmanager
def two_user_server(folder: Path, **options: Any) -> Iterator[tuple[str, Any, Any]]:
    """A server with logins for ana and bob in `folder`; yields its URL, its Logins and its Users."""
    from rag.service.users import Users
    from ui.server import start_logins

    users = Users(folder, hasher=FAST)
    for name, password in PASSWORD.items():
        users.add(name, password)
    demo, url, logins = start_logins(users, host="127.0.0.1", port=None, model="hash-embedder", poll_seconds=3600,
                                     **options)
    try:
        yield url, logins, users
    finally:
        demo.close()
        logins.collections.close()
