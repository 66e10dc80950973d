"""The real datasets schema inference is tried on."""

from __future__ import annotations

import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_breast_cancer


@pytest.fixture(scope="session")
def breast_cancer() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(name).replace(" ", "_") for name in frame.columns]
    return frame


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return load_penguins()
