"""Curated CSV rows built column by column, formatting each distinct value once.

A row of the curated splits is its coerced values as text (integers by format_number, floats
by repr, labels as they are, nulls and invalid values empty), each field quoted as csv.writer
quotes it (QUOTE_MINIMAL, "\\n" line ends), joined by commas. Values
repeat a lot within a chunk (labels always, numbers written with a few digits), so each
column's distinct values are found first (by their bit pattern for numbers, so -0.0 and 0.0
stay apart), formatted and quoted once by the same `repr`/`format_number` and csv.writer, and
Arrow gathers and joins them into lines (the line end added to the last column's distinct
texts, so the rows are joined once). csv.writer quotes a field by its own text, except an
empty field that is a row's only field, which it writes as "": that case is kept.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pandas as pd

from functions.common.column_work import each_column
from functions.validate_data.columns import MAX_EXACT_INTEGER, CoercedColumn, format_number

LINE_END = "\n"
FIELD_SEPARATOR = ","
# What can make csv.writer (QUOTE_MINIMAL, no escapechar) quote a field: the delimiter, the
# quote character and line-end characters (CPython's Modules/_csv.c, join_append_data; "\r"
# with any line terminator since 3.12). A value holding one goes through csv.writer itself.
# Fractional numbers in this range Arrow's float-to-string cast writes as Python's repr does
# (shortest round-trip digits, positional); beyond 1e10 Arrow switches to exponent notation,
# Python at 1e16; below 1e-4 Python switches (tests/validate_data/test_csv_lines.py).
ARROW_REPR_MIN = 1e-4
ARROW_REPR_MAX = 1e9
QUOTE_MINIMAL_TRIGGERS = frozenset({FIELD_SEPARATOR, '"', "\r", "\n"})


def csv_fields(values: list[str], *, only_field: bool) -> list[str]:
    """Each value as csv.writer writes it in a row; `only_field` for a one-column row.

    A value without a character csv.writer may quote for (QUOTE_MINIMAL_TRIGGERS) is written as
    it is, and an empty value is too, unless it is the row's only field.
    """
    return [
        _csv_field(value, only_field) if (not value and only_field) or not QUOTE_MINIMAL_TRIGGERS.isdisjoint(value) else value
        for value in values
    ]


def _csv_field(value: str, only_field: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_END)
    # A second, empty field keeps a lone empty value unquoted, as it is in a row of several.
    padding = [] if only_field else [""]
    writer.writerow([value, *padding])
    written = buffer.getvalue()
    return written[: len(written) - len(LINE_END) - len(padding)]


def column_fields(values: CoercedColumn, *, only_field: bool, suffix: str = "") -> Any:
    """pyarrow string array: each row's field of this column, quoted as csv.writer would, then
    `suffix` (added to the distinct texts, not to every row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.is_numeric:
        codes, distinct = pd.factorize(np.ascontiguousarray(values.numbers).view(np.uint64))
        # A number's text never holds a character csv.writer quotes for.
        texts = number_texts(distinct.view(np.float64), integer=values.schema.type == "integer")
        if suffix:
            texts = pc.binary_join_element_wise(texts, pa.scalar(suffix, pa.string()), "")
    else:
        if values.label_codes is not None:
            codes, distinct = values.label_codes, values.label_values
        else:
            codes, distinct = pd.factorize(values.labels)
        texts = pa.array([text + suffix for text in csv_fields([str(label) for label in distinct], only_field=only_field)], type=pa.string())
    codes = np.array(codes, dtype=np.int64)
    # One more entry, the empty field, for nulls and invalid values.
    codes[values.null | values.invalid | (codes < 0)] = len(texts)
    empty = pa.array([text + suffix for text in csv_fields([""], only_field=only_field)], type=pa.string())
    return pa.concat_arrays([texts, empty]).take(pa.array(codes))


def number_texts(numbers: np.ndarray, *, integer: bool) -> Any:
    """pyarrow string array: format_number (integer columns) or repr (float columns) of each.

    Arrow formats most numbers the same way, far faster: an integral value below 2**53 is an
    exact int64 ("5", or "5.0" for a float column, except -0.0), and a fractional value with
    ARROW_REPR_MIN <= |value| < ARROW_REPR_MAX is written by both as its shortest round-trip
    digits in positional notation. Python formats the rest.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    magnitude = np.abs(numbers)
    with np.errstate(invalid="ignore"):
        integral = (numbers == np.floor(numbers)) & (magnitude < MAX_EXACT_INTEGER)
    if not integer:
        integral &= ~((numbers == 0) & np.signbit(numbers))
    fractional = ~integral & (magnitude >= ARROW_REPR_MIN) & (magnitude < ARROW_REPR_MAX) & np.isfinite(numbers)
    in_python = ~integral & ~fractional
    format_value = format_number if integer else _float_text
    integers = pc.cast(pa.array(numbers[integral].astype(np.int64)), pa.string())
    pieces = [
        integers if integer else pc.binary_join_element_wise(integers, pa.scalar(".0", pa.string()), ""),
        pc.cast(pa.array(numbers[fractional]), pa.string()),
        pa.array([format_value(number) for number in numbers[in_python].tolist()], type=pa.string()),
    ]
    # Position of each number's text in the concatenated pieces.
    position = np.empty(len(numbers), dtype=np.int64)
    start = 0
    for mask in (integral, fractional, in_python):
        count = int(mask.sum())
        position[mask] = np.arange(start, start + count)
        start += count
    return pa.concat_arrays(pieces).take(pa.array(position))


def csv_lines(columns: list[CoercedColumn]) -> Any:
    """pyarrow string array: each row of the chunk as a CSV line, its line end included."""
    import pyarrow.compute as pc

    only_field = len(columns) == 1
    # The line end rides on the last field's distinct texts: one join of the rows, not two.
    last = len(columns) - 1
    fields = each_column(
        lambda item: column_fields(item[1], only_field=only_field, suffix=LINE_END if item[0] == last else ""),
        list(enumerate(columns)),
    )
    return pc.binary_join_element_wise(*fields, FIELD_SEPARATOR)


def write_lines(stream: Any, lines: Any, rows: np.ndarray) -> None:
    """Write the lines selected by the boolean mask `rows` to the binary `stream`."""
    import pyarrow as pa

    if rows.any():
        stream.write(_string_bytes(lines.filter(pa.array(rows))))


def _float_text(value: float) -> str:
    return repr(value)


def _string_bytes(array: Any) -> memoryview:
    """The concatenated UTF-8 bytes of a pyarrow string array without nulls."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    return memoryview(array.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
