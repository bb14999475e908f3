"""The shared collection of a server with logins: documents every user may read and none may change.

    shared = SharedFolder(Path("server"))        # server/shared: the documents, managed by an admin
    shared.add(Path("handbook.pdf"))              # copied in; a taken name is refused, never overwritten
    shared.remove("handbook.pdf")                 # moved to server/shared/.removed/, never deleted
    shared.mirror_into(Path("server/users/ana"))  # ana's seeds/shared/ made to hold the same files

Each user's collection holds the shared documents under `seeds/shared/`
(hard links where the file system allows, else copies), so they are
searched and quoted with the user's own documents and cited as
`shared/NAME`. The page and the API remove only `uploads/…`, so a user
cannot remove or replace them. The mirror records what it put there
(`shared-mirror.json` beside the user's seeds) and removes only files it
recorded, so a file someone else put in `seeds/shared/` stays.

Does not index anything (each user's live index picks the files up, as it
does uploads) and does not decide who is an admin (`rag users add --admin`
and the `rag users shared` commands do).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from rag.errors import IngestError, InputError
from rag.readers.seedfiles import find_sources

RECORD = "shared-mirror.json"


class SharedFolder:
    """`folder/shared`: the documents every user of the server may read."""

    def __init__(self, server: str | Path):
        self.root = Path(server) / "shared"

    def names(self) -> list[str]:
        """The shared documents, as paths relative to the shared folder."""
        if not self.root.is_dir():
            return []
        try:
            found = find_sources(self.root)
        except IngestError:  # no documents in it
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in found)

    def signature(self) -> tuple[tuple[str, int, int], ...]:
        """Names, sizes and modification times: changes when a shared document does."""
        out = []
        for name in self.names():
            stat = (self.root / name).stat()
            out.append((name, stat.st_size, stat.st_mtime_ns))
        return tuple(out)

    def add(self, path: Path) -> str:
        """Copy `path` into the shared folder under its own name; InputError if that name is taken."""
        if not path.is_file():
            raise InputError(f"No file {str(path)!r}; give the path of a document to share.")
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / path.name
        if target.exists():
            raise InputError(f"A shared document is already named {path.name!r}; remove it first "
                             f"(`rag users shared remove {path.name}`) or rename the new one.")
        temporary = self.root / f".{path.name}.adding"
        shutil.copy2(path, temporary)
        try:
            os.link(temporary, target)  # fails if the name was taken meanwhile: nothing is overwritten
        finally:
            temporary.unlink()
        return path.name

    def remove(self, name: str) -> Path:
        """Move shared document `name` to `.removed/` (kept, not deleted); InputError if there is none."""
        if name not in self.names():
            raise InputError(f"No shared document {name!r}; see `rag users shared list`.")
        removed = self.root / ".removed"
        removed.mkdir(exist_ok=True)
        target = removed / Path(name).name
        n = 1
        while target.exists():
            n += 1
            target = removed / f"{Path(name).stem} ({n}){Path(name).suffix}"
        (self.root / name).rename(target)
        return target

    def mirror_into(self, collection: Path) -> bool:
        """Make `collection/seeds/shared/` hold the shared documents; True when anything changed."""
        seeds = collection / "seeds" / "shared"
        record_path = collection / RECORD
        try:
            made = set(json.loads(record_path.read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            made = set()
        recorded = set(made)
        wanted = {name: (self.root / name) for name in self.names()}
        changed = False
        for name in sorted(made - set(wanted)):  # only what the mirror itself put there
            target = seeds / name
            if target.is_file():
                target.unlink()
                changed = True
        for name, source in wanted.items():
            target = seeds / name
            if target.exists() and name not in made:
                continue  # a file the mirror did not make: left as it is
            if target.exists() and _same(source, target):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.mirror")
            temporary.unlink(missing_ok=True)
            try:
                os.link(source, temporary)
            except OSError:
                shutil.copy2(source, temporary)
            os.replace(temporary, target)
            made.add(name)
            changed = True
        made &= set(wanted)
        if made != recorded:
            record_path.write_text(json.dumps(sorted(made)), "utf-8")
        return changed


def _same(a: Path, b: Path) -> bool:
    first, second = a.stat(), b.stat()
    return (first.st_ino == second.st_ino and first.st_dev == second.st_dev) or (
        first.st_size == second.st_size and first.st_mtime_ns == second.st_mtime_ns)


__all__ = ["RECORD", "SharedFolder"]
