"""`rag users add|remove|list|password` and `rag users key add|revoke`: the users of a server with logins.

    rag users add ana                 # asks for the password twice (or reads one line from a pipe)
    rag users add root --admin
    rag users key add ana --label laptop   # prints the API key once
    rag users key revoke ana 1a2b3c4d
    rag users list

The users live in `users.json` in the server folder: `--users DIR`, else
$RAG_USERS, else `rag-server/` in the current folder (`rag serve --logins`
reads the same). Does not start a server or touch any collection's files.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.service.users import Users


def users_folder(given: Path | None = None) -> Path:
    """The server folder: `given`, else $RAG_USERS, else rag-server/ in the current folder."""
    return given if given is not None else Path(os.environ.get("RAG_USERS") or "rag-server")


def read_password(prompt: str = "Password: ") -> str:
    """A password typed twice on a terminal, or the first line of stdin when it is not one."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            raise InputError("No password on stdin; pipe one line, e.g. `printf '%s\\n' \"$PW\" | rag users add ana`.")
        return line.rstrip("\r\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise InputError("The two passwords differ; run the command again.")
    return first


def add_user_commands(sub: Any) -> None:
    """Add `users` and its actions to the `rag` subparsers `sub`."""
    p = sub.add_parser("users", help="manage the users of a server with logins (rag serve --logins)")
    p.add_argument("--users", type=Path, default=None, metavar="DIR",
                   help="server folder holding users.json and each user's collection (default: $RAG_USERS or "
                   "rag-server)")
    actions = p.add_subparsers(metavar="ACTION", parser_class=type(p))
    a = actions.add_parser("add", help="add a user (password asked, or read from stdin)")
    a.add_argument("name")
    a.add_argument("--admin", action="store_true", help="the user may manage the server")
    a.set_defaults(func=cmd_add)
    a = actions.add_parser("remove", help="remove a user (the files of its collection are kept)")
    a.add_argument("name")
    a.set_defaults(func=cmd_remove)
    a = actions.add_parser("list", help="list the users and the ids of their API keys")
    a.set_defaults(func=cmd_list)
    a = actions.add_parser("password", help="set a user's password")
    a.add_argument("name")
    a.set_defaults(func=cmd_password)
    key = actions.add_parser("key", help="API keys: add (printed once) or revoke")
    keys = key.add_subparsers(metavar="ACTION", parser_class=type(p))
    a = keys.add_parser("add", help="make a new API key for a user and print it (only this once)")
    a.add_argument("name")
    a.add_argument("--label", default="", help="a note to tell keys apart, e.g. laptop")
    a.set_defaults(func=cmd_key_add)
    a = keys.add_parser("revoke", help="revoke a user's API key by its id (see rag users list)")
    a.add_argument("name")
    a.add_argument("key_id")
    a.set_defaults(func=cmd_key_revoke)
    shared = actions.add_parser("shared", help="the shared collection: documents every user reads and none changes")
    docs = shared.add_subparsers(metavar="ACTION", parser_class=type(p))
    a = docs.add_parser("add", help="copy documents into the shared collection (a taken name is refused)")
    a.add_argument("files", nargs="+", type=Path)
    a.set_defaults(func=cmd_shared_add)
    a = docs.add_parser("remove", help="take a document out of the shared collection (kept in shared/.removed/)")
    a.add_argument("name")
    a.set_defaults(func=cmd_shared_remove)
    a = docs.add_parser("list", help="list the shared documents")
    a.set_defaults(func=cmd_shared_list)


def _users(args: argparse.Namespace) -> Users:
    return Users(users_folder(args.users))


def cmd_add(args: argparse.Namespace) -> int:
    users = _users(args)
    if users.get(args.name) is not None:  # before asking for a password
        raise InputError(f"User {args.name!r} exists already; see `rag users list`.")
    users.add(args.name, read_password(), admin=args.admin)
    print(f"Added {args.name}{' (admin)' if args.admin else ''} to {users.path}.")
    return 0


def cmd_password(args: argparse.Namespace) -> int:
    users = _users(args)
    if users.get(args.name) is None:
        raise InputError(f"No user {args.name!r}; see `rag users list`.")
    users.set_password(args.name, read_password("New password: "))
    print(f"Changed the password of {args.name}.")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    users = _users(args)
    users.remove(args.name)
    print(f"Removed {args.name}; the files of its collection stay in {users.collection(args.name)}.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    users = _users(args)
    names = users.names()
    if not names:
        print(f"No users in {users.folder}; add one with `rag users add NAME`.", file=sys.stderr)
    for name in names:
        user = users.get(name)
        if user is None:
            continue
        keys = ", ".join(f"{k['id']}{' (' + k['label'] + ')' if k.get('label') else ''}" for k in user.keys)
        print(f"{name}{'  admin' if user.admin else ''}  keys: {keys or 'none'}")
    return 0


def cmd_key_add(args: argparse.Namespace) -> int:
    key = _users(args).add_key(args.name, args.label)
    print(key)
    print(f"This is the only time the key is shown; revoke it with `rag users key revoke {args.name} "
          f"{key.split('_')[1]}`.", file=sys.stderr)
    return 0


def cmd_key_revoke(args: argparse.Namespace) -> int:
    _users(args).revoke_key(args.name, args.key_id)
    print(f"Revoked key {args.key_id} of {args.name}.")
    return 0


def cmd_shared_add(args: argparse.Namespace) -> int:
    from rag.service.shared import SharedFolder

    shared = SharedFolder(users_folder(args.users))
    for path in args.files:
        name = shared.add(path)
        print(f"Shared {name}: every user's collection quotes it as shared/{name} once re-indexed.")
    return 0


def cmd_shared_remove(args: argparse.Namespace) -> int:
    from rag.service.shared import SharedFolder

    kept = SharedFolder(users_folder(args.users)).remove(args.name)
    print(f"Removed {args.name} from the shared collection; the file is kept as {kept}.")
    return 0


def cmd_shared_list(args: argparse.Namespace) -> int:
    from rag.service.shared import SharedFolder

    shared = SharedFolder(users_folder(args.users))
    names = shared.names()
    if not names:
        print(f"No shared documents in {shared.root}; add some with `rag users shared add FILE`.", file=sys.stderr)
    for name in names:
        print(name)
    return 0


__all__ = ["add_user_commands", "read_password", "users_folder"]
