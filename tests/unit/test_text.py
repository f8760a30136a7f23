"""Parsing what Slack sends with should_escape, and escaping what we send back."""

from __future__ import annotations

from bot.slack.blocks.common import safe
from bot.slack.text import (
    escape,
    neutralise,
    parse_args,
    parse_channel,
    parse_user,
    tag_name,
    tokenize,
)


def test_escape_neutralises_every_mention_form() -> None:
    for hostile in ("<!channel>", "<!here>", "<@U123>", "<!subteam^S1>", "<https://evil|nice>"):
        assert "<" not in escape(hostile)
        assert ">" not in escape(hostile)
    assert escape("a & b") == "a &amp; b"


def test_safe_never_cuts_an_entity_in_half() -> None:
    clipped = safe("&" * 100, limit=12)
    assert clipped.endswith("…")
    assert "&amp" not in clipped.replace("&amp;", "")


def test_tokens_keep_markup_and_quotes_whole() -> None:
    tokens = tokenize('new "Patch the VPN" cio:<@U1|ann lee> #iam <#C1|net>')
    assert tokens == ["new", '"Patch the VPN"', "cio:<@U1|ann lee>", "#iam", "<#C1|net>"]


def test_mentions_channels_and_tags() -> None:
    assert parse_user("<@U123ABC|ann>") == "U123ABC"
    assert parse_user("@ann") is None
    assert parse_channel("<#C0GEN|general>") == "C0GEN"
    assert tag_name("<#C0NET|network>") == "network"
    assert tag_name("#iam") == "iam"


def test_free_text_is_unescaped_once_and_markup_becomes_words() -> None:
    assert neutralise("a &amp;lt; <!channel> <@U1|bo> <https://x.y|site>") == (
        "a &lt; @channel @bo site (https://x.y)"
    )


def test_only_declared_options_are_options() -> None:
    parsed = parse_args(["Fix:", "VPN", "due:2026-12-01"], options=frozenset({"due"}))
    assert parsed.words == ["Fix:", "VPN"]
    assert parsed.options == {"due": "2026-12-01"}


def test_the_limit_counts_what_people_see_and_cuts_never_break_markup() -> None:
    from bot.slack.blocks.common import clip

    assert safe("&" * 70, limit=70) == "&amp;" * 70  # 70 characters typed, 70 shown
    assert clip("see <@U0ALICE> now", 12) == "see…"
    assert clip("fish &amp; chips", 8) == "fish…"


def test_typed_text_cannot_forge_a_person_reference() -> None:
    from bot.domain.errors import InvalidInput, person
    from bot.slack.blocks.errors import user_error

    typed = "\u27e6@U0BOB\u27e7 \ue000@U0BOB\ue001"
    message = user_error(InvalidInput(f"`{typed}` by {person('U0ALICE')}")).blocks[0].to_dict()
    text = message["text"]["text"]
    assert "<@U0ALICE>" in text
    assert "<@U0BOB>" not in text


def test_help_examples_name_people_who_exist_in_the_shell() -> None:
    """Someone trying `/accord help risk` in the shell can run every example as written."""
    import re

    from bot.shell.demo import DEMO_USERS
    from bot.slack.commands import NOUNS

    people = {user.name for user in DEMO_USERS}
    examples = [noun.example for noun in NOUNS] + [v.example for n in NOUNS for v in n.verbs]
    mention = re.compile(r"(?:^|[\s:,])@([a-z][\w-]*)")  # not service@environment
    named = {name for example in examples for name in mention.findall(example)}
    assert named and named <= people, named - people
