"""The JSON API's routes under /api/v1: answer, search, and the documents (list, add, remove).

    POST   /api/v1/answer               {question, k, sources, history} -> dataclasses.asdict(rag.Answer)
    POST   /api/v1/search               {question, k, sources}          -> {question, passages}
    GET    /api/v1/documents                                            -> {documents, status, skipped, can_change}
    POST   /api/v1/documents            multipart, one file in "file"   -> 201 {source, message}
    DELETE /api/v1/documents/{source}                                   -> {source, message}

Every route takes the caller's workspace from `access.workspace(request)`
and nothing else; adding and removing ask `access.can_change(request)`
first. An upload meets the page's rules: the same per-file and corpus
limits, name cleaning, content checks and never-replace naming (the
workspace's one `ui.seeds_folder.SeedsFolder`), the same per-client quota
(`ui.quota`, shared with the page when the server passes it), and the same
origin check (`ui.origins`), so a page of another site cannot add or
remove documents through a visitor's browser. Removing moves the file to
uploads/.removed/, as the page does. Does not render HTML, and adds no
route Gradio serves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, cast

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from rag.readers.limits import limits, size_text
from ui.access import Access
from ui.api.errors import ApiError
from ui.api.schemas import (
    ERRORS,
    AnswerOut,
    AnswerRequest,
    ChangedOut,
    DocumentsOut,
    SearchOut,
    SearchRequest,
)
from ui.chat import _filter, answer_of
from ui.guard import FOREIGN, Stalled, _read, _replay
from ui.quota import Quota
from ui.uploads import UPLOADS, UploadError, removable
from ui.workspace import Workspace

MULTIPART_SLACK = 64 * 1024  # the multipart framing around the file: boundaries, headers, the form field's name
READ_ONLY = ("Adding and removing documents is off here; copy them into the server's seeds folder, or start it with "
             "`rag serve --allow-upload` (a server with logins: ask its admin).")
NO_FILE = ("Send the document as multipart/form-data in a field named \"file\", e.g. "
           "curl -F file=@report.pdf http://127.0.0.1:7860/api/v1/documents.")


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"cache-control": "no-store"})


def _may_change(access: Access, request: Request) -> Workspace:
    """The caller's workspace when it may add and remove documents from where the request comes; else ApiError."""
    ws = access.workspace(request)
    if not access.can_change(request) or ws.seeds_dir() is None:
        raise ApiError(403, "read_only", READ_ONLY)
    origin = request.headers.get("origin")
    if origin is not None and ws.origins is not None and not ws.origins.allows(origin):
        raise ApiError(403, "foreign_origin", FOREIGN)
    return ws


def _sources(index: Any, sources: list[str] | None) -> list[str] | None:
    """`sources` for the library (None: all documents); ApiError for an empty list, which would search nothing."""
    if sources is not None and not sources:
        raise ApiError(422, "no_sources", "sources is an empty list; name at least one document (GET "
                       "/api/v1/documents lists them), or leave sources out to search them all.")
    return _filter(index, sources)


def document_json(info: Any, *, can_change: bool) -> dict[str, Any]:
    return {"source": info.source, "title": info.title, "kind": info.kind, "pages": info.pages,
            "words": info.words, "passages": info.passages,
            "sections": [{"section": s, "passages": n} for s, n in info.sections],
            "removable": can_change and removable(info.source)}


