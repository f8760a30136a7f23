"""Pure touchpoint rules: where agendas can be posted, what a live series accepts."""

from bot.domain.errors import Conflict, InvalidInput, NotFound
from bot.domain.touchpoints.models import ChannelMembership, SeriesStatus, TouchpointSeries
from bot.domain.validation import MAX_RECORD_NUMBER


def ensure_member(channels: ChannelMembership | None, channel_id: str) -> None:
    """Refuse a series whose agendas Accord could not post: it must be in the channel."""
    if channels is not None and channels.is_member(channel_id) is False:
        raise Conflict(
            f"Accord is not a member of channel {channel_id}, so it could not post agendas "
            "there; nothing was changed. Type /invite @Accord in that channel, then try again.",
            field="channel",
        )


def _require_live(series: TouchpointSeries) -> None:
    if series.status == SeriesStatus.CANCELLED:
        raise Conflict(f"{series.ref} is cancelled.")


def parse_action_number(text: str) -> int:
    value = text.strip().upper().removeprefix("A-")
    if not (value.isascii() and value.isdecimal()):
        raise InvalidInput(f"`{text[:20]}` is not an action item id.", hint="They look like `A-7`.")
    number = int(value[:30])
    if not 1 <= number <= MAX_RECORD_NUMBER:
        raise NotFound(f"There is no action item A-{value[:30]}.")
    return number
