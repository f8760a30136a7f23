"""`/accord digest [preview|now]`: the leadership digest on demand."""

from __future__ import annotations

from bot.domain.errors import InvalidInput
from bot.domain.permissions import Permission, ensure_allowed
from bot.slack.blocks.common import Message
from bot.slack.blocks.errors import notice
from bot.slack.commands.base import CommandContext, Deferred, Noun, Outcome, Verb
from bot.slack.digest_delivery import digest_channel, post_digest, preview_message
from bot.slack.notifier import NotInChannel, SlackNotifier


def _no_args(args: list[str], verb: str) -> None:
    if args:
        raise InvalidInput(f"`/accord digest {verb}` takes no more words.")


def preview(ctx: CommandContext, args: list[str]) -> Outcome:
    _no_args(args, "preview")
    services, now = ctx.services, ctx.now

    def build(_notifier: SlackNotifier) -> Message:
        return preview_message(services, now)

    return Deferred(
        notice(":hourglass_flowing_sand: Building a preview of the digest (only you see it)…"),
        then=build,
        notice_first=True,
    )


def now(ctx: CommandContext, args: list[str]) -> Outcome:
    _no_args(args, "now")
    ensure_allowed(ctx.actor, Permission.DIGEST_SEND)
    channel = digest_channel(ctx.services)
    workspace = ctx.services.workspace
    if workspace is not None and workspace.is_member(channel) is False:
        raise NotInChannel(channel)
    services, moment, user_id = ctx.services, ctx.now, ctx.actor.user_id

    def send(_notifier: SlackNotifier) -> Message:
        key = f"manual:{moment.isoformat()}:{user_id}"
        posted = post_digest(services, moment, key=key, kind="manual", requested_by=user_id)
        if posted is None:
            return notice("That digest was already posted.")
        return notice(f":white_check_mark: The digest is on its way to <#{posted}>.")

    return Deferred(
        notice(f":hourglass_flowing_sand: Building the digest for <#{channel}>…"),
        then=send,
        notice_first=True,
    )


NOUN = Noun(
    name="digest",
    summary="The leadership digest: counts, trends, changes and open disagreements.",
    aliases=("digests",),
    bare=preview,
    verbs=(
        Verb(
            "preview",
            "preview",
            "/accord digest preview",
            "See the digest as it would be posted now (only you see it; nothing is posted).",
            preview,
        ),
        Verb(
            "now",
            "now",
            "/accord digest now",
            "Post the digest to the digest channel now.",
            now,
            aliases=("send",),
        ),
    ),
)
