"""The little HTTP the API needs on top of WSGI: a read request, a JSON answer, errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

#: Larger bodies are refused before they are read (GitHub webhooks are at most 25 MB, but a
#: deployment_protection_rule event is a few kB).
MAX_BODY_BYTES = 1024 * 1024

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HttpError(Exception):
    """An answer other than success, with a JSON `{"error": …}` body."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @classmethod
    def from_environ(cls, environ: WSGIEnvironment) -> ApiRequest:
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HttpError(400, "Content-Length is not a number.") from None
        if length > MAX_BODY_BYTES:
            raise HttpError(413, f"The body is larger than {MAX_BODY_BYTES} bytes.")
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        # WSGI hands PATH_INFO over as latin-1; it only needs comparing with our ASCII routes.
        return cls(
            method=str(environ.get("REQUEST_METHOD") or "GET").upper(),
            path=str(environ.get("PATH_INFO") or "/"),
            raw_query=str(environ.get("QUERY_STRING") or ""),
            headers=headers,
            body=body,
        )

    def query(self) -> dict[str, str]:
        """The last value of each parameter; read only after the caller is authenticated."""
        try:
            parsed = parse_qs(self.raw_query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise HttpError(400, "The query string is not valid UTF-8.") from None
        return {key: values[-1] for key, values in parsed.items() if values}

    def json(self) -> Any:
        if self.headers.get("content-type", "").split(";")[0].strip().lower() != (
            "application/json"
        ):
            raise HttpError(400, "Send the body as application/json.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise HttpError(400, "The body is not valid JSON.") from None


@dataclass(frozen=True)
class ApiResponse:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, start_response: StartResponse) -> Iterable[bytes]:
        body = json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()
        start_response(
            f"{self.status} {_REASONS.get(self.status, 'Error')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                *self.headers.items(),
            ],
        )
        return [body]


def error_response(error: HttpError) -> ApiResponse:
    return ApiResponse(error.status, {"error": error.message}, headers=error.headers)
