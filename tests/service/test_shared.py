"""The shared collection (`rag.service.shared`, `rag users shared`): every user reads it, none changes it,
and the mirror into each user's seeds never touches a file it did not put there."""

from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher

from rag.cli import main
from rag.errors import InputError
from rag.service.shared import RECORD, SharedFolder
from rag.service.users import Users
from ui.accounts.collections import Collections
from ui.uploads import UploadError

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
HANDBOOK = "Staff Handbook\n\nThe office closes at noon on the last Friday of every month for the tidy-up.\n"


def test_adding_refuses_a_taken_name_and_removing_keeps_the_file(tmp_path):
    shared = SharedFolder(tmp_path / "server")
    (tmp_path / "handbook.txt").write_text(HANDBOOK, "utf-8")
    assert shared.add(tmp_path / "handbook.txt") == "handbook.txt"
    other = tmp_path / "other" / "handbook.txt"
    other.parent.mkdir()
    other.write_text("something else", "utf-8")
    with pytest.raises(InputError, match="already named"):
        shared.add(other)
    assert (shared.root / "handbook.txt").read_text("utf-8") == HANDBOOK
    kept = shared.remove("handbook.txt")
    assert kept.read_text("utf-8") == HANDBOOK and shared.names() == []
    with pytest.raises(InputError, match="No shared document"):
        shared.remove("handbook.txt")


def test_the_mirror_adds_updates_and_removes_only_what_it_made(tmp_path):
    shared = SharedFolder(tmp_path / "server")
    (tmp_path / "a.txt").write_text(HANDBOOK, "utf-8")
    (tmp_path / "b.txt").write_text("Second document.\n", "utf-8")
    shared.add(tmp_path / "a.txt")
    shared.add(tmp_path / "b.txt")
    user = tmp_path / "server" / "users" / "ana"
    mine = user / "seeds" / "shared" / "mine.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("put here by someone else", "utf-8")
    assert shared.mirror_into(user) is True
    assert (user / "seeds" / "shared" / "a.txt").read_text("utf-8") == HANDBOOK
    assert shared.mirror_into(user) is False  # nothing changed: nothing done
    shared.remove("a.txt")
    assert shared.mirror_into(user) is True
    assert not (user / "seeds" / "shared" / "a.txt").exists()
    assert (user / "seeds" / "shared" / "b.txt").exists()
    assert mine.read_text("utf-8") == "put here by someone else"  # never recorded, never removed
    assert "mine.txt" not in (user / RECORD).read_text("utf-8")


def test_every_user_quotes_the_shared_documents_and_none_can_remove_them(tmp_path):
    users = Users(tmp_path / "server", hasher=FAST)
    users.add("ana", "ana-passphrase")
    users.add("bob", "bob-passphrase")
    (tmp_path / "handbook.txt").write_text(HANDBOOK, "utf-8")
    assert main(["users", "--users", str(tmp_path / "server"), "shared", "add", str(tmp_path / "handbook.txt")]) == 0
    for name in ("ana", "bob"):  # each has a document of their own, so removing the shared one leaves an index
        own = users.collection(name) / "seeds" / "uploads" / f"{name}.txt"
        own.parent.mkdir(parents=True)
        own.write_text(f"Notes of {name}\n\nA list of {name}'s houseplants and when each was last watered.\n", "utf-8")
    collections = Collections(users, model="hash-embedder", poll_seconds=0.2)
    try:
        for name in ("ana", "bob"):
            ws = collections.workspace(name)
            collections.collection(name).wait(120)
            index = ws.index()
            assert sorted(index.sources) == ["shared/handbook.txt", f"uploads/{name}.txt"], name
            found = index.retrieve("When does the office close on the last Friday?", k=1)
            assert found[0].citation.source == "shared/handbook.txt"
            assert index.text_of("shared/handbook.txt")[found[0].citation.start:found[0].citation.end] == found[0].text
            with pytest.raises(UploadError, match="Only documents added from the page"):
                ws.seeds_folder().remove("shared/handbook.txt")
        assert main(["users", "--users", str(tmp_path / "server"), "shared", "remove", "handbook.txt"]) == 0
        deadline = time.monotonic() + 120
        while any("shared/handbook.txt" in collections.workspace(n).index().sources for n in ("ana", "bob")):
            assert time.monotonic() < deadline, "the shared document stayed in a user's index"
            time.sleep(0.2)
        assert [collections.workspace(n).index().sources for n in ("ana", "bob")] == [["uploads/ana.txt"],
                                                                                      ["uploads/bob.txt"]]
    finally:
        collections.close()
