"""Turning raw column values into typed values, with the safe coercions the schema allows.

Raw values come from the reader: strings from a CSV file, native dtypes from Parquet. Every
column is coerced the same way for checking, profiling and writing the curated splits, so a
value that passed validation is written exactly as it was checked.

Stated coercions:
- integer: any number that is integral ("3", "3.0", 3.0); anything else is a type error.
- float: any finite number, including numeric strings ("1e3", " 2.5 ").
- boolean: true/false/1/0 (any case, also "1.0"/"0.0" and native booleans).
- category: any value; numbers are written canonically ("1.0" -> "1"), and a value that is
  numerically equal to a declared category is that category.
A value is null when it is missing or one of NULL_TOKENS (case-insensitive, after stripping).

`coerce_column` takes a pandas Series (the exact path: per-value rules) or a pyarrow string
array (the fast path, same results): numbers are cast by Arrow, and a column whose cast fails
or yields non-finite values goes value by value; other columns apply the per-value rules to
their distinct values only and spread the results to the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from functions.common.config import ColumnSchema

NULL_TOKENS = frozenset(
    {"", "na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#na", "#n/a n/a", "nat", "-1.#ind", "1.#ind"}
)
TRUE_TOKENS = frozenset({"true", "1", "1.0"})
FALSE_TOKENS = frozenset({"false", "0", "0.0"})
NUMERIC_TYPES = frozenset({"integer", "float"})
# Integral floats beyond this are printed in exponent form rather than as integers.
MAX_EXACT_INTEGER = 2**53
# Content-hash stand-ins for values that have no number of their own.
NULL_VALUE_HASH = np.uint64(0x6E756C6C)
INVALID_VALUE_HASH = np.uint64(0x696E7661)


@dataclass(frozen=True)
class CoercedColumn:
    """One column of one chunk after coercion.

    numbers: float64 values (NaN where null or invalid) for numeric and boolean columns, and for
      category columns whose value is a number (used for leakage checks); labels: canonical text
      for category and boolean columns, None elsewhere.
    label_values, label_codes: when the labels were coerced from a column's distinct values
      (the Arrow path), those values' labels and each row's index into them, so that per-label
      work (hashing, membership, formatting) runs once per distinct value:
      labels == label_values[label_codes].
    """

    schema: ColumnSchema
    numbers: np.ndarray
    labels: np.ndarray | None
    null: np.ndarray
    invalid: np.ndarray
    label_values: np.ndarray | None = None
    label_codes: np.ndarray | None = None

    @property
    def is_numeric(self) -> bool:
        return self.schema.type in NUMERIC_TYPES

    def content_hashes(self) -> np.ndarray:
        """One uint64 per row that depends only on the coerced value (for duplicates and the split)."""
        if self.label_codes is not None:
            # hash_array hashes each value alone: hashing the distinct values is the same.
            hashes = pd.util.hash_array(self.label_values.astype(object), categorize=False)[self.label_codes]
        elif self.labels is not None:
            hashes = pd.util.hash_array(self.labels.astype(object), categorize=True)
        else:
            hashes = (self.numbers + 0.0).view(np.uint64).copy()
        hashes[self.null] = NULL_VALUE_HASH
        hashes[self.invalid] = INVALID_VALUE_HASH
        return hashes

    def labels_in(self, allowed: list[str]) -> np.ndarray:
        """Whether each row's label is one of `allowed`."""
        if self.label_codes is not None:
            # A few distinct labels: a set lookup each costs less than building a Series.
            allowed_labels = set(allowed)
            distinct_in = np.fromiter(
                (label in allowed_labels for label in self.label_values.tolist()), dtype=bool, count=len(self.label_values)
            )
            return distinct_in[self.label_codes]
        return pd.Series(self.labels, dtype=object).isin(allowed).to_numpy()


def format_number(value: float) -> str:
    if math.isfinite(value) and value == math.floor(value) and abs(value) < MAX_EXACT_INTEGER:
        return str(int(value))
    return repr(float(value))


