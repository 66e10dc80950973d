"""Text from data (column names, values, reasons, keys) made safe to print to a terminal.

A CSV header or an S3 key can carry ANSI/OSC escape sequences, which a terminal executes
(colours, cursor moves, window titles, hyperlinks, on some terminals clipboard writes), and
invisible format characters (zero-width spaces, bidirectional overrides) that make two
different names look the same. Only the human output goes through here; JSON output keeps
the data as it is.
"""

from __future__ import annotations


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
