"""The worker process that reads and draws documents for `rag.ingest.sandbox`: run as `python -m rag.ingest.sandbox_worker`.

It answers requests on stdin with replies on stdout, one at a time, until
stdin closes. A message is frames: 8 bytes of big-endian length, then that
many bytes; a request is a JSON header frame and a data frame (the file's
bytes), a reply a JSON header frame and `blobs` more frames. While a reader
OCRs pages it sends a progress frame, {"progress": [done, total]}, per page
before the reply. Before each
request the worker caps its own address space (RLIMIT_AS) and processor time
(RLIMIT_CPU, from what it has used so far), so a file that needs more ends
here, with a MemoryError reported or the process killed, never in the caller.

Does not choose the limits or decide what a failure means to the user:
`rag.ingest.sandbox` does both.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from pathlib import Path
from typing import Any, BinaryIO

LENGTH = 8


def read_frame(stream: BinaryIO, limit: int | None = None) -> bytes | None:
    """One frame's bytes, None at end of input; ValueError past `limit` bytes or on a cut-off frame."""
    head = stream.read(LENGTH)
    if not head:
        return None
    if len(head) < LENGTH:
        raise ValueError("cut-off frame")
    size = int.from_bytes(head, "big")
    if limit is not None and size > limit:
        raise ValueError(f"frame of {size:,} bytes over the {limit:,}-byte limit")
    body = stream.read(size)
    if len(body) != size:
        raise ValueError("cut-off frame")
    return body


def write_frames(stream: BinaryIO, header: dict[str, Any], *blobs: bytes) -> None:
    head = json.dumps({**header, "blobs": len(blobs)}).encode()
    for part in (head, *blobs):
        stream.write(len(part).to_bytes(LENGTH, "big"))
        stream.write(part)
    stream.flush()


def _soft(kind: int, value: int) -> None:
    """Set the soft limit of `kind` to `value`, never above the hard limit the process was started with (a user's
    `ulimit` stays in force; raising a hard limit is refused by the kernel)."""
    hard = resource.getrlimit(kind)[1]
    if hard != resource.RLIM_INFINITY and (value == resource.RLIM_INFINITY or value > hard):
        value = hard
    resource.setrlimit(kind, (value, hard))


def _limit(memory: int, seconds: float) -> None:
    """Cap the address space at `memory` bytes and processor time at `seconds` more than used so far."""
    _soft(resource.RLIMIT_AS, memory)
    used = resource.getrusage(resource.RUSAGE_SELF)
    _soft(resource.RLIMIT_CPU, int(used.ru_utime + used.ru_stime + seconds) + 1)


def _unlimit() -> None:
    _soft(resource.RLIMIT_AS, resource.RLIM_INFINITY)
    _soft(resource.RLIMIT_CPU, resource.RLIM_INFINITY)


def _handle(header: dict[str, Any], data: bytes, progress: Any) -> tuple[dict[str, Any], list[bytes]]:
    if header["op"] == "read":
        from rag.readers import read_document

        ex = read_document(Path(header["name"]), data, progress=progress)
        blobs = [ex.text.encode("utf-8", "surrogatepass")]
        if ex.geometry is not None:
            blobs += [ex.geometry.page, ex.geometry.box]
        return {"ok": True, "kind": ex.kind, "pages": ex.pages, "headings": ex.headings, "notes": ex.notes,
                "title": ex.title, "ocr_pages": ex.ocr_pages}, blobs
    if header["op"] == "parse":
        from dataclasses import astuple

        from rag.ingest.parse import parse
        from rag.readers import read_document

        ex = read_document(Path(header["name"]), data, progress=progress)
        doc = parse(ex.text, header["source"], ex.headings, ex.title)
        return {"ok": True, "kind": ex.kind, "pages": ex.pages, "notes": ex.notes, "title": doc.title,
                "byline": doc.byline, "blocks": [astuple(b) for b in doc.blocks]}, [ex.text.encode("utf-8", "surrogatepass")]
    if header["op"] == "render":
        from rag.readers.pdf_draw import draw

        boxes = [tuple(b) for b in header["boxes"]]
        image = draw(data, header["page"], boxes, header["width"], header["max_pixels"])  # type: ignore[arg-type]
        return {"ok": True, "page": image.page, "width": image.width, "height": image.height,
                "mark": list(image.mark) if image.mark else None}, [image.png]
    raise ValueError(f"unknown request {header['op']!r}")


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until `requests` ends."""
    from rag.errors import IngestError

    while True:
        raw = read_frame(requests)
        if raw is None:
            return
        header = json.loads(raw)
        data = read_frame(requests) or b""
        for key in [k for k in os.environ if k.startswith("RAG_")]:
            del os.environ[key]
        os.environ.update(header.get("env", {}))  # the caller's limits, as the readers look them up
        try:
            _limit(header["memory"], header["seconds"])
            try:
                reply, blobs = _handle(header, data, lambda done, total: write_frames(
                    replies, {"progress": [done, total]}))
            finally:
                _unlimit()
        except MemoryError:
            _unlimit()
            write_frames(replies, {"ok": False, "memory": True})
            return  # after a MemoryError the heap may be in any state: a fresh worker takes the next file
        except IngestError as err:  # FormatError included: a reason for the user
            reply, blobs = {"ok": False, "reason": getattr(err, "reason", str(err))}, []
        except RecursionError:
            reply, blobs = {"ok": False, "reason": "it is nested too deeply to read"}, []
        except Exception as err:  # noqa: BLE001 - a reader's library failed on this file: the file is skipped, the worker goes on
            reply, blobs = {"ok": False, "reason": f"it cannot be read ({type(err).__name__}: {err})"[:500]}, []
        del data
        if sum(map(len, blobs)) > header["max_output"]:
            reply, blobs = {"ok": False, "output": sum(map(len, blobs))}, []
        write_frames(replies, reply, *blobs)


def main() -> None:
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # a library that prints must not write into the replies
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
