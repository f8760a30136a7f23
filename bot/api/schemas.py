"""The gate API's request and answer shapes; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.gate.coverage import (
    ENVIRONMENT_MAX,
    ENVIRONMENT_PATTERN,
    SERVICE_MAX,
    SERVICE_PATTERN,
)
from bot.domain.gate.models import URL_MAX, VERSION_MAX

Service = Annotated[
    str,
    Field(
        min_length=1,
        max_length=SERVICE_MAX,
        pattern=SERVICE_PATTERN,
        description="A service name or `github:owner/repo`, as initiatives cover it.",
        examples=["payments-api"],
    ),
]
Environment = Annotated[
    str,
    Field(
        min_length=1,
        max_length=ENVIRONMENT_MAX,
        pattern=ENVIRONMENT_PATTERN,
        description="The environment deployed to.",
        examples=["production"],
    ),
]


class GateQuery(BaseModel):
    """GET /api/v1/gate takes exactly the parameters its document names: an unknown one (a
    typo such as `enviroment`, or anything else) is a 400, as in the POST body."""

    model_config = ConfigDict(extra="forbid")

    service: Service
    environment: Environment


class DeploymentCheck(BaseModel):
    """A deployment attempt to record and answer."""

    model_config = ConfigDict(extra="forbid", title="DeploymentCheck")

    service: Service
    environment: Environment
    version: str | None = Field(default=None, max_length=VERSION_MAX, examples=["v1.4.2"])
    pipeline_url: str | None = Field(
        default=None, max_length=URL_MAX, examples=["https://ci.example.com/pipelines/42"]
    )


class HoldOut(BaseModel):
    model_config = ConfigDict(title="Hold")

    initiative: str = Field(examples=["INI-3"])
    title: str
    reason: str
    placed_by: str = Field(description="The Slack user id of who placed the hold.")
    placed_at: datetime
    link: str | None = Field(
        description="Where to discuss it in Slack: the permalink of the hold's announcement "
        "(its thread lists each blocked deployment), or the coordination channel until Slack "
        "has the announcement; null without a coordination channel."
    )


class GateAnswerOut(BaseModel):
    model_config = ConfigDict(title="GateAnswer")

    allowed: bool
    holds: list[HoldOut]
    check_id: int | None = Field(
        default=None, description="The recorded check (POST /api/v1/gate/checks only)."
    )


class ErrorOut(BaseModel):
    model_config = ConfigDict(title="Error")

    error: str
