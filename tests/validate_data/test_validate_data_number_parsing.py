"""Numbers read from text are correctly rounded in every runtime: the Lambda layer's pandas
reads some 17-significant-digit values one ulp away from the nearest double, which moved rows
between splits; the same text must give the same bits wherever validation runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from functions.common.config import ColumnSchema
from functions.validate_data.columns import coerce_column, parse_numbers, parse_text_numbers, text_values

SEED = 20261203
VALUES = 5_000


def seventeen_digit_texts() -> list[str]:
    rng = np.random.default_rng(SEED)
    magnitudes = rng.normal(100.0, 40.0, VALUES) * 10.0 ** rng.integers(-5, 6, VALUES)
    return [f"{value:.16e}" for value in magnitudes] + [repr(float(value)) for value in magnitudes]


def test_text_numbers_are_the_nearest_doubles():
    # Given values written with 17 significant digits, and in Python's shortest form
    texts = seventeen_digit_texts()
    # When they are read as numbers
    numbers, null, invalid = parse_numbers(pd.Series(texts, dtype=object))
    # Then each is the double Python's correctly rounded float() gives
    assert not null.any() and not invalid.any()
    assert numbers.tolist() == [float(text) for text in texts]


def test_text_that_is_no_number_stays_unparsed_beside_numbers():
    # Given a column mixing numbers, null tokens, text and spellings only some parsers accept
    texts = pd.Series([" 3.25 ", "NA", "", "abc", "1_000", "1E22", "-0.0", "0x10", "+5", "inf"], dtype=object)
    text, null = text_values(texts)
    # When it is read
    numbers = parse_text_numbers(text, null)
    # Then numbers are read, nulls and text are NaN, and underscores or hex are not numbers
    assert numbers[0] == 3.25 and numbers[5] == 1e22 and numbers[8] == 5.0 and numbers[9] == np.inf
    assert np.signbit(numbers[6])
    assert np.isnan(numbers[[1, 2, 3, 4, 7]]).all()


def _same_coercion(first, second) -> bool:
    return (
        np.array_equal(first.numbers, second.numbers, equal_nan=True)
        and np.array_equal(first.null, second.null)
        and np.array_equal(first.invalid, second.invalid)
    )


def test_a_column_expected_to_have_empty_fields_is_coerced_as_without_the_hint():
    schema = ColumnSchema(name="amount", type="float")
    columns = {
        "no empty field": ["1.5", "2", "-0.0", "1e3"],
        "empty fields": ["1.5", "", "2", ""],
        "null tokens": ["1.5", "NA", " 2 ", "null"],
        "text": ["1.5", "abc", "", "2"],
        "infinity": ["1.5", "inf", "", "2"],
    }
    for name, texts in columns.items():
        # Given a column of a chunk, coerced without knowing whether earlier chunks had empty fields
        plain = coerce_column(pa.array(texts, pa.string()), schema)
        # When it is coerced as a column that had them
        hinted = coerce_column(pa.array(texts, pa.string()), schema, empty_fields_seen=True)
        # Then every value, null and invalid flag is the same
        assert _same_coercion(plain, hinted), name
        assert _same_coercion(plain, coerce_column(pd.Series(texts, dtype=object), schema)), name
