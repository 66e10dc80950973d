"""The curated CSV writer's shortcuts give exactly what csv.writer, repr and format_number give."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from functions.validate_data.columns import format_number
from functions.validate_data.csv_lines import csv_fields, number_texts

SEED = 20251202
NUMBERS_PER_DECADE = 2_000
CHARACTERS = [",", '"', "\r", "\n", " ", "\t", "a", "é", "'", ";", "\\", "0"]


def awkward_numbers() -> np.ndarray:
    """Random doubles of every decade from 1e-8 to 1e20, at full precision and rounded, both
    signs, with their neighbours one ulp away, integers around 2**53 and the special values."""
    rng = np.random.default_rng(SEED)
    decades = [rng.random(NUMBERS_PER_DECADE) * 10.0**exponent for exponent in range(-8, 21)]
    values = np.concatenate(decades)
    values = np.concatenate([values, np.round(values, 2), np.round(values), np.nextafter(values, np.inf)])
    values = np.concatenate([values, -values])
    edges = [0.0, -0.0, 1e-4, 1e9, 1e10, 1e15, 1e16, 2.0**53, 2.0**53 - 1, 2.0**53 + 2, np.inf, -np.inf, np.nan, 5.0, 1e-7]
    return np.concatenate([values, np.array(edges)])


@pytest.mark.parametrize("integer", [False, True])
def test_number_texts_are_those_of_repr_and_format_number(integer):
    numbers = awkward_numbers()
    expected = [format_number(value) if integer else repr(value) for value in numbers.tolist()]

    assert number_texts(numbers, integer=integer).to_pylist() == expected


def _written_by_csv_module(value: str, only_field: bool) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value] if only_field else [value, "x"])
    return buffer.getvalue()


@pytest.mark.parametrize("only_field", [False, True])
def test_csv_fields_are_quoted_as_csv_writer_quotes_them(only_field):
    rng = np.random.default_rng(SEED)
    values = ["", *CHARACTERS, *("".join(rng.choice(CHARACTERS, rng.integers(1, 6))) for _ in range(3000))]
    suffix = "\n" if only_field else ",x\n"

    assert [field + suffix for field in csv_fields(values, only_field=only_field)] == [
        _written_by_csv_module(value, only_field) for value in values
    ]
