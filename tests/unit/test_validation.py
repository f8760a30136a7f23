"""The shared parsers: the same bounds whichever path a value comes by."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.errors import InvalidInput, NotFound
from bot.domain.refs import Kind, parse_any_ref, parse_ref
from bot.domain.validation import (
    MAX_RECORD_NUMBER,
    clean_text,
    clean_value,
    parse_date,
    parse_page,
    parse_record_number,
    parse_snooze_days,
    parse_whole_number,
)
from bot.export.review import md


@pytest.mark.parametrize(
    "value", ["²", "٣", "1e3", "+3", "3.0", "", " ", "-1", "0", "6", True, 2.0, None, 10**30]
)
def test_whole_numbers_are_ascii_digits_within_the_range(value: object) -> None:
    with pytest.raises(InvalidInput, match="whole number from 1 to 5"):
        parse_whole_number(value, field="impact", low=1, high=5)


def test_whole_numbers_accept_typed_text_and_json_ints() -> None:
    assert parse_whole_number(" 5 ", field="impact", low=1, high=5) == 5
    assert parse_whole_number(1, field="impact", low=1, high=5) == 1


def test_record_numbers_stop_at_what_the_database_stores() -> None:
    assert parse_record_number(str(MAX_RECORD_NUMBER), stale="old") == MAX_RECORD_NUMBER
    for value in (str(MAX_RECORD_NUMBER + 1), "9223372036854775808", 2**63, "0", "²", {}):
        with pytest.raises(InvalidInput, match="old"):
            parse_record_number(value, stale="old")
    with pytest.raises(NotFound, match="There is no INI-99999999999999999999"):
        parse_ref("INI-99999999999999999999", Kind.INITIATIVE)
    with pytest.raises(InvalidInput):
        parse_ref("INI-٣", Kind.INITIATIVE)
    assert parse_any_ref("RSK-2147483648") is None
    assert parse_any_ref("RSK-7") == (Kind.RISK, 7)


def test_pages_and_snooze_days_are_bounded() -> None:
    assert parse_page("3", stale="old") == 3
    with pytest.raises(InvalidInput, match="old"):
        parse_page("99999999999999999999", stale="old")
    assert parse_snooze_days("30") == 30
    for days in ("31", "0", "99999", "²"):
        with pytest.raises(InvalidInput, match="1 to 30"):
            parse_snooze_days(days)


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "9999-12-31", "0001-01-01", "²"])
def test_dates_are_real_days_in_a_sane_span(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid due date"):
        parse_date(text, field="due")


def test_dates_parse() -> None:
    assert parse_date(" 2028-02-29 ", field="due") == date(2028, 2, 29)


def test_control_characters_are_removed_but_line_breaks_and_tabs_kept() -> None:
    assert clean_text("a\x00b\x1b[1m\x7f\x85\x9bc\r\nd\re\tf") == "ab[1mc\nd\ne\tf"
    assert clean_text("plain — ünïcode ²") == "plain — ünïcode ²"
    assert clean_value({"k\x00": ["v\x1b", 1, None, {"x": "\x9f"}]}) == {
        "k": ["v", 1, None, {"x": ""}]
    }


def test_the_review_pack_drops_control_characters() -> None:
    assert md("Title\x1b[31m\x00 red") == "Title\\[31m red"
