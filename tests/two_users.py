"""Two users' documents and passwords for the isolation tests (`tests/ui/test_isolation*.py`).

Ana's words in SECRET_WORDS appear in no question, so finding one in Bob's reply is a leak.
"""

from __future__ import annotations

from argon2 import PasswordHasher

ANA_DOC = ("Zebra Ledger\n\nThe zebra marmalade recipe needs eleven quinces and one jar of wildflower honey, "
           "stirred for forty minutes over a low flame until it turns amber. Keep the copper pot covered.\n")
BOB_DOC = ("Glacier Log\n\nThe glacier station recorded a tundra blizzard with winds of ninety knots, and the "
           "weather balloon drifted north past the ridge before dawn.\n")
ANA_PDF_LINE = "Saffron orchards bloom on the plateau in late autumn every year"
SECRET_WORDS = ("wildflower", "forty minutes", "copper pot", "amber", "Saffron")  # ana's, not in any question
PASSWORD = {"ana": "ana-passphrase-1", "bob": "bob-passphrase-2"}
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id, cheap: these passwords guard nothing
