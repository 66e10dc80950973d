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


def test_a_result_whose_reason_and_file_carry_escape_sequences_prints_them_escaped():
    import io

    from functions.common.outcome import Outcome
    from mlops.console import print_result
    from mlops.local.results import UploadResult

    stream = io.StringIO()
    result = UploadResult(
        file="incoming/\x1b]0;title\x07.csv",
        outcome=Outcome.DATA_REJECTED,
        reason="column \x1b[31mred\x1b[0m is missing\nFAKE: all deployed",
        execution=None,
        quarantine_uri="s3://b/quarantine/\x1b[2J",
    )

    print_result(result, 1, 1, stream=stream)

    shown = stream.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b[31mred" in shown
    assert "\nFAKE" not in shown


def test_the_cli_escapes_names_from_a_data_file_in_its_human_output(tmp_path, capsys):
    from mlops.cli import main

    sample = tmp_path / "sample.csv"
    rows = "\n".join(f"{i},{i % 2}" for i in range(40))
    sample.write_text(f"size\x1b[2J\x1b]8;;http://evil.example\x07,label\n{rows}\n", encoding="utf-8")

    main(["init", "--data", str(sample), "--target", "label", "--config", str(tmp_path / "pipeline.json")])

    shown = capsys.readouterr()
    assert "\x1b" not in shown.out + shown.err and "\x07" not in shown.out + shown.err
    assert "size\\x1b[2J" in shown.out + shown.err


def test_json_lines_pass_the_escaping_stream_unchanged():
    import io
    import json

    from mlops.terminal_text import EscapingStream

    target = io.StringIO()
    line = json.dumps({"file": "a\x1b[2J.csv", "reason": "tab\there"}, ensure_ascii=False) + "\n"

    EscapingStream(target).write(line)

    assert target.getvalue() == line
