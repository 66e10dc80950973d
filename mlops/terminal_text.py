"""Text from data (column names, values, reasons, keys) made safe to print to a terminal.

A CSV header or an S3 key can carry ANSI/OSC escape sequences, which a terminal executes
(colours, cursor moves, window titles, hyperlinks, on some terminals clipboard writes), and
invisible format characters (zero-width spaces, bidirectional overrides) that make two
different names look the same. Only the human output goes through here; JSON output keeps
the data as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


def for_terminal(text: object) -> str:
    """`text` as a string in which every character Python does not count as printable (controls,
    format characters, separators other than the space, unassigned code points) is written as
    its Python escape (`\\x1b`, `\\u200b`), so what prints is what the data holds, visibly."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(_escaped(character) for character in value)


def _escaped(character: str) -> str:
    if character.isprintable():
        return character
    code = ord(character)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def for_terminal_lines(text: str) -> str:
    """`text` with its line breaks kept and every other unprintable character escaped: for
    output the CLI lays out in lines itself, where data inside a line went through
    `for_terminal` already."""
    if text.isprintable():
        return text
    return "\n".join(for_terminal(line) for line in text.split("\n"))


class EscapingStream:
    """A text stream that writes through `for_terminal_lines`, so no escape sequence from data
    reaches the terminal even where a message forgot `for_terminal`. JSON lines pass unchanged:
    JSON escapes every control character itself."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(for_terminal_lines(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def unescaped(stream: TextIO) -> TextIO:
    """The stream beneath an EscapingStream, for the CLI's own control sequences (a progress
    line rewritten in place); whatever data goes with them must pass `for_terminal` first."""
    return stream._stream if isinstance(stream, EscapingStream) else stream


@contextmanager
def escaped_standard_streams() -> Iterator[None]:
    """stdout and stderr escaped for the duration, then restored."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(sys.stdout), EscapingStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