def text_values(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Stripped text of each value (object array) and the null mask."""
    missing = series.isna().to_numpy()
    if is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype):
        numbers = series.to_numpy(dtype=float, na_value=np.nan)
        text = np.array([format_number(value) for value in numbers], dtype=object)
    else:
        text = np.array([str(value).strip() for value in series.to_numpy(dtype=object)], dtype=object)
    lowered = np.array([value.lower() for value in text], dtype=object) if len(text) else text
    null = missing | np.isin(lowered, list(NULL_TOKENS))
    text[null] = ""
    return text, null


def parse_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float values, null mask, unparseable mask) of any raw column."""
    if is_bool_dtype(series.dtype):
        null = series.isna().to_numpy()
        numbers = series.astype("float64").to_numpy(dtype=float, na_value=np.nan) if not null.any() else np.array(
            [np.nan if missing else float(value) for value, missing in zip(series.to_numpy(dtype=object), null)]
        )
        return numbers, null, np.zeros(len(series), dtype=bool)
    if is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype=float, na_value=np.nan)
        null = np.isnan(numbers)
        return numbers, null, np.isinf(numbers)
    text, null = text_values(series)
    numbers = parse_text_numbers(text, null)
    invalid = ~null & ~np.isfinite(numbers)
    numbers[invalid] = np.nan
    return numbers, null, invalid


