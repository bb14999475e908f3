"""How an index is laid out in Milvus: store addresses, text in pieces, and each passage's payload.

A VARCHAR element holds at most 65,535 bytes, so texts are kept as arrays of
pieces, and binary rows (sentence vectors, int8 token rows and their scales)
as base64 pieces. A passage's payload is read back into `Layout`, the local
numbering of sentences and token rows a `rag.stores.Candidates` carries.

Does not search or upload: `rag.stores.milvus` and `rag.stores.milvus_build` do.
"""

from __future__ import annotations

import base64
import json
import logging
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexStateError, InputError
from rag.ingest.chunk import Chunk
from rag.storage.quantize import TokenMatrix
from rag.types import Citation, Passage

PIECE = 15_000  # characters per VARCHAR array element: at most 60,000 bytes of UTF-8


def parse(uri: str) -> tuple[str, str]:
    """`uri` as (what MilvusClient connects to, collection name), or InputError saying the two forms."""
    forms = "use milvus://HOST:PORT/COLLECTION or milvus-lite:PATH.db/COLLECTION"
    if uri.startswith("milvus://"):
        rest = uri[len("milvus://"):]
        host, _, name = rest.partition("/")
        if host and name and "/" not in name:
            return f"http://{host}", name
    elif uri.startswith("milvus-lite:"):
        path, _, name = uri[len("milvus-lite:"):].rpartition("/")
        if path.endswith(".db") and name:
            return str(Path(path).resolve()), name
    raise InputError(f"store {uri!r} is not a Milvus address; {forms}.")


def connect(uri: str) -> tuple[Any, str]:
    """A MilvusClient for `uri` and the collection name, or IndexStateError in one line."""
    target, name = parse(uri)
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise IndexStateError("Milvus stores need pymilvus: pip install 'rag[milvus]'.") from None
    lite = not target.startswith("http")
    quiet(lite=lite)
    if lite and not Path(target).parent.is_dir():
        raise IndexStateError(f"cannot open {uri}: folder {Path(target).parent} does not exist; create it or "
                              "name a milvus-lite file in a folder that does.")
    if lite and Path(target).exists() and not Path(target).is_dir():
        raise IndexStateError(f"cannot open {uri}: {target} is a file, not a milvus-lite store (a folder); "
                              "name another path, or move the file aside if you no longer need it.")
    LOG.cause()  # forget an earlier failure's: the one kept next is this attempt's
    try:
        return MilvusClient(uri=target, timeout=10), name
    except Exception as err:  # noqa: BLE001 - pymilvus raises many kinds; the user needs one line
        cause = LOG.cause()
        if lite and cause is not None and type(cause).__name__ == "DataDirLockedError":
            raise IndexStateError(f"cannot open {uri}: another program has it open (a `rag serve --store` "
                                  "still running?); stop it and try again.") from None
        if lite:
            reason = first_line(cause) if cause is not None else first_line(err)
            raise IndexStateError(f"cannot open the milvus-lite store {target} ({reason}); it is damaged: move "
                                  f"it aside and rebuild with `rag build --store {uri}`.") from None
        raise IndexStateError(f"cannot reach Milvus at {uri} ({first_line(err)}); "
                              "check that the server is running and the address is right.") from None


