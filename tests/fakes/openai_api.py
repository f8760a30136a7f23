"""An OpenAI-compatible Chat Completions fake over real HTTP, driven by a FIFO script.

Point ``openai.OpenAI(base_url=fake.base_url, api_key="test")`` at it. Each request consumes
one scripted step (a reply, an HTTP failure or a stall); with an empty script the default
reply is used. Requests are recorded so tests can assert on prompts and retry counts.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ._server import FakeHTTPServer, HTTPRequest, HTTPResponse, wait_until

__all__ = ["FakeOpenAIServer"]

_CREATED_AT = 1_700_000_000
_DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o")
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class _Step:
    """One scripted answer; every step answers exactly one request."""

    kind: Literal["content", "refusal", "fail", "stall"]
    text: str = ""
    finish_reason: str = "stop"
    status: int = 500
    seconds: float = 0.0
    retry_after_ms: int | None = None


def _estimate_tokens(text: str) -> int:
    """About four characters per token, never zero, so usage numbers look plausible."""
    return max(1, math.ceil(len(text) / 4))


def _message_text(messages: Iterable[Any]) -> str:
    """Concatenate the text of chat messages (string content or text parts)."""
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
            )
    return "\n".join(parts)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> HTTPResponse:
    """OpenAI's error envelope, so the client raises the matching APIStatusError subclass."""
    err_type, code = _ERROR_TYPES.get(status, ("server_error", None))
    payload = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    return HTTPResponse.json(payload, status=status, headers=headers)


