"""End-to-end runs of the local pipeline on real public datasets shipped by PyPI packages."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from tests.support import datasets

E2E_SEED = 11


@pytest.fixture(autouse=True)
def jobs_and_endpoints_run_in_the_image(image_runtime):
    """Every run trains and serves in the image's environment."""


@pytest.fixture(scope="session", autouse=True)
def isolated_synth_cache(tmp_path_factory):
    """Each test session synthesizes afresh, so the tests see the app as it is now, unless
    MLOPS_TEST_CACHE_DIR names a folder that sessions running side by side share (CI's lanes): the
    synthesis key covers every input of the synthesis, so a shared folder never serves an app
    other than today's, and each synthesis is done once instead of once a lane."""
    patcher = pytest.MonkeyPatch()
    shared = os.environ.get("MLOPS_TEST_CACHE_DIR")
    patcher.setenv("MLOPS_CACHE_DIR", shared or str(tmp_path_factory.mktemp("mlops-cache")))
    patcher.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    yield
    patcher.undo()


@pytest.fixture(scope="session")
def breast_cancer_frame() -> pd.DataFrame:
    return datasets.breast_cancer().sample(frac=1.0, random_state=E2E_SEED).reset_index(drop=True)


@pytest.fixture(scope="session")
def penguins_frame() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins().sample(frac=1.0, random_state=E2E_SEED).reset_index(drop=True)