def router(access: Access, quota: Quota) -> APIRouter:
    """The /api/v1 routes, each asking `access` for the caller's workspace."""
    api = APIRouter(prefix="/api/v1", responses=ERRORS)

    @api.post("/answer", response_model=None, responses={200: {"model": AnswerOut}}, summary="Answer a question")
    def answer(body: AnswerRequest, request: Request) -> JSONResponse:
        """Verbatim quotes from the documents, each cited to its exact characters (and page), or an abstention
        saying the documents do not answer. `history` holds the earlier questions for follow-ups."""
        ws = access.workspace(request)
        index = ws.index()  # one index for the whole answer, even if a rebuild swaps it meanwhile
        result = ws.advise(answer_of(index, body.question, body.k, _sources(index, body.sources), body.history))
        return _json(dataclasses.asdict(result))

    @api.post("/search", response_model=None, responses={200: {"model": SearchOut}}, summary="Search passages")
    def search(body: SearchRequest, request: Request) -> JSONResponse:
        """The `k` passages that best match the question, best first, each with its citation and score."""
        index = access.workspace(request).index()
        found = index.retrieve(body.question, body.k, sources=_sources(index, body.sources))
        return _json({"question": body.question, "passages": [dataclasses.asdict(p) for p in found]})

    @api.get("/documents", response_model=None, responses={200: {"model": DocumentsOut}}, summary="List documents")
    def documents(request: Request) -> JSONResponse:
        """Every document the index serves (title, kind, size, sections), and what is being indexed."""
        ws = access.workspace(request)
        index = ws.index()
        can_change = bool(access.can_change(request)) and ws.seeds_dir() is not None
        status = ws.status()
        return _json({"documents": [document_json(i, can_change=can_change) for i in ws.documents(index)],
                      "status": {"state": status.state, "done": status.done, "total": status.total,
                                 "stage": status.stage, "message": status.message, "version": status.version,
                                 "pending": list(status.pending)},
                      "skipped": ws.skipped(index), "can_change": can_change})

    @api.post("/documents", response_model=None, status_code=201, summary="Add a document",
              responses={201: {"model": ChangedOut}, 408: ERRORS[400] | {"description": "The upload stopped"},
                         413: ERRORS[400] | {"description": "Over the per-file limit"},
                         429: ERRORS[400] | {"description": "Too many uploads; see Retry-After"}},
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["file"],
                  "properties": {"file": {"type": "string", "format": "binary"}}}}}}})
    async def add(request: Request) -> JSONResponse:
        """Add one document (.pdf .docx .html .htm .txt .md, or a .png .jpg .jpeg .tif .tiff picture read by OCR)
        under uploads/; it is indexed in the background and listed once ready. Never replaces a file: a taken name becomes "name (2).ext"."""
        ws = _may_change(access, request)
        lim = limits()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > lim.max_file_bytes + MULTIPART_SLACK:
            raise ApiError(413, "too_large", f"That file is {size_text(int(declared))}; the limit is "
                           f"{size_text(lim.max_file_bytes)} a file (RAG_MAX_FILE_MB on the server).")
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise ApiError(415, "unsupported_media_type", NO_FILE)
        refusal = quota.take(request.client.host if request.client else "")
        if refusal is not None:
            raise ApiError(429, "too_many_uploads", refusal[0], retry_after=refusal[1])
        try:
            name, data = await _received_file(request, lim.max_file_bytes)
            saved = await anyio.to_thread.run_sync(ws.seeds_folder().save, name, data, lim)
        except UploadError as err:
            raise ApiError(422, "upload_refused", str(err)) from None
        finally:
            quota.done()
        ws.look_soon()  # in the background: a look at the seeds reads the whole folder
        return _json({"source": saved.source, "message": f"Added {saved.source} ({size_text(saved.size)}); it is "
                      "being indexed and is listed by GET /api/v1/documents when ready."}, 201)

    @api.delete("/documents/{source:path}", response_model=None, summary="Remove a document",
                responses={200: {"model": ChangedOut}, 404: ERRORS[400] | {"description": "No such document"}})
    def remove(source: str, request: Request) -> JSONResponse:
        """Remove a document added through the page or the API: it moves to uploads/.removed/ (kept, never
        indexed), as the page's Remove does. Documents outside uploads/ cannot be removed here."""
        ws = _may_change(access, request)
        if not removable(source):
            raise ApiError(403, "not_removable", f"Only documents added through the page or the API (in {UPLOADS}/) "
                           f"can be removed; {source[:80]!r} is not one.")
        seeds = ws.seeds_dir()
        path = Path(seeds) / source if seeds is not None else None
        if path is None or path.is_symlink() or not path.is_file():
            raise ApiError(404, "not_found", f"No document {source[:80]!r}; list them with GET /api/v1/documents.")
        try:
            ws.seeds_folder().remove(source)
        except UploadError as err:
            raise ApiError(422, "remove_refused", str(err)) from None
        ws.look_soon()
        return _json({"source": source, "message": f"Removed {source} (moved to {UPLOADS}/.removed/); the index "
                      "is being updated."})

    return api


async def _received_file(request: Request, max_bytes: int) -> tuple[str, bytes]:
    """The one file of a multipart body: (its name, its bytes); the body is read no further than the limit."""
    try:
        body = await _read(cast(Any, request.receive), max_bytes + MULTIPART_SLACK)
    except Stalled:
        raise ApiError(408, "timeout", "The upload stopped: nothing arrived for 30 seconds. Try again.") from None
    if body is None:
        raise ApiError(413, "too_large", f"That file is over the {size_text(max_bytes)} limit a file "
                       "(RAG_MAX_FILE_MB on the server).")
    try:
        form = await Request(request.scope, cast(Any, _replay(body))).form(max_files=1, max_fields=8)
    except Exception:  # noqa: BLE001 - malformed multipart framing, too many parts: the client's to fix
        raise ApiError(400, "bad_multipart", NO_FILE) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "no_file", NO_FILE)
        data = await upload.read()
        if len(data) > max_bytes:
            raise ApiError(413, "too_large", f"That file is {size_text(len(data))}; the limit is "
                           f"{size_text(max_bytes)} a file (RAG_MAX_FILE_MB on the server).")
        return upload.filename or "", data
    finally:
        await form.close()


__all__ = ["MULTIPART_SLACK", "document_json", "router"]
