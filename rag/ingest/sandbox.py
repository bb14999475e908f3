"""Read and draw documents in a worker process with memory and time limits, so one bad file costs only that worker.

    extracted = read_file(path, data)       # Extracted, or FormatError with the reason to show
    png, width, height, mark = render_page(data, page=3, boxes=boxes, width=900, max_pixels=2_000_000)

A PDF, Word file or web page is parsed by `python -m rag.ingest.sandbox_worker`, a
separate process started with `subprocess` (never forked from this one, which
may hold model threads). Before each file the worker caps its address space
at $RAG_READ_MEMORY_MB (default 2048) and its processor time at
$RAG_READ_SECONDS (default 60) plus $RAG_READ_SECONDS_PER_MB (default 6)
for each megabyte of the file, so an honest large file still gets its time; this process also stops
waiting after three times that (a stalled worker is killed) and reads at most
MAX_OUTPUT_FACTOR times the file's size in reply (at least MIN_OUTPUT). A
file that breaks a limit is refused with a one-line reason naming the limit
and its variable; the worker is then replaced and the next file goes on.
Workers are kept for the next file (up to MAX_WORKERS at once). While a worker
OCRs pages it reports each one (`progress(done, total)`), and each report
starts the wait afresh: OCR is limited per page (`rag.readers.ocr`), not per file.

`parse_file` also classifies the text into blocks in the worker
(`rag.ingest.parse.parse`) and returns the Document, without the character boxes
a build does not use. Plain text and Markdown are read in this process: they are decoded, never
parsed, and `rag.readers.limits` already bounds their size.

Does not decide which files to read (`rag.ingest.intake`) or check a file's own
structure (each reader in `rag.readers` does, inside the worker).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import InputError
from rag.ingest.sandbox_worker import LENGTH
from rag.readers import CharBoxes, Extracted, FormatError, kind_of, read_document

if TYPE_CHECKING:
    from rag.ingest.parse import Document

MEMORY_VARIABLE = "RAG_READ_MEMORY_MB"
SECONDS_VARIABLE = "RAG_READ_SECONDS"
PER_MB_VARIABLE = "RAG_READ_SECONDS_PER_MB"
DEFAULT_MEMORY_MB = 2048
DEFAULT_SECONDS = 60
SECONDS_PER_MB = 6  # processor time allowed per megabyte of the file, on top of the base
MAX_OUTPUT_FACTOR = 64  # reply bytes per byte of file (a PDF's text and boxes are 21 bytes a character)
MIN_OUTPUT = 64 * 2**20
MAX_WORKERS = 3
MAX_JOBS = 200  # a worker is replaced after this many files, so nothing a reader leaks accumulates
MB = 2**20
Progress = Callable[[int, int], None]


def _number(variable: str, default: float) -> float:
    raw = os.environ.get(variable, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise InputError(f"{variable}={raw!r} is not a positive number; set it to a number such as {default:g}, "
                         f"or unset it for the default ({default:g}).")
    return value


def memory_limit() -> int:
    """Bytes of address space a worker may use for one file."""
    return int(_number(MEMORY_VARIABLE, DEFAULT_MEMORY_MB) * MB)


def seconds_limit(size: int) -> float:
    """Processor seconds a worker may spend on a file of `size` bytes."""
    return _number(SECONDS_VARIABLE, DEFAULT_SECONDS) + _number(PER_MB_VARIABLE, SECONDS_PER_MB) * size / MB


class _Stopped(Exception):
    """The worker ended or was ended before replying; `reason` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Worker:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the folder holding the rag package
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "rag.ingest.sandbox_worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=root)
        self.jobs = 0
        self.usable = True

    def call(self, header: dict[str, Any], data: bytes, progress: Progress | None = None
             ) -> tuple[dict[str, Any], list[bytes]]:
        """The worker's reply to one request, or _Stopped (and the worker ended) when it broke a limit."""
        self.jobs += 1
        memory, seconds = header["memory"], header["seconds"]
        deadline = time.monotonic() + 3 * seconds + 10
        try:
            head = json.dumps(header).encode()
            for part in (head, data):
                self.proc.stdin.write(len(part).to_bytes(LENGTH, "big"))  # type: ignore[union-attr]
                self.proc.stdin.write(part)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
            budget = [header["max_output"] + 2**20]
            reply = json.loads(self._frame(deadline, budget))
            while "progress" in reply:  # a page read by OCR: its own time, then the next frame
                if progress is not None:
                    progress(*reply["progress"])
                deadline = time.monotonic() + 3 * seconds + 10
                reply = json.loads(self._frame(deadline, budget))
            blobs = [self._frame(deadline, budget) for _ in range(reply.get("blobs", 0))]
        except (BrokenPipeError, EOFError, OSError):
            raise _Stopped(self._why_ended(memory, seconds)) from None
        except TimeoutError:
            self.stop()
            raise _Stopped(f"reading it took longer than {3 * seconds + 10:.0f} s; raise {SECONDS_VARIABLE} "
                           "(seconds) to give it more time") from None
        except ValueError:  # a reply over the output limit, or malformed
            self.stop()
            raise _Stopped(f"reading it made more than {header['max_output'] // MB:,} MB of text and layout "
                           f"from a {len(data) / MB:.1f} MB file (a decompression bomb?)") from None
        if reply.get("memory"):
            self.stop()
            raise _Stopped(_memory_reason(memory))
        if "output" in reply:
            raise _Stopped(f"reading it made {reply['output'] // MB:,} MB of text and layout from a "
                           f"{len(data) / MB:.1f} MB file, over the {header['max_output'] // MB:,} MB allowed "
                           "(a decompression bomb?)")
        return reply, blobs

    def _frame(self, deadline: float, budget: list[int]) -> bytes:
        size = int.from_bytes(self._exactly(LENGTH, deadline), "big")
        if size > budget[0]:
            raise ValueError("reply over the limit")
        budget[0] -= size
        return self._exactly(size, deadline)

    def _exactly(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        parts, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(n - got, 4 * MB))
            if not chunk:
                raise EOFError
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _why_ended(self, memory: int, seconds: float) -> str:
        self.usable = False
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.stop()
            code = self.proc.returncode
        if code == -signal.SIGXCPU:
            return (f"reading it took more than {seconds:.3g} s of processor time; raise {SECONDS_VARIABLE} "
                    "(seconds) to give it more")
        if code is not None and code < 0:  # PDFium and lxml end the process when an allocation fails
            return _memory_reason(memory)
        return f"the reader stopped with exit status {code} while reading it"

    def stop(self) -> None:
        self.usable = False
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]