def parse_text_numbers(text: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Float values of stripped text (NaN where null or not a number), correctly rounded.

    pandas decides which values are numbers, but its own float parser is not correctly rounded
    before pandas 3.1 (pandas 3.0.1 in the Lambda layer reads some 17-digit values one ulp off),
    so the values themselves come from Arrow's cast, or Python's float, both correctly rounded:
    the same text gives the same bits in every runtime, and so the same splits.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = np.array(
        pd.to_numeric(pd.Series(np.where(null, None, text), dtype=object), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        ),
        copy=True,
    )
    parsed = np.flatnonzero(~np.isnan(numbers))
    if not len(parsed):
        return numbers
    try:
        numbers[parsed] = pc.cast(pa.array(text[parsed].tolist(), pa.string()), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        numbers[parsed] = [_correctly_rounded(value, fallback) for value, fallback in zip(text[parsed], numbers[parsed])]
    return numbers


def _correctly_rounded(value: str, fallback: float) -> float:
    try:
        return float(value)
    except ValueError:
        return fallback


def coerce_column(raw: Any, schema: ColumnSchema, *, empty_fields_seen: bool = False) -> CoercedColumn:
    """Coerce a pandas Series, or a pyarrow string array from the CSV fast path.

    `empty_fields_seen`: an earlier chunk of this column had empty fields, so the cast that
    reads them as nulls is tried first; the result is the same either way.
    """
    if isinstance(raw, pd.Series):
        return _coerce_series(raw, schema)
    return _coerce_arrow_strings(raw, schema, empty_fields_seen)


def raw_value(raw: Any, position: int) -> Any:
    """The value at `position` as read from the file (for examples in findings)."""
    if isinstance(raw, pd.Series):
        return raw.iloc[position]
    return raw[position].as_py()


def _coerce_arrow_strings(array: Any, schema: ColumnSchema, empty_fields_seen: bool = False) -> CoercedColumn:
    import pyarrow.compute as pc

    if schema.type in NUMERIC_TYPES:
        cast = _cast_arrow_numbers(array, empty_fields_seen)
        if cast is not None:
            numbers, null = cast
            invalid = np.zeros(len(numbers), dtype=bool)
            if schema.type == "integer":
                invalid = ~null & (numbers != np.floor(numbers))
            return CoercedColumn(schema, numbers, None, null, invalid)
        return _coerce_series(pd.Series(array.to_numpy(zero_copy_only=False), dtype=object), schema)
    encoded = pc.dictionary_encode(array)
    distinct = _coerce_series(pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object), schema)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    if distinct.labels is None:
        return CoercedColumn(schema, distinct.numbers[codes], None, distinct.null[codes], distinct.invalid[codes])
    return CoercedColumn(
        schema,
        distinct.numbers[codes],
        distinct.labels[codes],
        distinct.null[codes],
        distinct.invalid[codes],
        label_values=distinct.labels,
        label_codes=codes,
    )


def _cast_arrow_numbers(array: Any, empty_fields_expected: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """(float values, null mask) when Arrow reads every value as a finite number or a null token.

    None means some value needs the per-value rules (text, infinity, an unusual NaN spelling).
    A cast Arrow refuses costs up to ten that it completes (pyarrow 26, 1,000,000 values with
    empty fields: 0.55 s refused, 0.09 s with the empty fields as nulls), so a column expected to
    have empty fields is cast with them as nulls first.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cast = _cast_with_empty_nulls(array) if empty_fields_expected else None
    if cast is not None:
        numbers, null = cast
    else:
        try:
            numbers = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
            null = np.zeros(len(numbers), dtype=bool)
        except pa.ArrowInvalid:
            cast = _cast_with_empty_nulls(array) if not empty_fields_expected else None
            if cast is None:
                cast = _cast_with_null_tokens(array)
            if cast is None:
                return None
            numbers, null = cast
    if not np.isfinite(numbers[~null]).all():
        return None
    return numbers, null


def _cast_with_empty_nulls(array: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The cast when the only values Arrow cannot read are empty fields (the usual nulls of a
    numeric column), without trimming and lowering every value to look for null tokens: a value
    Arrow reads as a finite number is no null token, and reads the same trimmed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = pc.equal(array, pa.scalar("", pa.string()))
    try:
        numbers = pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()), array), pa.float64())
    except pa.ArrowInvalid:
        return None
    numbers = numbers.to_numpy(zero_copy_only=False)
    null = empty.to_numpy(zero_copy_only=False)
    # "nan" and friends are null tokens: the full rules decide them.
    return (numbers, null) if np.isfinite(numbers[~null]).all() else None


def _cast_with_null_tokens(array: Any) -> tuple[np.ndarray, np.ndarray] | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(array)
    null_tokens = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(sorted(NULL_TOKENS)))
    try:
        numbers = pc.cast(pc.if_else(null_tokens, pa.scalar(None, pa.string()), trimmed), pa.float64())
    except pa.ArrowInvalid:
        return None
    return numbers.to_numpy(zero_copy_only=False), null_tokens.to_numpy(zero_copy_only=False)


def _coerce_series(series: pd.Series, schema: ColumnSchema) -> CoercedColumn:
    if schema.type in NUMERIC_TYPES:
        numbers, null, invalid = parse_numbers(series)
        if schema.type == "integer":
            fractional = ~null & ~invalid & (numbers != np.floor(numbers))
            invalid = invalid | fractional
        return CoercedColumn(schema, numbers, None, null, invalid)
    if schema.type == "boolean":
        return _coerce_boolean(series, schema)
    if schema.type == "date":
        return _coerce_date(series, schema)
    return _coerce_category(series, schema)


def _coerce_date(series: pd.Series, schema: ColumnSchema) -> CoercedColumn:
    """Dates are kept as written; a value that does not parse as a date is invalid."""
    text, null = text_values(series)
    parsed = pd.to_datetime(pd.Series(np.where(null, None, text), dtype=object), errors="coerce", format="mixed")
    invalid = ~null & parsed.isna().to_numpy()
    numbers = np.full(len(text), np.nan)
    return CoercedColumn(schema, numbers, text, null, invalid)


def _coerce_boolean(series: pd.Series, schema: ColumnSchema) -> CoercedColumn:
    if is_bool_dtype(series.dtype):
        null = series.isna().to_numpy()
        flags = np.array([bool(value) if not missing else False for value, missing in zip(series.to_numpy(dtype=object), null)])
        invalid = np.zeros(len(series), dtype=bool)
    else:
        text, null = text_values(series)
        lowered = np.array([value.lower() for value in text], dtype=object)
        is_true = np.isin(lowered, list(TRUE_TOKENS))
        is_false = np.isin(lowered, list(FALSE_TOKENS))
        invalid = ~null & ~is_true & ~is_false
        flags = is_true
    numbers = np.where(null | invalid, np.nan, flags.astype(float))
    labels = np.where(flags, "True", "False").astype(object)
    labels[null | invalid] = ""
    return CoercedColumn(schema, numbers, labels, null, invalid)


def _coerce_category(series: pd.Series, schema: ColumnSchema) -> CoercedColumn:
    text, null = text_values(series)
    numbers = parse_text_numbers(text, null)
    if schema.categories:
        declared = set(schema.categories)
        by_number = _categories_by_number(schema.categories)
        if by_number:
            unique_values = pd.unique(text[~null])
            renames = {}
            for value in unique_values:
                if value in declared:
                    continue
                try:
                    key = format_number(float(value))
                except ValueError:
                    continue
                if key in by_number:
                    renames[value] = by_number[key]
            if renames:
                text = np.array([renames.get(value, value) for value in text], dtype=object)
    return CoercedColumn(schema, numbers, text, null, np.zeros(len(text), dtype=bool))


def _categories_by_number(categories: list[str]) -> dict[str, str]:
    by_number: dict[str, str] = {}
    for category in categories:
        try:
            by_number[format_number(float(category))] = category
        except ValueError:
            continue
    return by_number
