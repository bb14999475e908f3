"""Which files of an index folder a build may remove: those of the generations its journal names.

Every file a build writes is named after its generation, an id made fresh for
that build ("passages-20260101120000-1a2b3c4d.jsonl", see `names`). Before a
build creates the first of them it records the id in the folder's
journal.json, with the id of the generation the manifest names then (which the
new one replaces). `settle` removes the files of every journaled generation the
manifest does not name now, then drops the journal: after a build that ended,
well or not, only the manifest's generation is left; after one killed
outright, the next build removes what it left. A file the build did not
name (a user's "documents-2024.txt", debris an older version left) is never
among them, so it is never removed.

Does not decide which folder a build may write into (`rag.storage.lock`) nor write
data files (`rag.storage.index_folder`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from rag.errors import IndexStateError
from rag.storage.manifest import raw_manifest

JOURNAL = "journal.json"
FAMILY = "rag-index"  # how every `rag.storage.index_folder.FORMAT` begins
KIND = f"{FAMILY} journal"  # so `rag.readers.seedfiles` leaves a folder holding a journal out, as one holding a manifest
GENERATION = re.compile(r"[0-9]{14}-[0-9a-f]{8}")
DATA_FILES = ("passages", "passage_rows", "vectors", "passage_vectors", "sentences", "tokens", "token_scales",
              "token_offsets", "bm25", "documents")
SPOOLS = ("passages", "context-tokens", "context-scales")  # rows `rag.build.rowwriter` holds until the last document
_SUFFIXES = {"passages": ".jsonl", "vectors": ".faiss", "bm25": "", "documents": ".jsonl"}


def data_names(gen: str) -> dict[str, str]:
    """The name of each data file of generation `gen`, by kind ("bm25" is a folder)."""
    return {kind: f"{kind}-{gen}{_SUFFIXES.get(kind, '.npy')}" for kind in DATA_FILES}


def spool_names(tokens: str) -> list[str]:
    """The spool files kept beside the token file named `tokens` while it is written."""
    return [f"{tokens}.{kind}" for kind in SPOOLS]


def temporary_manifest(gen: str) -> str:
    """The name generation `gen`'s manifest has until it replaces manifest.json."""
    return f".manifest-{gen}.json"


def names(gen: str) -> list[str]:
    """Every name a build of generation `gen` may give a file or folder in the index folder."""
    data = data_names(gen)
    return [*data.values(), *spool_names(data["tokens"]), temporary_manifest(gen)]


def generation_of(files: Any) -> str | None:
    """The generation whose data files `files` (a manifest's "files") are, or None when they are not all named
    as a build names them (an index from a version that named them otherwise)."""
    if not isinstance(files, dict) or not isinstance(files.get("passages"), str):
        return None
    found = re.fullmatch(r"passages-(.+)\.jsonl", files["passages"])
    gen = found.group(1) if found else ""
    expected = data_names(gen)
    if not GENERATION.fullmatch(gen) or any(expected.get(kind) != name for kind, name in files.items()):
        return None
    return gen


def is_data_name(name: str) -> bool:
    """Whether `name` is named as a build names a data file (whoever made it)."""
    kind, _, rest = name.partition("-")
    gen = rest[:23]  # 14 digits, "-", 8 hex digits
    return kind in DATA_FILES and GENERATION.fullmatch(gen) is not None and data_names(gen)[kind] == name


def journaled(index_dir: Path) -> list[str] | None:
    """The generations the folder's journal names; None when it has none a build wrote."""
    path = index_dir / JOURNAL
    try:
        data = json.loads(path.read_text("utf-8")) if path.is_file() and not path.is_symlink() else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != KIND or not isinstance(data.get("generations"), list):
        return None
    return [g for g in data["generations"] if isinstance(g, str) and GENERATION.fullmatch(g)]


def record(index_dir: Path, gen: str) -> None:
    """Journal generation `gen`, and the one the manifest names now, before `gen`'s first file is made."""
    earlier = journaled(index_dir)
    if earlier is None and os.path.lexists(index_dir / JOURNAL):
        raise IndexStateError(f"Index folder {index_dir} holds a {JOURNAL} the build did not write; move it out "
                              "of the folder, or pass --index DIR, a new or empty folder.")
    live = generation_of(raw_manifest(index_dir).get("files"))
    _write(index_dir, [*(earlier or []), gen, *([live] if live else [])])


def settle(index_dir: Path) -> None:
    """Remove the files of every journaled generation the manifest does not name; the journal goes with them
    (or keeps the generations whose files could not all be removed, for the next build)."""
    gens = journaled(index_dir)
    if gens is None:
        return
    live = generation_of(raw_manifest(index_dir).get("files"))
    left = []
    for gen in dict.fromkeys(gens):
        if gen != live and not _remove(index_dir, gen):
            left.append(gen)
    if left:
        _write(index_dir, left)
    else:
        (index_dir / JOURNAL).unlink(missing_ok=True)


def _remove(index_dir: Path, gen: str) -> bool:
    """Remove generation `gen`'s files; whether none is left."""
    for name in names(gen):
        path = index_dir / name
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    return not any(os.path.lexists(index_dir / name) for name in names(gen))


def _write(index_dir: Path, gens: list[str]) -> None:
    """Replace the journal with one naming `gens`, on disk before this returns."""
    path, new = index_dir / JOURNAL, index_dir / f".{JOURNAL}.new"
    with open(new, "w", encoding="utf-8") as out:
        json.dump({"format": KIND, "generations": list(dict.fromkeys(gens))}, out)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(new, path)
    folder = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename too, before the generation's files are made
    finally:
        os.close(folder)


__all__ = ["DATA_FILES", "FAMILY", "JOURNAL", "KIND", "data_names", "generation_of", "is_data_name", "journaled", "names", "record",
           "settle", "spool_names", "temporary_manifest"]