def _memory_reason(memory: int) -> str:
    return (f"reading it needed more than {memory // MB:,} MB of memory; raise {MEMORY_VARIABLE} (megabytes) "
            "to allow more, or split the file")


_idle: list[_Worker] = []
_idle_lock = threading.Lock()
_slots = threading.BoundedSemaphore(MAX_WORKERS)


def _request(header: dict[str, Any], data: bytes, progress: Progress | None = None
             ) -> tuple[dict[str, Any], list[bytes]]:
    """Send one request to a worker (an idle one, or a new one); FormatError with the reason when it fails."""
    header = {**header, "memory": memory_limit(), "seconds": seconds_limit(len(data)),
              "max_output": max(MIN_OUTPUT, MAX_OUTPUT_FACTOR * len(data)),
              "env": {k: v for k, v in os.environ.items() if k.startswith("RAG_")}}
    with _slots:
        with _idle_lock:
            worker = _idle.pop() if _idle else None
        if worker is None or worker.proc.poll() is not None:
            worker = _Worker()
        try:
            reply, blobs = worker.call(header, data, progress)
        except _Stopped as stopped:
            worker.stop()
            raise FormatError(stopped.reason) from None
        finally:
            if worker.usable and worker.jobs < MAX_JOBS and worker.proc.poll() is None:
                with _idle_lock:
                    _idle.append(worker)
            else:
                worker.stop()
    if not reply.get("ok"):
        raise FormatError(reply.get("reason") or "it cannot be read")
    return reply, blobs


def read_file(path: Path, data: bytes, *, progress: Progress | None = None) -> Extracted:
    """`rag.readers.read_document(path, data)`, done by a worker for every kind but plain text; `progress(done,
    total)` hears the pages read by OCR."""
    if kind_of(path, data) == "text":
        return read_document(path, data)
    reply, blobs = _request({"op": "read", "name": path.name}, data, progress)
    geometry = CharBoxes(blobs[1], blobs[2]) if len(blobs) == 3 else None
    return Extracted(blobs[0].decode("utf-8", "surrogatepass"), reply["kind"], tuple(reply["pages"]),
                     tuple(tuple(h) for h in reply["headings"]), tuple(reply["notes"]), geometry,  # type: ignore[arg-type]
                     reply.get("title"), tuple(reply.get("ocr_pages", ())))


def parse_file(path: Path, data: bytes, source: str, *, progress: Progress | None = None) -> Document:
    """`rag.ingest.parse.parse` of what `read_file` gives (as `source`, with the reader's kind, pages and notes), done by
    a worker, so the classification of a large document's text costs the worker, not this process; `progress(done,
    total)` hears the pages read by OCR."""
    from rag.ingest.parse import Block, Document, parse

    if kind_of(path, data) == "text":
        ex = read_document(path, data)
        return replace(parse(ex.text, source, ex.headings, ex.title), kind=ex.kind, pages=ex.pages, notes=ex.notes)
    reply, blobs = _request({"op": "parse", "name": path.name, "source": source}, data, progress)
    blocks = tuple(Block(*b) for b in reply["blocks"])
    return Document(source, blobs[0].decode("utf-8", "surrogatepass"), reply["title"], reply["byline"], blocks,
                    kind=reply["kind"], pages=tuple(reply["pages"]), notes=tuple(reply["notes"]))


def render_page(data: bytes, *, page: int, boxes: list[Any], width: int,
                max_pixels: int) -> tuple[bytes, int, int, tuple[int, int, int, int] | None]:
    """The PNG of page `page` (0-based) of the PDF `data`, its boxes highlighted, its pixel size, and the pixel
    rectangle (left, top, right, bottom) around the highlight, None without one (`ui.pages`)."""
    reply, blobs = _request({"op": "render", "name": "page.pdf", "page": page, "boxes": [list(b) for b in boxes],
                             "width": width, "max_pixels": max_pixels}, data)
    mark = reply.get("mark")
    return blobs[0], reply["width"], reply["height"], (tuple(int(v) for v in mark) if mark else None)  # type: ignore[return-value]


@atexit.register
def close() -> None:
    """End the idle workers (each also ends by itself when this process does: its input closes)."""
    with _idle_lock:
        workers, _idle[:] = list(_idle), []
    for worker in workers:
        worker.stop()


__all__ = ["close", "memory_limit", "parse_file", "read_file", "render_page", "seconds_limit"]
