"""An index folder's manifest: its format version, what it was built from, its data files and their checksums.

`Manifest.read` refuses, in one line saying how to rebuild, a manifest that is
missing, unreadable, of another format version, or that names files outside
the folder. Does not read the data files (`rag.storage.index_folder`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import IndexStateError

FORMAT = "rag-index v8"  # v8: 8-bit HNSW above 200k passages with exact vectors beside; v7: lazy passages, rag.storage.bm25
MANIFEST = "manifest.json"


def raw_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest's JSON as it is, whatever its format version; {} when unreadable."""
    try:
        data = json.loads((index_dir / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def rebuild_command(index_dir: Path, data: dict[str, Any]) -> str:
    """The `rag build` line that rebuilds this index from its own seeds with its own model."""
    parts = ["rag build"]
    if data.get("seeds_dir"):
        parts.append(f"--seeds {data['seeds_dir']}")
    parts.append(f"--index {index_dir}")
    if data.get("model"):
        parts.append(f"--model {data['model']}")
    return " ".join(parts)


@dataclass(frozen=True)
class Manifest:
    format: str
    model: str
    dimension: int
    chunking: dict[str, Any]
    faiss: str
    contexts: int  # token rows of passage contexts follow the sentences' (see rag.ingest.context)
    seeds_dir: str
    sources: dict[str, str]
    skipped: list[dict[str, str]]
    files: dict[str, str]
    checksums: dict[str, dict[str, Any]]  # data file (relative path) -> {"size", "sha256", "sample_sha256"}
    passages: int
    sentences: int
    # source -> [first, end) of its passages, of its sentences, of its contexts: every document's rows are contiguous
    ranges: dict[str, list[int]]
    built_at: str

    @classmethod
    def read(cls, index_dir: Path) -> Manifest:
        path = index_dir / MANIFEST
        if index_dir.exists() and not index_dir.is_dir():
            raise IndexStateError(f"Index {index_dir} is a file, not a folder; pass --index DIR, the folder "
                                  "`rag build` wrote.")
        if not path.is_file():
            raise IndexStateError(
                f"No index at {index_dir} (no {MANIFEST}); run `rag build --index {index_dir}` first."
            )
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as err:
            raise IndexStateError(f"{path} is unreadable ({err}); rebuild it with `rag build --index {index_dir}`.") from None
        if not isinstance(data, dict):
            raise IndexStateError(f"{path} is not a JSON object (it holds {type(data).__name__} "
                                  f"{json.dumps(data)[:20]}); rebuild it with `rag build --index {index_dir}`.")
        if data.get("format") != FORMAT:
            raise IndexStateError(
                f"{path} has format {data.get('format')!r}, this version reads {FORMAT!r}; rebuild it with "
                f"`{rebuild_command(index_dir, data)}`."
            )
        try:
            values = {k: data[k] for k in cls.__dataclass_fields__}
        except KeyError as err:
            raise IndexStateError(f"{path} lacks {err}; rebuild it with `rag build --index {index_dir}`.") from None
        for name, field in cls.__dataclass_fields__.items():
            kind = {"str": str, "int": int, "dict": dict, "list": list}[str(field.type).split("[")[0]]
            if not isinstance(values[name], kind):
                raise IndexStateError(f"{path} has {name!r} of type {type(values[name]).__name__}, not {kind.__name__};"
                                      f" rebuild it with `rag build --index {index_dir}`.")
        # Data files are plain names in the folder: a manifest must not send the reader elsewhere.
        if not all(isinstance(v, str) and v == Path(v).name and not v.startswith(".") for v in values["files"].values()):
            raise IndexStateError(f"{path} names data files outside {index_dir}; rebuild it with "
                                  f"`rag build --index {index_dir}`.")
        return cls(**values)
