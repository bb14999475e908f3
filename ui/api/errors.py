"""Every refusal of the JSON API as `{"error": {"code": "...", "message": "one line"}}` with its status.

    raise ApiError(404, "not_found", "No document uploads/x.txt; list them with GET /api/v1/documents.")

`install(app)` makes FastAPI's own refusals take that shape too: a body that
is not JSON or has the wrong types (400), a value out of range (422), an
unknown route (404) or method (405), a refusal from `ui.access` (401/403),
a library `InputError` (422), and anything unexpected (500, logged here,
never a traceback to the client).

Does not decide who may do what (`ui.access`) or check uploads (`ui.uploads`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag.errors import RagError
from ui.access import Denied

log = logging.getLogger(__name__)

FAILED = "Something went wrong on the server; try again, and if it keeps failing tell whoever runs it."
# pydantic error types that mean "not the shape asked for" (400) rather than "a value out of range" (422)
_SHAPE = ("json_invalid", "missing", "extra_forbidden", "model_attributes_type", "model_type", "dict_type",
          "list_type", "string_type", "int_type", "int_parsing", "float_type", "float_parsing", "bool_type",
          "bool_parsing", "int_from_float", "string_unicode", "union_tag_invalid", "literal_error", "none_required",
          "is_instance_of", "arguments_type", "bytes_type", "json_type")
_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 408: "timeout", 413: "too_large", 415: "unsupported_media_type",
                 422: "invalid_value", 429: "too_many_requests", 500: "internal", 503: "unavailable"}


class ApiError(Exception):
    """A refusal with its HTTP status, a short machine code and a one-line message saying what to do."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int = 0):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def error_response(status: int, code: str, message: str, *, retry_after: int = 0,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    sent = {"cache-control": "no-store", **(headers or {})}
    if retry_after:
        sent["retry-after"] = str(retry_after)
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=sent)


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p != "body"] if isinstance(loc, list | tuple) else []
    return ".".join(parts) or "the body"


def validation_message(errors: list[dict[str, Any]]) -> tuple[int, str, str]:
    """(status, code, message) for pydantic's list of errors: the first one, named by where it is."""
    if not errors:
        return 400, "bad_request", "The request body is not what this route takes; see /api/v1/docs."
    first = errors[0]
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return 400, "invalid_json", ("The body is not valid JSON; send a JSON object with "
                                     "Content-Type: application/json, e.g. {\"question\": \"...\"}.")
    if kind == "model_attributes_type" and not [p for p in first.get("loc", ()) if p != "body"]:
        return 400, "invalid_json", ("Send a JSON object with Content-Type: application/json, e.g. "
                                     "{\"question\": \"...\"}; see /api/v1/docs.")
    where = _where(first.get("loc"))
    text = " ".join(str(first.get("msg", "is not valid")).split())[:200]
    status = 400 if kind in _SHAPE or any(str(e.get("type")) in _SHAPE for e in errors[1:2]) else 422
    return status, "invalid_request" if status == 400 else "invalid_value", f"{where}: {text}; see /api/v1/docs."


def install(app: FastAPI) -> None:
    """Make every refusal `app` sends take the one error shape."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.code, err.message, retry_after=err.retry_after)

    @app.exception_handler(Denied)
    async def denied(_request: Request, err: Denied) -> JSONResponse:
        headers = {"www-authenticate": "Bearer"} if err.status == 401 else None
        return error_response(err.status, err.code, err.message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        status, code, message = validation_message(list(err.errors()))
        return error_response(status, code, message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        if err.status_code == 404:
            message = f"No route {request.url.path}; the routes are listed at /api/v1/docs."
        elif err.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /api/v1/docs for its methods."
        else:
            message = " ".join(str(err.detail).split())[:200] or "The request was refused."
        return error_response(err.status_code, _STATUS_CODES.get(err.status_code, "error"), message,
                              headers=dict(err.headers or {}))

    @app.exception_handler(RagError)
    async def rag_error(_request: Request, err: RagError) -> JSONResponse:
        return error_response(422, "invalid_input", " ".join(str(err).split()))

    @app.exception_handler(Exception)
    async def failed(request: Request, err: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=err)
        return error_response(500, "internal", FAILED)


__all__ = ["FAILED", "ApiError", "error_response", "install", "validation_message"]
