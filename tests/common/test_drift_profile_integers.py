"""An integer column is counted into order rather than sorted; its profile must be the one the
same values get as floats, which are sorted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from functions.common.config import ColumnSchema, DatasetSchema
from functions.common.drift_profile import build_profile

ROWS = 2_000


def schema() -> DatasetSchema:
    return DatasetSchema(
        target="label",
        problem_type="multiclass",
        columns=[ColumnSchema(name="value", type="integer"), ColumnSchema(name="label", type="category")],
    )


def profile_of(values: np.ndarray) -> dict:
    sample = pd.DataFrame({"value": values, "label": ["a"] * len(values)})
    return build_profile(sample, schema(), bins=10, rows=len(values))["columns"]["value"]


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).integers(18, 80, ROWS),
        np.random.default_rng(2).integers(-40, 3, ROWS),
        np.random.default_rng(3).integers(-128, 127, ROWS).astype(np.int8),
        np.random.default_rng(4).integers(0, 60_000, ROWS).astype(np.uint16),
        np.random.default_rng(5).integers(-10**12, 10**12, ROWS),
        np.random.default_rng(6).integers(2**60, 2**60 + 50, ROWS),
        np.full(ROWS, 7),
        np.array([3]),
    ],
    ids=["narrow", "negative", "int8", "wider than the rows", "wide", "beyond exact floats", "constant", "one row"],
)
def test_an_integer_column_profiles_as_its_values_do_as_floats(values):
    assert profile_of(values) == profile_of(values.astype(float))
