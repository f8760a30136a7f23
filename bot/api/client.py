"""The client side of the gate API, for `accord gate check` in any pipeline."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class GateUnreachable(Exception):
    """Accord did not answer, or answered something that is not a gate answer."""


class GateRefused(Exception):
    """Accord refused the request (a bad token or bad input); failing open does not apply."""


@dataclass(frozen=True)
class GateResult:
    allowed: bool
    holds: list[dict[str, Any]]
    check_id: int | None


def check_gate(
    *,
    url: str,
    token: str,
    service: str,
    environment: str,
    version: str | None = None,
    pipeline_url: str | None = None,
    timeout: float = 10.0,
) -> GateResult:
    """POST the attempt to `<url>/api/v1/gate/checks` and read the answer."""
    body: dict[str, str] = {"service": service, "environment": environment}
    if version:
        body["version"] = version
    if pipeline_url:
        body["pipeline_url"] = pipeline_url
    endpoint = url.rstrip("/") + "/api/v1/gate/checks"
    if not endpoint.startswith(("http://", "https://")):
        raise GateRefused(f"the gate URL must start with http:// or https:// (got {url[:80]!r})")
    request = urllib.request.Request(  # noqa: S310  (the scheme is checked above)
        endpoint,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "User-Agent": "accord-gate-check",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as error:
        message = _error_message(error.read())
        if error.code == 401:
            raise GateRefused(f"Accord refused the token ({message})") from None
        if 400 <= error.code < 500:
            raise GateRefused(f"Accord refused the request: HTTP {error.code} {message}") from None
        raise GateUnreachable(f"Accord answered HTTP {error.code} {message}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise GateUnreachable(f"cannot reach Accord at {url}: {reason}") from None
    try:
        answer = json.loads(raw)
        return GateResult(
            allowed=bool(answer["allowed"]),
            holds=list(answer["holds"]),
            check_id=answer.get("check_id"),
        )
    except (ValueError, KeyError, TypeError):
        raise GateUnreachable("Accord's answer is not a gate answer") from None


def _error_message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"])
    except (ValueError, KeyError, TypeError):
        return raw[:200].decode("utf-8", "replace")


def describe_hold(hold: dict[str, Any]) -> str:
    line = (
        f"  {hold.get('initiative')} {hold.get('title')!s}: {hold.get('reason')!s}"
        f" (hold placed by {hold.get('placed_by')} at {hold.get('placed_at')})"
    )
    return line + (f"\n    {hold['link']}" if hold.get("link") else "")
