"""Acts as the GitHub App: a JWT signed with its private key buys an installation token, which
reviews a deployment through the event's `deployment_callback_url`."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

import jwt

from bot.clock import Clock

API_VERSION = "2022-11-28"
#: GitHub refuses App JWTs that live longer than 10 minutes; stay under it with clock skew.
JWT_LIFETIME = timedelta(minutes=9)
JWT_BACKDATE = timedelta(seconds=60)


class GitHubError(Exception):
    """A call GitHub did not accept. `permanent` ones are not worth retrying."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        # 401/403 are usually a credential being rotated, 429/5xx/no answer are transient.
        return (
            self.status is not None
            and 400 <= self.status < 500
            and self.status
            not in (
                401,
                403,
                408,
                429,
            )
        )


class GitHubApp:
    def __init__(
        self,
        *,
        app_id: str,
        private_key: str,
        base_url: str,
        clock: Clock,
        timeout: float = 10.0,
    ) -> None:
        self.app_id = app_id
        self.private_key = private_key
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.timeout = timeout
        self._tokens: dict[int, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def app_jwt(self) -> str:
        now = self.clock.now()
        claims = {
            "iat": int((now - JWT_BACKDATE).timestamp()),
            "exp": int((now + JWT_LIFETIME).timestamp()),
            "iss": self.app_id,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256")

    def installation_token(self, installation_id: int) -> str:
        """Cached until five minutes before GitHub says it expires (they live an hour)."""
        now = self.clock.now()
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and cached[1] - timedelta(minutes=5) > now:
                return cached[0]
        answer = self._call(
            "POST",
            f"{self.base_url}/app/installations/{installation_id}/access_tokens",
            authorization=f"Bearer {self.app_jwt()}",
        )
        token = str(answer["token"])
        try:
            expires = datetime.fromisoformat(str(answer["expires_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            expires = now + timedelta(minutes=10)
        with self._lock:
            self._tokens[installation_id] = (token, expires)
        return token

    def review(self, *, callback_url: str, installation_id: int, payload: dict[str, Any]) -> None:
        """POST the decision to the callback. Only URLs on the configured API are called, so an
        installation token never leaves for another host."""
        if not callback_url.startswith(self.base_url + "/"):
            raise GitHubError(f"callback URL is not on {self.base_url}", status=400)
        token = self.installation_token(installation_id)
        try:
            self._call("POST", callback_url, authorization=f"Bearer {token}", body=payload)
        except GitHubError as error:
            if error.status == 401:
                with self._lock:
                    self._tokens.pop(installation_id, None)
            raise

    def _call(
        self, method: str, url: str, *, authorization: str, body: dict[str, Any] | None = None
    ) -> Any:
        request = urllib.request.Request(  # noqa: S310  (base_url is configuration, https)
            url,
            data=json.dumps(body).encode() if body is not None else b"",
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": authorization,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "accord-deployment-gate",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as error:
            retry_after = error.headers.get("Retry-After")
            detail = error.read()[:300].decode("utf-8", "replace")
            raise GitHubError(
                f"GitHub answered {error.code} to {method} {url.split('?')[0]}: {detail}",
                status=error.code,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise GitHubError(f"cannot reach GitHub: {getattr(error, 'reason', error)}") from None
        return json.loads(raw) if raw.strip() else None
