"""The OpenAPI 3.1 document of the gate API, built from the pydantic models it validates with."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from bot.api.schemas import DeploymentCheck, ErrorOut, GateAnswerOut, GateQuery

_REF = "#/components/schemas/{model}"


def _schemas(*models: type[BaseModel]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_REF)
        found.update(schema.pop("$defs", {}))
        found[str(schema.get("title", model.__name__))] = schema
    return found


def _json(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}},
    }


def _answers() -> dict[str, Any]:
    return {
        "200": _json("GateAnswer", "Whether the deployment may go ahead, and what holds it."),
        "400": _json("Error", "The request is malformed; the error says what to fix."),
        "401": _json("Error", "No valid `Authorization: Bearer` gate token."),
    }


@cache
def openapi_document() -> dict[str, Any]:
    query = GateQuery.model_json_schema()["properties"]
    parameters = [
        {"name": name, "in": "query", "required": True, "schema": query[name]}
        for name in ("service", "environment")
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Accord deployment gate",
            "version": "1",
            "description": (
                "Ask whether a security hold stops a deployment. A hold on an initiative "
                "holds every service@environment it covers (`*`: every environment)."
            ),
        },
        "paths": {
            "/api/v1/gate": {
                "get": {
                    "operationId": "getGate",
                    "summary": "Is this service allowed to deploy to this environment now?",
                    "parameters": parameters,
                    "responses": _answers(),
                }
            },
            "/api/v1/gate/checks": {
                "post": {
                    "operationId": "recordCheck",
                    "summary": "Record a deployment attempt (audited) and answer it.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="DeploymentCheck")}
                            }
                        },
                    },
                    "responses": _answers(),
                }
            },
        },
        "components": {
            "schemas": _schemas(DeploymentCheck, GateAnswerOut, ErrorOut),
            "securitySchemes": {
                "gateToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `/accord gate token new <name>`.",
                }
            },
        },
        "security": [{"gateToken": []}],
    }
