"""Routes the API's paths to their handlers; every answer is JSON, every failure too."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bot.api.gate import GateApi
from bot.api.github_webhook import GithubWebhook
from bot.api.http import ApiRequest, ApiResponse, HttpError, error_response
from bot.services import Services

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)
Handler = Callable[[ApiRequest], ApiResponse]


class ApiApp:
    """A WSGI app for `/api/…` and `/github/webhook`."""

    def __init__(self, services: Services) -> None:
        gate = GateApi(services)
        self.routes: dict[str, dict[str, Handler]] = {
            "/api/v1/openapi.json": {"GET": gate.openapi},
            "/api/v1/gate": {"GET": gate.gate},
            "/api/v1/gate/checks": {"POST": gate.checks},
            "/github/webhook": {"POST": GithubWebhook(services)},
        }

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith("/api/") or path == "/github/webhook"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            path = str(environ.get("PATH_INFO") or "/")
            methods = self.routes.get(path.rstrip("/") or "/")
            if methods is None:
                raise HttpError(404, "No such endpoint; see /api/v1/openapi.json.")
            method = str(environ.get("REQUEST_METHOD") or "GET").upper()
            handler = methods.get(method)
            if handler is None:
                raise HttpError(
                    405,
                    f"{method[:10]} is not allowed here.",
                    headers={"Allow": ", ".join(methods)},
                )
            response = handler(ApiRequest.from_environ(environ))
        except HttpError as error:
            response = error_response(error)
        except Exception:
            log.exception("API request failed: %s", environ.get("PATH_INFO"))
            response = ApiResponse(500, {"error": "Accord could not answer; try again."})
        return response.send(start_response)
