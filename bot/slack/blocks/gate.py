"""Renderers for the deployment gate: a new token (shown once), the token list."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.domain.gate.models import GateCheck, GateToken
from bot.domain.gate.overrides import GateOverride
from bot.domain.refs import Kind, format_ref
from bot.slack.blocks.common import Message, context, header, safe, section, user


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"


def token_created(token: GateToken, secret: str) -> Message:
    """The only time the secret is shown; Accord keeps its hash alone."""
    blocks: list[Block] = [
        section(f":key: Gate token *{token.name}* created. Copy it now: it is not shown again."),
        section(f"```{secret}```"),
        context(
            "Store it as a CI secret (`ACCORD_GATE_TOKEN`) and send it as "
            "`Authorization: Bearer …`. Revoke it with "
            f"`/accord gate token revoke {token.name}`."
        ),
    ]
    return Message(text=f"Gate token {token.name} created", blocks=blocks)


def token_list(tokens: list[GateToken]) -> Message:
    blocks: list[Block] = [header(f"Gate tokens ({len(tokens)})")]
    if not tokens:
        blocks.append(section("None yet. Create one with `/accord gate token new <name>`."))
    for token in tokens[:45]:
        state = (
            f":no_entry: revoked {_when(token.revoked_at)} by {user(token.revoked_by)}"
            if token.revoked_at
            else ":white_check_mark: active"
        )
        blocks.append(
            section(
                f"*{token.name}* · {state}\n"
                f"created {_when(token.created_at)} by {user(token.created_by)} · "
                f"last used {_when(token.last_used_at)}"
            )
        )
    return Message(text=f"Gate tokens: {len(tokens)}", blocks=blocks)


def token_revoked(token: GateToken) -> Message:
    return Message(
        text=f"Gate token {token.name} revoked",
        blocks=[section(f":no_entry: Gate token *{token.name}* is revoked; it opens nothing now.")],
    )


def recent_checks(checks: list[GateCheck]) -> Message:
    """The latest deployment attempts the gate answered, newest first."""
    blocks: list[Block] = [header("Deployment gate: latest checks")]
    if not checks:
        blocks.append(section("No deployment has asked the gate yet."))
    for check in checks:
        verdict = (
            ":white_check_mark: allowed"
            if check.allowed
            else f":no_entry: *blocked* by {', '.join(check.held_by)}"
        )
        version = f" · `{safe(check.version, 60)}`" if check.version else ""
        link = f" · <{check.pipeline_url}|pipeline>" if _linkable(check.pipeline_url) else ""
        blocks.append(
            section(
                f"`{check.service}@{check.environment}`{version} · {verdict}\n"
                f"{_when(check.at)} · {check.source.value} `{safe(check.caller, 64)}`{link}"
            )
        )
    return Message(text=f"Deployment gate: {len(checks)} latest checks", blocks=blocks)


def _linkable(url: str | None) -> bool:
    """Only plain http(s) URLs become links; anything with markup characters stays out."""
    return (
        bool(url)
        and str(url).startswith(("https://", "http://"))
        and not any(char in str(url) for char in "<>|& \n")
    )


def override_granted(override: GateOverride) -> Message:
    ref = format_ref(Kind.INITIATIVE, override.initiative_id)
    text = (
        f":rotating_light: Override granted: `{override.service}@{override.environment}` may "
        f"deploy through the hold on *{ref}* until {_when(override.expires_at)}. "
        f"Reason: {safe(override.reason, 500)}"
    )
    return Message(
        text=f"Override granted for {override.service}@{override.environment}",
        blocks=[section(text)],
    )
