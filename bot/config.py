"""Settings: the only place that reads the environment (and an optional `.env` file)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SLACK_API_BASE_URL = "https://slack.com/api/"


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

    @field_validator(
        "accord_cio_side", "accord_ciso_side", "accord_executives", "accord_admins", mode="before"
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
        token = self._required(self.slack_bot_token, "SLACK_BOT_TOKEN")
        secret = self._required(self.slack_signing_secret, "SLACK_SIGNING_SECRET")
        return token, secret

    def require_bot_token(self) -> str:
        """The clock process only posts, so it needs the bot token alone."""
        return self._required(self.slack_bot_token, "SLACK_BOT_TOKEN")

    def require_socket_credentials(self) -> tuple[str, str]:
        """Bot token and app-level token for Socket Mode."""
        token = self._required(self.slack_bot_token, "SLACK_BOT_TOKEN")
        app_token = self._required(self.slack_app_token, "SLACK_APP_TOKEN")
        return token, app_token

    @staticmethod
    def _required(value: SecretStr | None, name: str) -> str:
        if value is None or not value.get_secret_value().strip():
            raise ConfigurationError(f"{name} is not set; export it or add it to .env")
        return value.get_secret_value()
