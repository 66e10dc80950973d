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
