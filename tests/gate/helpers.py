"""Plain HTTP calls to the running gate API, and a token made the way a person makes one."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tests.harness import ADMIN, RunningAccord

TOKEN = re.compile(r"accord_gate_[A-Za-z0-9_-]{20,}")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]  # lower-case names

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    root_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    payload: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    data = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
    request = urllib.request.Request(root_url + path, data=data, method=method)
    if payload is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.read(), _lower(response.headers.items()))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), _lower(error.headers.items()))


def _lower(items: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def new_token(accord: RunningAccord, name: str = "ci", *, user: str = ADMIN) -> str:
    text = accord.command_text(f"gate token new {name}", user=user)
    found = TOKEN.search(text)
    assert found, text
    return found.group(0)
