"""Renderers for the deployment gate: tokens (shown once), checks, and what holds announce."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block

from bot.domain.gate.coverage import Coverage
from bot.domain.gate.models import CheckSource, GateCheck, GateToken
from bot.domain.gate.overrides import GateOverride
from bot.domain.initiatives import Initiative
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


# -- what holds and the gate announce (through the outbox) --------------------------------------

#: The covered systems take at most this much of the announcement's section (3,000 at most).
COVERS_TEXT_BUDGET = 2600


def _covers(covers: list[Coverage]) -> str:
    """Every covered system that fits, then how many more (`/accord initiative show` has all)."""
    if not covers:
        return "_no systems covered yet_ (add them with `covers:service@environment`)"
    shown: list[str] = []
    used = 0
    for cover in covers:
        item = f"`{safe(str(cover), 310)}`"
        if used + len(item) + 2 > COVERS_TEXT_BUDGET:
            break
        shown.append(item)
        used += len(item) + 2
    more = len(covers) - len(shown)
    return ", ".join(shown) + (f" and {more} more (`/accord initiative show`)" if more else "")


def hold_announcement(initiative: Initiative) -> Message:
    """In the coordination channel: the hold, and every deployment it stops. Its thread is where
    blocked deployments, overrides and the release are told."""
    title = safe(initiative.title, 150)
    blocks: list[Block] = [
        section(
            f":lock: {user(initiative.hold_by)} placed a *security hold* on *{initiative.ref}* "
            f"{title}.\n*Reason:* {safe(initiative.hold_reason or '', 500)}"
        ),
        section(f"*Deployments blocked:* {_covers(initiative.covers)}"),
        context(
            "Pipelines that ask Accord's gate are refused while it is on; each blocked "
            "deployment is posted in this thread. An executive can break glass with "
            f"`/accord gate override {initiative.ref} &lt;service@environment&gt; &lt;duration&gt; "
            "&lt;reason&gt;`."
        ),
    ]
    return Message(
        text=f"Security hold on {initiative.ref} {safe(initiative.title, 80)}", blocks=blocks
    )


def hold_covers_changed(initiative: Initiative, *, actor_id: str) -> Message:
    text = (
        f":pencil2: {user(actor_id)} changed what *{initiative.ref}* covers; its hold now "
        f"blocks: {_covers(initiative.covers)}"
    )
    return Message(
        text=f"The hold on {initiative.ref} now blocks other systems", blocks=[section(text)]
    )


def hold_released(
    initiative: Initiative, *, actor_id: str, reason: str, via: str | None
) -> Message:
    by = f" by the decision of {safe(via, 40)}" if via else ""
    text = (
        f":unlock: {user(actor_id)} released the security hold on *{initiative.ref}*{by}: "
        f"{safe(reason, 500)}\nIts deployments are no longer blocked."
    )
    return Message(text=f"Security hold on {initiative.ref} released", blocks=[section(text)])


def deployment_blocked(
    check: GateCheck, *, ref: str, requested_by: str | None, git_ref: str | None
) -> Message:
    """One blocked deployment, in the thread of the hold that stopped it."""
    target = f"`{safe(check.service, 200)}@{safe(check.environment, 100)}`"
    by = "GitHub" if check.source == CheckSource.GITHUB else "token"
    who = f"{by} `{safe(check.caller, 64)}`"
    if requested_by:
        who += f" (started by `{safe(requested_by, 64)}`)"
    details = [f"*When:* {_when(check.at)}", f"*Who:* {who}"]
    if check.version:
        details.append(f"*Version:* `{safe(check.version, 100)}`")
    if git_ref:
        details.append(f"*Ref:* `{safe(git_ref, 100)}`")
    if _linkable(check.pipeline_url):
        details.append(f"<{check.pipeline_url}|pipeline run>")
    blocks: list[Block] = [
        section(f":no_entry: Deployment of {target} *blocked* by the hold on *{ref}*."),
        context(" · ".join(details) + f" · {check.ref}"),
    ]
    return Message(
        text=f"Deployment of {safe(check.service, 100)}@{safe(check.environment, 50)} "
        f"blocked by {ref}",
        blocks=blocks,
    )


def override_announcement(override: GateOverride, *, title: str) -> Message:
    """Break glass, told in the hold's thread, the executive channel and to the CISO side."""
    ref = format_ref(Kind.INITIATIVE, override.initiative_id)
    text = (
        f":rotating_light: *Break glass:* {user(override.granted_by)} let "
        f"`{override.service}@{override.environment}` deploy through the security hold on "
        f"*{ref}* {safe(title, 100)} until {_when(override.expires_at)}.\n"
        f"*Reason:* {safe(override.reason, 500)}"
    )
    return Message(
        text=f"Override on {ref}: {override.service}@{override.environment} may deploy",
        blocks=[
            section(text),
            context("It ends by itself at that time; every other target stays blocked."),
        ],
    )
