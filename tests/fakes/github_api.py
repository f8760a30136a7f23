"""A fake GitHub REST API over real HTTP, for the deployment gate's GitHub App.

It serves the two calls a custom deployment protection rule makes: an installation token for a
JWT (checked against the App's public key, like GitHub does) and the review callback. Every call
is recorded, failures (5xx, 429 with ``Retry-After``) can be queued per endpoint, and
:func:`signed_webhook` builds ``deployment_protection_rule`` events signed the way GitHub signs.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ._server import FakeHTTPServer, HTTPRequest, HTTPResponse, wait_until

__all__ = ["APP_ID", "FakeGitHubServer", "GitHubCall", "app_private_key", "signed_webhook"]

APP_ID = "424242"
INSTALLATION_ID = 9001
TOKENS = "tokens"
REVIEW = "review"
_TOKEN_PATH = re.compile(r"^/app/installations/(\d+)/access_tokens$")
_REVIEW_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)/actions/runs/(\d+)/deployment_protection_rule$")
_KEY: rsa.RSAPrivateKey | None = None


def app_private_key() -> str:
    """The App's private key as PEM (one per test session: RSA generation is slow)."""
    global _KEY
    if _KEY is None:
        _KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True)
class GitHubCall:
    kind: str  # TOKENS or REVIEW
    path: str
    status: int
    body: Any
    authorization: str

    def __repr__(self) -> str:  # keep tokens out of assertion output
        return f"GitHubCall({self.kind!r}, {self.path!r}, status={self.status}, body={self.body!r})"


class FakeGitHubServer(FakeHTTPServer):
    def __init__(self, *, app_id: str = APP_ID) -> None:
        super().__init__()
        self.app_id = app_id
        app_private_key()
        assert _KEY is not None
        self._public_key = _KEY.public_key()
        self._calls: list[GitHubCall] = []
        self._failures: dict[str, deque[tuple[int, int]]] = {}
        self._issued: set[str] = set()
        self._counter = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.root_url

    def callback_url(self, repository: str = "acme/payments", run_id: int = 1) -> str:
        return (
            f"{self.root_url}/repos/{repository}/actions/runs/{run_id}/deployment_protection_rule"
        )

    def fail_next(
        self, kind: str, *, status: int = 502, times: int = 1, retry_after: int = 0
    ) -> None:
        with self._cond:
            self._failures.setdefault(kind, deque()).extend([(status, retry_after)] * times)

    def calls(self, kind: str | None = None) -> list[GitHubCall]:
        with self._cond:
            return [call for call in self._calls if kind is None or call.kind == kind]

    def reviews(self) -> list[dict[str, Any]]:
        """The reviews GitHub accepted (answered 204)."""
        return [call.body for call in self.calls(REVIEW) if call.status == 204]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[GitHubCall]:
        with self._cond:
            if not wait_until(self._cond, lambda: len(self.calls(kind)) >= count, timeout):
                raise AssertionError(f"expected {count} {kind} call(s), got {self.calls(kind)}")
            return self.calls(kind)

    def handle(self, request: HTTPRequest) -> HTTPResponse:
        authorization = request.headers.get("authorization", "")
        token_match = _TOKEN_PATH.match(request.path)
        review_match = _REVIEW_PATH.match(request.path)
        if request.method != "POST" or not (token_match or review_match):
            return HTTPResponse.json({"message": "Not Found"}, status=404)
        kind = TOKENS if token_match else REVIEW
        body = json.loads(request.body) if request.body.strip() else None
        response = self._answer(kind, authorization, body)
        with self._cond:
            self._calls.append(GitHubCall(kind, request.path, response.status, body, authorization))
            self._cond.notify_all()
        return response

    def _answer(self, kind: str, authorization: str, body: Any) -> HTTPResponse:
        with self._cond:
            queue = self._failures.get(kind)
            failure = queue.popleft() if queue else None
        if failure is not None:
            status, retry_after = failure
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            return HTTPResponse.json(
                {"message": "injected failure"}, status=status, headers=headers
            )
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return HTTPResponse.json({"message": "Requires authentication"}, status=401)
        if kind == TOKENS:
            return self._issue_token(credential)
        with self._cond:
            known = credential in self._issued
        if not known:
            return HTTPResponse.json({"message": "Bad credentials"}, status=401)
        if not isinstance(body, dict) or body.get("state") not in ("approved", "rejected"):
            return HTTPResponse.json({"message": "Invalid request"}, status=422)
        if not body.get("environment_name"):
            return HTTPResponse.json({"message": "environment_name is required"}, status=422)
        return HTTPResponse(status=204)

    def _issue_token(self, app_jwt: str) -> HTTPResponse:
        try:
            # The tests' clock is not the wall clock: check signature, issuer and lifetime only.
            claims = jwt.decode(
                app_jwt,
                self._public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return HTTPResponse.json({"message": "A JSON web token could not be decoded"}, 401)
        if str(claims.get("iss")) != self.app_id or claims["exp"] - claims["iat"] > 600:
            return HTTPResponse.json({"message": "'Issuer' or 'Expiration time' invalid"}, 401)
        token = f"ghs_fake{next(self._counter):06d}"
        with self._cond:
            self._issued.add(token)
        return HTTPResponse.json({"token": token, "expires_at": "2099-01-01T00:00:00Z"}, status=201)


def signed_webhook(
    secret: str,
    *,
    callback_url: str,
    repository: str = "acme/payments",
    environment: str = "production",
    installation_id: int = INSTALLATION_ID,
    action: str = "requested",
) -> tuple[bytes, dict[str, str]]:
    """A `deployment_protection_rule` event body and the headers GitHub sends with it."""
    payload = {
        "action": action,
        "environment": environment,
        "event": "push",
        "deployment_callback_url": callback_url,
        "deployment": {"id": 1, "sha": "8f2e1c0ffee", "ref": "main", "environment": environment},
        "repository": {"full_name": repository, "name": repository.split("/")[1]},
        "installation": {"id": installation_id},
        "sender": {"login": "octocat"},
    }
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": "deployment_protection_rule",
        "X-GitHub-Delivery": f"delivery-{hashlib.sha1(body).hexdigest()[:12]}",  # noqa: S324
        "X-Hub-Signature-256": signature,
    }
