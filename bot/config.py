"""Settings: the only place that reads the environment (and an optional `.env` file)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SLACK_API_BASE_URL = "https://slack.com/api/"
#: The shortest `ACCORD_AUDIT_KEY` accepted (`secrets.token_hex(32)` makes a good one).
AUDIT_KEY_MIN_LENGTH = 32
DEFAULT_GITHUB_API_BASE_URL = "https://api.github.com"


def default_database_url() -> str:
    """A SQLite file in the working directory: the embedded default needs no server."""
    return f"sqlite:///{Path('accord.db').resolve()}"


def _split_ids(value: object) -> object:
    """Accept `U1,S2 , U3` (as environment variables are written) as well as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


IdList = Annotated[list[str], NoDecode]


class ConfigurationError(Exception):
    """A setting needed by the chosen mode is missing; the message names it."""


class Settings(BaseSettings):
    """Every setting Accord reads; see the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_base_url: str = DEFAULT_SLACK_API_BASE_URL
    database_url: str = Field(default_factory=default_database_url)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    port: int = 3000
    #: Signs the audit chain (HMAC-SHA256); kept out of the database on purpose.
    accord_audit_key: SecretStr | None = None

    accord_cio_side: IdList = Field(default_factory=list)
    accord_ciso_side: IdList = Field(default_factory=list)
    accord_executives: IdList = Field(default_factory=list)
    accord_admins: IdList = Field(default_factory=list)
    accord_coordination_channel: str | None = None
    accord_executive_channel: str | None = None
    accord_digest_channel: str | None = None

    # Risk acceptances: the longest acceptance per band (days), the review cadence per band
    # (days), and how many days before expiry the owner is warned.
    accord_risk_max_days_low: int = 365
    accord_risk_max_days_medium: int = 180
    accord_risk_max_days_high: int = 120
    accord_risk_max_days_critical: int = 90
    accord_risk_review_days_low: int = 180
    accord_risk_review_days_medium: int = 90
    accord_risk_review_days_high: int = 30
    accord_risk_review_days_critical: int = 14
    accord_risk_reminder_days: str = "30,7,1"

    accord_group_cache_seconds: int = 300
    #: Time zone of a touchpoint when neither `tz:` nor the organiser's Slack profile gives one.
    accord_default_timezone: str = "UTC"
    #: How often the clock looks for touchpoint agendas to post, in seconds.
    accord_touchpoint_poll_seconds: int = 60
    accord_disagreement_timebox_days: int = 14
    #: Also propose escalation after this many touchpoints held since it opened (0 = off).
    accord_disagreement_timebox_touchpoints: int = 0
    accord_escalation_grace_days: int = 3

    # Digests and LLM summaries (see bot/summarize and bot/domain/digest.py).
    accord_digest_cron: str = "0 8 * * MON"
    accord_digest_timezone: str = "UTC"
    #: A scheduled digest whose post failed (or was missed) is retried for this many hours.
    accord_digest_retry_grace_hours: float = 24.0
    #: How often the clock looks for such a digest to retry, in minutes.
    accord_digest_retry_minutes: int = 60
    accord_llm_timeout_seconds: float = 20.0
    accord_llm_max_retries: int = 1
    accord_llm_chunk_max_items: int = 20
    accord_llm_chunk_max_chars: int = 12000
    #: The LLM part of one digest ends after this many seconds; chunks not done by then are
    #: written by the deterministic summariser.
    accord_llm_digest_budget_seconds: float = 60.0
    #: How many chunks of one digest are sent to the LLM at the same time.
    accord_llm_concurrency: int = 4
    accord_prompts_dir: str | None = None
    accord_listener_threads: int = 10
    #: Answer Slack within this many seconds; slower work replies later ("working on it").
    accord_ack_budget_seconds: float = 2.0
    #: How long the outbox keeps retrying a message Slack refuses (outage, rate limit) before it
    #: gives up and tells the person who acted (or the coordination channel).
    accord_outbox_window_hours: float = Field(default=24.0, gt=0)
    #: How long a deliverer holds a message it is sending; one killed mid-send (kill -9, OOM)
    #: leaves it to another deliverer after this, which looks it up in Slack before re-sending.
    #: Longer than any single Web API call (the delivery client times out after 10 s).
    accord_outbox_lease_seconds: float = Field(default=60.0, gt=0)

    # The deployment gate's GitHub App (custom deployment protection rules).
    #: The App's id (or client id): the `iss` of the JWT it signs.
    github_app_id: str | None = None
    #: The App's private key: a path to the .pem file, or the PEM text itself.
    github_app_private_key: SecretStr | None = None
    #: The App's webhook secret; `X-Hub-Signature-256` is checked with it.
    github_webhook_secret: SecretStr | None = None
    github_api_base_url: str = DEFAULT_GITHUB_API_BASE_URL
    #: Environments where a held deployment waits (approved on release) instead of being
    #: rejected at once: `production` (any repository) or `acme/payments@production`.
    accord_github_wait_environments: IdList = Field(default_factory=list)
    #: How often the clock re-sends failed GitHub reviews and approves released waits, seconds.
    accord_github_review_poll_seconds: int = 30

    @field_validator(
        "accord_cio_side",
        "accord_ciso_side",
        "accord_executives",
        "accord_admins",
        "accord_github_wait_environments",
        mode="before",
    )
    @classmethod
    def _parse_id_list(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("slack_api_base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @property
    def outbox_window(self) -> timedelta:
        return timedelta(hours=self.accord_outbox_window_hours)

    @field_validator("github_api_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def github_waits(self, repository: str, environment: str) -> bool:
        """Whether a held deployment to this environment waits for the release."""
        wanted = {entry.lower() for entry in self.accord_github_wait_environments}
        return environment.lower() in wanted or f"{repository}@{environment}".lower() in wanted

    def require_github_app(self) -> tuple[str, str]:
        """App id and private key PEM (read from the file when the setting is a path)."""
        app_id = (self.github_app_id or "").strip()
        if not app_id:
            raise ConfigurationError("GITHUB_APP_ID is not set; export it or add it to .env")
        (key,) = self._required(("GITHUB_APP_PRIVATE_KEY", self.github_app_private_key))
        key = key.strip()
        if "-----BEGIN" in key:
            return app_id, key.replace("\\n", "\n")
        try:
            return app_id, Path(key).expanduser().read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(
                "GITHUB_APP_PRIVATE_KEY is neither a PEM key nor a readable file "
                f"({error.strerror})"
            ) from None

    @property
    def outbox_lease(self) -> timedelta:
        return timedelta(seconds=self.accord_outbox_lease_seconds)

    def risk_reminder_days(self) -> list[int]:
        """`30,7,1` → [30, 7, 1]; a malformed list is a configuration error."""
        try:
            days = [int(p) for p in self.accord_risk_reminder_days.split(",") if p.strip()]
        except ValueError:
            raise ConfigurationError(
                "ACCORD_RISK_REMINDER_DAYS must be comma-separated whole days, e.g. 30,7,1"
            ) from None
        return [d for d in days if d > 0]

    def require_http_credentials(self) -> tuple[str, str]:
        """Token and signing secret for HTTP mode, or a one-line error naming what is missing."""
        token, secret = self._required(
            ("SLACK_BOT_TOKEN", self.slack_bot_token),
            ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
        )
        return token, secret

    def require_bot_token(self) -> str:
        """The clock process only posts, so it needs the bot token alone."""
        (token,) = self._required(("SLACK_BOT_TOKEN", self.slack_bot_token))
        return token

    def require_socket_credentials(self) -> tuple[str, str]:
        """Bot token and app-level token for Socket Mode."""
        token, app_token = self._required(
            ("SLACK_BOT_TOKEN", self.slack_bot_token), ("SLACK_APP_TOKEN", self.slack_app_token)
        )
        return token, app_token

    def audit_secret(self) -> bytes | None:
        """The audit key as bytes, None when unset (the public development key is used)."""
        value = self.accord_audit_key.get_secret_value().strip() if self.accord_audit_key else ""
        if not value:
            return None
        if len(value) < AUDIT_KEY_MIN_LENGTH:
            raise ConfigurationError(
                f"ACCORD_AUDIT_KEY must be at least {AUDIT_KEY_MIN_LENGTH} characters; generate "
                'one with: python -c "import secrets; print(secrets.token_hex(32))"'
            )
        return value.encode()

    def require_audit_key(self) -> bytes | None:
        """For the commands that write a shared database: on PostgreSQL the audit chain must be
        signed with a secret key, or anyone who can write the database (and read Accord's source)
        could rewrite it unnoticed. SQLite is single-host: None (development key) is allowed."""
        key = self.audit_secret()
        scheme = self.database_url.split(":", 1)[0].split("+", 1)[0].lower()
        if key is None and scheme in ("postgresql", "postgres"):
            raise ConfigurationError(
                "ACCORD_AUDIT_KEY is not set; on PostgreSQL the audit chain needs a secret key "
                '(python -c "import secrets; print(secrets.token_hex(32))"), kept outside the '
                "database and the same for every Accord process"
            )
        return key

    @staticmethod
    def _required(*settings: tuple[str, SecretStr | None]) -> list[str]:
        """The values, or one error that names every missing setting at once."""
        missing = [
            name
            for name, value in settings
            if value is None or not value.get_secret_value().strip()
        ]
        if len(missing) == 1:
            raise ConfigurationError(f"{missing[0]} is not set; export it or add it to .env")
        if missing:
            names = ", ".join(missing[:-1]) + f" and {missing[-1]}"
            raise ConfigurationError(f"{names} are not set; export them or add them to .env")
        return [value.get_secret_value() for _, value in settings if value is not None]

    def side_id_warnings(self) -> list[str]:
        """Side and role settings hold Slack ids; a name (`alice`) silently matches nobody."""
        found = []
        for name, values in (
            ("ACCORD_CIO_SIDE", self.accord_cio_side),
            ("ACCORD_CISO_SIDE", self.accord_ciso_side),
            ("ACCORD_EXECUTIVES", self.accord_executives),
            ("ACCORD_ADMINS", self.accord_admins),
        ):
            wrong = [value for value in values if not _SLACK_ID.fullmatch(value)]
            if wrong:
                shown = ", ".join(f"`{value[:40]}`" for value in wrong[:5])
                found.append(
                    f"{name} lists {shown}, which {'is' if len(wrong) == 1 else 'are'} not a "
                    "Slack member or user-group id (U…, W… or S…), so nobody matches; copy the "
                    "member id from the person's Slack profile (⋮ → Copy member ID)"
                )
        return found


_SLACK_ID = re.compile(r"[UWS][A-Z0-9]{2,}")
#: Settings whose value must never be echoed back in an error message.
_SECRET_SETTINGS = ("token", "secret", "key", "database_url")


def load_settings(**overrides: Any) -> Settings:
    """The settings, or a ConfigurationError that names every malformed setting in one line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "a setting"
            shown = (
                ""
                if any(part in field for part in _SECRET_SETTINGS)
                else (f" (got {str(item.get('input'))[:40]!r})")
            )
            problems.append(f"{field.upper()}: {item['msg'].lower()}{shown}")
        raise ConfigurationError(
            "; ".join(problems) + "; fix it in the environment or .env"
        ) from None
