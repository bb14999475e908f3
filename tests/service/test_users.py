"""The users store (`rag.service.users`) and `rag users ...`: hashed passwords, API keys, revocation, bad input."""

from __future__ import annotations

import io
import json

import pytest
from argon2 import PasswordHasher

from rag.cli import main
from rag.errors import InputError, RagError
from rag.service.users import FORMAT, Users

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id, cheap for tests


@pytest.fixture
def users(tmp_path):
    return Users(tmp_path / "server", hasher=FAST)


def test_the_default_hash_is_argon2id_with_rfc_9106s_low_memory_profile(tmp_path):
    users = Users(tmp_path)
    users.add("ana", "correct horse battery")
    stored = json.loads(users.path.read_text("utf-8"))["users"]["ana"]["password"]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_passwords_are_kept_as_argon2_hashes_and_checked(users):
    users.add("ana", "correct horse battery")
    raw = users.path.read_text("utf-8")
    assert "correct horse battery" not in raw and "$argon2id$" in raw
    assert users.path.stat().st_mode & 0o077 == 0
    assert users.check_password("ana", "correct horse battery")
    assert not users.check_password("ana", "correct horse battery ")
    assert not users.check_password("nobody", "correct horse battery")
    assert not users.check_password("ana", None)  # type: ignore[arg-type]
    users.set_password("ana", "a new passphrase")
    assert users.check_password("ana", "a new passphrase") and not users.check_password("ana", "correct horse battery")


def test_api_keys_are_shown_once_kept_as_a_hash_and_revocable(users):
    users.add("ana", "passphrase-1")
    users.add("bob", "passphrase-2")
    key = users.add_key("ana", "laptop")
    other = users.add_key("bob")
    assert key.startswith("rag_") and key not in users.path.read_text("utf-8")
    assert users.by_key(key) == "ana" and users.by_key(other) == "bob"
    key_id = key.split("_")[1]
    assert [k["id"] for k in users.get("ana").keys] == [key_id] and "sha256" not in users.get("ana").keys[0]
    forged = f"rag_{key_id}_{'x' * 32}"
    for bad in (forged, key + "x", key[:-1], "", "rag__", "Bearer " + key, other.replace(other.split("_")[1], key_id)):
        assert users.by_key(bad) is None, bad
    users.revoke_key("ana", key_id)
    assert users.by_key(key) is None and users.by_key(other) == "bob"
    with pytest.raises(InputError, match="no key"):
        users.revoke_key("ana", key_id)


@pytest.mark.parametrize("name", ["", "Ana", "../ana", "a/b", "ana ", ".hidden", "x" * 33, "ä"])
def test_names_that_could_not_name_a_folder_are_refused(users, name):
    with pytest.raises(InputError, match="not allowed"):
        users.add(name, "long enough password")
    assert not users.path.exists()


def test_bad_changes_are_one_line_errors(users):
    with pytest.raises(InputError, match="at least 8"):
        users.add("ana", "short")
    users.add("ana", "long enough")
    with pytest.raises(InputError, match="exists already"):
        users.add("ana", "long enough")
    for change in (lambda: users.remove("bob"), lambda: users.add_key("bob"), lambda: users.set_password("bob", "x" * 9)):
        with pytest.raises(InputError, match="No user 'bob'"):
            change()


def test_removing_a_user_keeps_its_collection_files(users):
    users.add("ana", "long enough")
    folder = users.collection("ana")
    folder.mkdir(parents=True)
    (folder / "note.txt").write_text("mine")
    users.remove("ana")
    assert users.names() == [] and (folder / "note.txt").read_text() == "mine"


def test_a_users_file_the_program_did_not_make_is_never_overwritten(tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    for content in ('{"ana": "plain"}', "not json", json.dumps({"format": "other", "users": {}})):
        (folder / "users.json").write_text(content)
        with pytest.raises(RagError, match="not a users file this program wrote"):
            Users(folder, hasher=FAST).add("ana", "long enough")
        assert (folder / "users.json").read_text() == content


def test_a_change_made_by_another_process_is_seen(tmp_path):
    first, second = Users(tmp_path, hasher=FAST), Users(tmp_path, hasher=FAST)
    first.add("ana", "long enough")
    assert second.names() == ["ana"]
    key = second.add_key("ana")
    assert first.by_key(key) == "ana"
    assert json.loads((tmp_path / "users.json").read_text())["format"] == FORMAT


def test_cli_users_add_list_key_revoke_remove(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "server"
    monkeypatch.setattr("sys.stdin", io.StringIO("piped passphrase\n"))
    assert main(["users", "--users", str(folder), "add", "ana", "--admin"]) == 0
    assert capsys.readouterr().out.startswith("Added ana (admin)")
    assert Users(folder).check_password("ana", "piped passphrase") and Users(folder).get("ana").admin
    assert main(["users", "--users", str(folder), "key", "add", "ana", "--label", "laptop"]) == 0
    key = capsys.readouterr().out.strip()
    assert Users(folder).by_key(key) == "ana"
    assert main(["users", "--users", str(folder), "list"]) == 0
    assert capsys.readouterr().out.strip() == f"ana  admin  keys: {key.split('_')[1]} (laptop)"
    assert main(["users", "--users", str(folder), "key", "revoke", "ana", key.split("_")[1]]) == 0
    assert Users(folder).by_key(key) is None
    assert main(["users", "--users", str(folder), "remove", "ana"]) == 0
    assert Users(folder).names() == []


@pytest.mark.parametrize(("argv", "stdin", "expected"), [
    (["add", "Bad Name"], "long enough\n", "not allowed"),
    (["add", "ana"], "\n", "No password on stdin"),
    (["add", "ana"], "short\n", "at least 8"),
    (["remove", "nobody"], "", "No user 'nobody'"),
    (["key", "revoke", "nobody", "1234"], "", "No user 'nobody'"),
])
def test_cli_mistakes_are_one_line_errors(tmp_path, capsys, monkeypatch, argv, stdin, expected):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["users", "--users", str(tmp_path / "server"), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: ") and expected in err and len(err.strip().splitlines()) == 1
