"""What reaches a terminal from data is escaped."""

from __future__ import annotations

import pytest

from mlops.terminal_text import for_terminal


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("mean_radius", "mean_radius"),
        ("naïve größe 平均", "naïve größe 平均"),
        ("col\x1b[2J\x1b]0;pwned\x07", "col\\x1b[2J\\x1b]0;pwned\\x07"),
        ("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d"),
        ("\x9b31m", "\\x9b31m"),
        ("name\u200b", "name\\u200b"),
        ("\u202eevil", "\\u202eevil"),
        ("\ufeffid", "\\ufeffid"),
        (42, "42"),
    ],
)
def test_control_and_invisible_characters_are_shown_as_escapes(raw, shown):
    assert for_terminal(raw) == shown


def test_no_escape_character_survives():
    hostile = "".join(chr(code) for code in range(0, 0x250)) + "\u2066\u2069\U000e0001"

    shown = for_terminal(hostile)

    assert shown.isprintable()
    assert "\x1b" not in shown and "\x9b" not in shown
