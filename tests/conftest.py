"""Settings every test process shares."""

import os

# Set before numpy, scikit-learn or XGBoost load here, and inherited by every job, endpoint and
# `mlops local` process the tests start. The tests share a few cores with each other and with the
# jobs they run; OpenMP's worker threads spin-wait for each other, and when the cores are busy a
# fit on a few hundred rows takes several times longer with two threads than with one. One
# thread changes no model: a HistGradientBoostingClassifier on the breast cancer rows gives the
# same probabilities byte for byte with OMP_NUM_THREADS 1 and 2.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

from functions.common.aws_clients import clear_clients  # noqa: E402
from tests.support.runtimes import image_python  # noqa: E402

# Powertools reads these when a handler module is imported, as Lambda does at cold start; a
# test process imports each handler once, so they are set before any test imports one.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "mlops-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(autouse=True)
def cold_aws_clients():
    """Each test starts as a new execution environment: no boto3 client made under another test's
    moto, region, credentials or event hooks reaches it."""
    clear_clients()
    yield
    clear_clients()


@pytest.fixture(scope="session")
def image_runtime():
    """The SageMaker image's interpreter, for tests whose jobs or endpoints run in it; without it
    they skip with the reason (the missing interpreter and how to get it)."""
    return image_python()


@pytest.fixture(autouse=True)
def local_server_state_folder(tmp_path, monkeypatch):
    """`mlops local up` keeps its state in the user's home; a test keeps it in its own folder, so
    no test reaches a server of the person running the tests or of another test."""
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / ".mlops"))


# The shared helpers assert too; their failures read like the tests' own.
pytest.register_assert_rewrite("tests.support")


@pytest.fixture(scope="session", autouse=True)
def api_models_read_once():
    """moto gives each test's mock a new default session, which would parse botocore's JSON API
    models again for the first client of each service; the models are the same for the whole
    run, so every session shares one loader (see mlops.local.api_models)."""
    import botocore.session

    from mlops.local.api_models import shared_loader

    patcher = pytest.MonkeyPatch()
    patcher.setattr(botocore.session, "create_loader", shared_loader)
    yield
    patcher.undo()