class FakeOpenAIServer(FakeHTTPServer):
    """Fake ``/v1/chat/completions`` and ``/v1/models`` on 127.0.0.1 with a reply script.

    Usage::

        with FakeOpenAIServer() as ai:
            ai.reply_json({"summary": "ok"})
            client = OpenAI(base_url=ai.base_url, api_key="test")
            client.chat.completions.create(model="gpt-4o-mini", messages=[...])
            assert ai.requests()[0]["model"] == "gpt-4o-mini"
    """

    def __init__(self) -> None:
        super().__init__()
        self._script: deque[_Step] = deque()
        self._default = _Step(kind="content", text="{}")
        self._responder: Callable[[dict[str, Any]], Any] | None = None
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """The ``OpenAI(base_url=...)`` value (``http://127.0.0.1:<port>/v1``)."""
        return f"{self.root_url}/v1"

    # -- script ------------------------------------------------------------------------------
    def reply_json(self, obj: Any, *, finish_reason: str = "stop") -> None:
        """Queue an assistant message whose content is ``json.dumps(obj)``."""
        self._push(_Step(kind="content", text=json.dumps(obj), finish_reason=finish_reason))

    def reply_text(self, text: str, *, finish_reason: str = "stop") -> None:
        """Queue an assistant message with plain ``text`` (e.g. malformed JSON for a parser)."""
        self._push(_Step(kind="content", text=text, finish_reason=finish_reason))

    def reply_refusal(self, refusal: str) -> None:
        """Queue a structured-output refusal (``content`` null, ``refusal`` set)."""
        self._push(_Step(kind="refusal", text=refusal))

    def fail(self, status: int = 500, times: int = 1, *, retry_after_ms: int | None = None) -> None:
        """Queue ``times`` HTTP error answers; ``retry_after_ms`` shortens the client's backoff."""
        for _ in range(times):
            self._push(_Step(kind="fail", status=status, retry_after_ms=retry_after_ms))

    def stall(self, seconds: float, times: int = 1) -> None:
        """Queue ``times`` requests that wait ``seconds`` before the default answer.

        Meant for client-timeout tests; stop() interrupts a stall immediately.
        """
        for _ in range(times):
            self._push(_Step(kind="stall", seconds=seconds))

    def set_default_text(self, text: str) -> None:
        """The content answered when the script is empty (initially ``"{}"``)."""
        with self._cond:
            self._default = _Step(kind="content", text=text)

    def set_default_json(self, obj: Any) -> None:
        """Like :meth:`set_default_text` with ``json.dumps(obj)``."""
        self.set_default_text(json.dumps(obj))

    def respond_json(self, responder: Callable[[dict[str, Any]], Any] | None) -> None:
        """When the script is empty, answer ``json.dumps(responder(request_body))`` — for
        concurrent requests whose arrival order a FIFO script cannot predict. None: stop."""
        with self._cond:
            self._responder = responder

    def pending(self) -> int:
        """Scripted steps not consumed yet (assert 0 to prove every reply was used)."""
        with self._cond:
            return len(self._script)

    def clear_script(self) -> None:
        """Drop scripted steps that were not consumed."""
        with self._cond:
            self._script.clear()

    def _push(self, step: _Step) -> None:
        with self._cond:
            self._script.append(step)

    # -- inspection ----------------------------------------------------------------------------
    def requests(self) -> list[dict[str, Any]]:
        """JSON bodies of chat completion requests, in arrival order (retries included)."""
        with self._cond:
            return list(self._requests)

    def request_headers(self) -> list[dict[str, str]]:
        """Lower-cased headers of each request, parallel to :meth:`requests`."""
        with self._cond:
            return [dict(h) for h in self._headers]

    def clear(self) -> None:
        """Forget recorded requests (the script is kept)."""
        with self._cond:
            self._requests.clear()
            self._headers.clear()

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` requests arrived; return all of them so far."""
        with self._cond:
            if not wait_until(self._cond, lambda: len(self._requests) >= count, timeout):
                raise AssertionError(
                    f"expected at least {count} chat completion request(s) within {timeout}s, "
                    f"got {len(self._requests)}"
                )
            return list(self._requests)

    # -- HTTP ------------------------------------------------------------------------------
    def handle(self, request: HTTPRequest) -> HTTPResponse:
        """Route the two supported endpoints; anything else is an OpenAI-style 404."""
        path = request.path.rstrip("/")
        if path == "/v1/chat/completions" and request.method == "POST":
            return self._chat_completion(request)
        if path == "/v1/models" and request.method == "GET":
            return self._models()
        return _error(404, f"Unknown request URL: {request.method} {request.path}")

    def _models(self) -> HTTPResponse:
        with self._cond:
            seen = [r.get("model") for r in self._requests]
        names = dict.fromkeys([*_DEFAULT_MODELS, *(m for m in seen if isinstance(m, str))])
        data = [
            {"id": name, "object": "model", "created": _CREATED_AT, "owned_by": "openai"}
            for name in names
        ]
        return HTTPResponse.json({"object": "list", "data": data})

    def _chat_completion(self, request: HTTPRequest) -> HTTPResponse:
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            return _error(401, "You didn't provide an API key.")
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        valid = isinstance(body.get("model"), str) and isinstance(body.get("messages"), list)
        with self._cond:
            self._requests.append(body)
            self._headers.append(dict(request.headers))
            self._cond.notify_all()
            if not valid:  # a malformed request does not consume a scripted step
                return _error(400, "'model' and 'messages' are required properties.")
            scripted = bool(self._script)
            step = self._script.popleft() if scripted else self._default
            default = self._default
            responder = None if scripted else self._responder
        if responder is not None:
            step = _Step(kind="content", text=json.dumps(responder(body)))
        if step.kind == "stall":
            if self._sleep(step.seconds):
                return _error(503, "The fake OpenAI server is shutting down.")
            step = default
        if step.kind == "fail":
            headers = {}
            if step.retry_after_ms is not None:
                headers["retry-after-ms"] = str(step.retry_after_ms)
            return _error(step.status, f"Injected failure (HTTP {step.status}).", headers)
        return self._completion(body, step)

    def _completion(self, body: dict[str, Any], step: _Step) -> HTTPResponse:
        completion_id = f"chatcmpl-fake{next(self._ids):06d}"
        headers = {"x-request-id": f"req_{completion_id}"}
        model = str(body["model"])
        refusal = step.kind == "refusal"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if refusal else step.text,
            "refusal": step.text if refusal else None,
            "annotations": [],
        }
        prompt_tokens = _estimate_tokens(_message_text(body["messages"])) + 3 * len(
            body["messages"]
        )
        completion_tokens = _estimate_tokens(step.text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        common = {
            "id": completion_id,
            "created": int(time.time()),
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        if body.get("stream"):
            return self._stream(common, message, step.finish_reason, usage, body, headers)
        completion = {
            **common,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": step.finish_reason,
                }
            ],
            "usage": usage,
        }
        return HTTPResponse.json(completion, headers=headers)

    def _stream(
        self,
        common: dict[str, Any],
        message: dict[str, Any],
        finish_reason: str,
        usage: dict[str, Any],
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> HTTPResponse:
        """Server-sent events: role chunk, content chunk, finish chunk, optional usage, DONE."""
        base = {**common, "object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**base, "choices": [choice]}

        key = "refusal" if message["content"] is None else "content"
        chunks = [
            chunk({"role": "assistant", "content": "", "refusal": None}, None),
            chunk({key: message[key]}, None),
            chunk({}, finish_reason),
        ]
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return HTTPResponse(
            body=events.encode(),
            headers=headers,
            content_type="text/event-stream; charset=utf-8",
        )
