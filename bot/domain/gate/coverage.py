"""What an initiative covers: `service@environment` pairs, `*` standing for every environment.

A service is a name (`payments-api`) or a GitHub repository (`github:acme/payments`). Both
parts are compared in lower case, as GitHub compares repository and environment names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.errors import InvalidInput

SERVICE_MAX = 200
ENVIRONMENT_MAX = 100
EVERY_ENVIRONMENT = "*"
#: At most this many covered systems per initiative (the card and forms stay readable).
COVERS_MAX = 50
NONE_WORDS = frozenset({"none", "-", "nothing"})

SERVICE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,199}$"
ENVIRONMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_SERVICE = re.compile(SERVICE_PATTERN)
_ENVIRONMENT = re.compile(ENVIRONMENT_PATTERN)
_EXAMPLE = "e.g. `covers:payments-api@production` or `covers:github:acme/payments@*`"


@dataclass(frozen=True, order=True)
class Coverage:
    service: str
    environment: str  # a name, or "*" for every environment

    def __str__(self) -> str:
        return f"{self.service}@{self.environment}"


def is_service(value: str) -> bool:
    return _SERVICE.fullmatch(value) is not None


def is_environment(value: str) -> bool:
    return _ENVIRONMENT.fullmatch(value) is not None


def parse_coverage(text: str, *, field: str = "covers") -> Coverage:
    """`payments-api@production` → Coverage; the environment is required (`*` for all)."""
    service, sep, environment = text.strip().rpartition("@")
    if not sep or not service:
        raise InvalidInput(
            f"`{text[:60]}` needs an environment after `@` (`*` for every environment).",
            hint=_EXAMPLE,
            field=field,
        )
    if not is_service(service):
        raise InvalidInput(
            f"`{service[:60]}` is not a service name: letters, digits and `._/:-`, "
            f"at most {SERVICE_MAX} characters.",
            hint=_EXAMPLE,
            field=field,
        )
    if environment != EVERY_ENVIRONMENT and not is_environment(environment):
        raise InvalidInput(
            f"`{environment[:60]}` is not an environment name: letters, digits and `._-`, "
            f"at most {ENVIRONMENT_MAX} characters, or `*`.",
            hint=_EXAMPLE,
            field=field,
        )
    return Coverage(service=service.lower(), environment=environment.lower())


def parse_coverage_list(text: str, *, field: str = "covers") -> list[Coverage]:
    """Comma- or space-separated pairs; `none` means covers nothing. Sorted, duplicates gone."""
    parts = [part for part in re.split(r"[\s,]+", text.strip()) if part]
    if len(parts) == 1 and parts[0].lower() in NONE_WORDS:
        return []
    covers = sorted({parse_coverage(part, field=field) for part in parts})
    if len(covers) > COVERS_MAX:
        raise InvalidInput(
            f"An initiative can cover at most {COVERS_MAX} systems; split it up.", field=field
        )
    return covers