class _Log(logging.Handler):
    """What pymilvus and milvus-lite log (each failed call, with its traceback), kept instead of printed.

    The last records stay readable (`lines`, for `--verbose`); `cause()` is
    the exception the latest one carried (milvus-lite logs why it could not
    open a store, then pymilvus raises only "Open local milvus failed").
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.lines: deque[str] = deque(maxlen=200)
        self._cause: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is dropped, never printed
            return
        if record.exc_info and record.exc_info[1] is not None:
            self._cause = record.exc_info[1]

    def cause(self) -> BaseException | None:
        found, self._cause = self._cause, None
        return found


LOG = _Log()


def quiet(*, lite: bool = False) -> None:
    """Send pymilvus's and milvus-lite's log records to `LOG` instead of stderr (once per process).

    pymilvus prints to stderr through console handlers of its own; those are
    replaced, other handlers a program added are kept. With `lite`, so are
    the records of the gRPC server milvus-lite runs in this process (a
    traceback for each call it does not implement, shown wherever a program
    configured logging).
    """
    for name in ("pymilvus", "pymilvus.milvus_client", "milvus_lite", *(["grpc._server"] if lite else [])):
        logger = logging.getLogger(name)
        if LOG not in logger.handlers:
            for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:
                logger.removeHandler(handler)
            logger.addHandler(LOG)
            logger.propagate = False


def collection_of(client: Any, name: str) -> str:
    """The collection the store `name` stands for: the one alias `name` points at, or (a store uploaded
    before uploads swapped aliases) the collection called `name` itself. Its documents are in `…_docs`."""
    try:
        return str(client.describe_alias(name)["collection_name"])
    except Exception:  # noqa: BLE001 - "alias does not exist" is a MilvusException like any other
        return name


def first_line(err: BaseException) -> str:
    text = str(getattr(err, "message", "") or err).strip().splitlines()
    return text[0][:200] if text else ""


def pieces(text: str) -> list[str]:
    return [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]


def packed(arrays: list[np.ndarray]) -> list[str]:
    """Arrays as base64 pieces (their shapes and types are in the passage record)."""
    return pieces(base64.b64encode(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).decode("ascii"))


def code_words(words: list[str], codes: dict[str, int]) -> str:
    """Search tokens as code words Milvus's standard analyser keeps whole ("t12 t7")."""
    return " ".join(f"t{codes[w]}" for w in words if w in codes)


def chunk_of(row: dict[str, Any]) -> Chunk:
    r = json.loads("".join(row["record"]))
    return Chunk(Passage(r["id"], r["text"], Citation(**r["citation"])), tuple((s, e) for s, e in r["sentences"]),
                 r["search_text"])


class Layout:
    """The candidates' sentence vectors and token rows laid out in one local numbering.

    Per passage: a slot for the sentence before it (its token rows, when in the
    same paragraph; no rows otherwise), then its own sentences; the contexts'
    rows follow every passage's, each context once.
    """

    def __init__(self, width: int):
        self.width = width
        self.first: dict[int, int] = {}
        self.vectors: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.scales: list[np.ndarray] = []
        self.lengths: list[int] = []  # token rows per sentence slot
        self.context: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.context_of: dict[int, int] = {}

    def add(self, i: int, record: dict[str, Any], row: dict[str, Any]) -> None:
        data = base64.b64decode("".join(row["payload"]))
        n, d, prev, ctx = len(record["sentences"]), self.width, record["prev"], record["ctx"]
        lengths = np.diff(np.asarray(record["tokens"], dtype=np.int64))
        total = prev + int(lengths.sum())
        at = 0

        def take(count: int, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
            nonlocal at
            size = count * np.dtype(dtype).itemsize
            out = np.frombuffer(data, dtype=dtype, count=count, offset=at).reshape(shape)
            at += size
            return out

        self.vectors.append(np.zeros((1, d), np.float32))
        self.vectors.append(take(n * d, np.float32, (n, d)))
        self.first[i] = len(self.lengths) + 1
        self.values.append(take(total * d, np.int8, (total, d)))
        self.scales.append(take(total, np.float32, (total,)))
        self.lengths += [prev, *lengths.tolist()]
        context = int(row["context"])
        self.context_of[i] = context
        if context not in self.context:
            self.context[context] = (take(ctx * d, np.int8, (ctx, d)), take(ctx, np.float32, (ctx,)))

    def finish(self, order: list[int]) -> tuple[np.ndarray, TokenMatrix, np.ndarray, np.ndarray]:
        """Sentence vectors, the token matrix, token offsets and each candidate's context slot."""
        slots = {c: len(self.lengths) + n for n, c in enumerate(self.context)}
        lengths = self.lengths + [len(v) for v, _ in self.context.values()]
        values = self.values + [v for v, _ in self.context.values()]
        scales = self.scales + [s for _, s in self.context.values()]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        matrix = TokenMatrix(np.concatenate(values), np.concatenate(scales))
        contexts = np.array([slots[self.context_of[i]] for i in order], dtype=np.int64)
        return np.concatenate(self.vectors), matrix, offsets, contexts
