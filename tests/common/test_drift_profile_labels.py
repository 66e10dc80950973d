"""Category profiles count labels the same whatever holds them: an object column with None, or
pandas' Arrow-backed string column (the default for text in pandas 3) with missing values."""

from __future__ import annotations

import pandas as pd
import pytest

from functions.common.config import ColumnSchema, DatasetSchema
from functions.common.drift_profile import build_profile

LABELS = ["b", "a", None, "c", "a", "", "b", "a", None, "d"]


def schema() -> DatasetSchema:
    return DatasetSchema(
        target="label",
        problem_type="multiclass",
        columns=[ColumnSchema(name="label", type="category", nullable=True, max_null_fraction=1.0)],
    )


@pytest.mark.parametrize("dtype", [object, "str"])
def test_labels_are_counted_in_order_of_frequency_without_their_nulls(dtype):
    sample = pd.DataFrame({"label": pd.Series(LABELS, dtype=dtype)})

    profile = build_profile(sample, schema(), bins=10, rows=len(LABELS))["columns"]["label"]

    assert list(profile["frequencies"].items()) == [("a", 3 / 7), ("b", 2 / 7), ("c", 1 / 7), ("d", 1 / 7)]
    assert profile["null_fraction"] == pytest.approx(3 / 10)


# Twenty labels, more than a sort of small arrays keeps stable by itself: ties at every count.
MANY_LABELS = [f"label_{number:02d}" for number in (7, 3, 19, 0, 12, 5, 16, 1, 9, 14, 2, 18, 6, 11, 4, 17, 8, 13, 10, 15)]


@pytest.mark.parametrize("dtype", [object, "str", pd.StringDtype("pyarrow")])
def test_labels_with_equal_counts_keep_their_order_of_first_appearance(dtype):
    rows = MANY_LABELS + MANY_LABELS[::-1] + MANY_LABELS[5:10] + [None]
    sample = pd.DataFrame({"label": pd.Series(rows, dtype=dtype)})

    profile = build_profile(sample, schema(), bins=10, rows=len(rows))["columns"]["label"]

    expected_order = MANY_LABELS[5:10] + MANY_LABELS[:5] + MANY_LABELS[10:]
    assert list(profile["frequencies"]) == expected_order
    assert profile["null_fraction"] == pytest.approx(1 / len(rows))


def test_labels_that_print_alike_are_counted_as_one():
    sample = pd.DataFrame({"label": pd.Series([1, "1", "2", 2.5, "1"], dtype=object)})

    profile = build_profile(sample, schema(), bins=10, rows=5)["columns"]["label"]

    assert profile["frequencies"] == {"1": 3 / 5, "2": 1 / 5, "2.5": 1 / 5}
