"""`/accord digest [preview|now]`: the leadership digest on demand."""

from __future__ import annotations

from datetime import UTC, timedelta

from bot.domain.digest import last_posted
from bot.domain.errors import Conflict, InvalidInput, person
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
    ensure_allowed(ctx.actor, Permission.REGISTER_READ)
    services, now = ctx.services, ctx.now

    def build(_notifier: SlackNotifier) -> Message:
        return preview_message(services, now)

    return Deferred(
        notice(":hourglass_flowing_sand: Building a preview of the digest (only you see it)…"),
        then=build,
        notice_first=True,
    )


#: A second digest within this long of the last one is posted only when asked `again`.
REPEAT_WINDOW = timedelta(hours=1)


def _recent_digest(ctx: CommandContext) -> None:
    """Refuse a second digest within the hour unless the person says `again`: a channel of
    leaders reading two nearly identical digests is what a careful user would not want."""
    last = last_posted(ctx.session)
    if last is None or last.posted_at is None:
        return
    posted_at = last.posted_at if last.posted_at.tzinfo else last.posted_at.replace(tzinfo=UTC)
    ago = ctx.now - posted_at
    if ago >= REPEAT_WINDOW:
        return
    minutes = max(int(ago.total_seconds() // 60), 0)
    when = "less than a minute ago" if minutes == 0 else f"{minutes} min ago"
    by = f" by {person(last.requested_by)}" if last.requested_by else " on schedule"
    raise Conflict(
        f"A digest was already posted {when}{by}; nothing was posted.",
        hint="`/accord digest now again` posts another one anyway; "
        "`/accord digest preview` shows what it would say, only to you.",
    )


def now(ctx: CommandContext, args: list[str]) -> Outcome:
    again = [word.lower() for word in args] == ["again"]
    if not again:
        _no_args(args, "now")
    ensure_allowed(ctx.actor, Permission.DIGEST_SEND)
    if not again:
        _recent_digest(ctx)
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
            "now [again]",
            "/accord digest now",
            "Post the digest to the digest channel now (`again` within an hour of the last).",
            now,
            aliases=("send",),
        ),
    ),
)
