"""Schemathesis drives the real server from its OpenAPI document: no 5xx, no answer outside
the document (status, content type, body schema), 401 without the token.

The document is loaded from `bot.api.openapi` at import (schemathesis 4.32's lazy
`from_fixture` loader reads a private pytest attribute that pytest 9.2 no longer has), and
`test_the_served_document_is_the_one_tested` proves the server serves exactly that document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from bot.api.openapi import openapi_document
from tests.gate.helpers import call, new_token
from tests.harness import CISO, RunningAccord


@pytest.fixture
def gate_token(accord: RunningAccord) -> str:
    # Holds on the shortest names the generator favours, so held answers are exercised too.
    accord.command_text("initiative new Hold short names covers:0@*,a@*,a@0", user=CISO)
    accord.command_text("initiative hold INI-1 fuzzing", user=CISO)
    return new_token(accord)


schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_served_document_is_the_one_tested(accord: RunningAccord) -> None:
    served = call(accord.root_url, "GET", "/api/v1/openapi.json")
    assert served.status == 200
    assert served.json() == openapi_document()


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_gate_api_keeps_to_its_openapi_document(
    case: schemathesis.Case, accord: RunningAccord, gate_token: str
) -> None:
    # The token replaces a generated Authorization header only where the header is meant to be
    # valid: a case whose header schemathesis made invalid (or left out) must stay so, or the
    # server would rightly accept a request the check expects it to refuse.
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    header_valid = header is None or header.mode == GenerationMode.POSITIVE
    authorised = header_valid and "Authorization" in (case.headers or {})
    case.call_and_validate(
        base_url=accord.root_url,
        headers={"Authorization": f"Bearer {gate_token}"} if authorised else None,
    )
