"""Each lane runs under the versions the runtime manifest names, so a green lane means what it says."""

from __future__ import annotations

import importlib.metadata
import os
import sys

import pytest

from infra import runtime_manifest
from mlops.local import runtime_env
from tests.support.runtimes import image_python
from tests.support.xgboost_training import xgboost_python

LANE_VARIABLE = "MLOPS_RUNTIME_LANE"
LAMBDA_LANE = "lambda"


def test_the_image_environment_has_the_images_python_and_packages():
    image = runtime_manifest.sklearn_image()
    described = runtime_env.describe(image_python())
    assert described == {"python": image["python"], "packages": image["packages"]}


def test_the_xgboost_image_environment_has_the_images_python_and_packages():
    image = runtime_manifest.framework_image("xgboost")
    described = runtime_env.describe(xgboost_python(), "xgboost")
    assert described == {"python": image["python"], "packages": image["packages"]}


def test_jobs_and_models_run_in_the_environment_of_the_image_they_name():
    # The image URIs image_uris gives for each framework; an image the manifest does not describe
    # cannot run locally, as nothing says what it holds.
    assert runtime_env.framework_of_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5") == "xgboost"
    assert runtime_env.framework_of_image(
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    ) == "sklearn"
    with pytest.raises(runtime_env.UnknownImageError, match="sagemaker-pytorch"):
        runtime_env.framework_of_image("763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-pytorch:2.1-cpu-py310")


@pytest.mark.skipif(
    os.environ.get(LANE_VARIABLE) != LAMBDA_LANE,
    reason=f"checks the Lambda lane's interpreter; runs there ({LANE_VARIABLE}={LAMBDA_LANE}, .ci/run)",
)
def test_the_lambda_lane_runs_the_lambda_runtimes_python_and_the_layers_packages():
    facts = runtime_manifest.lambda_runtime()
    installed = {name: importlib.metadata.version(name) for name in runtime_manifest.lambda_lane_packages()}
    assert "%d.%d" % sys.version_info[:2] == facts["python"]
    assert installed == runtime_manifest.lambda_lane_packages()
