"""The template for a config naming the user's own training code (`training.source_dir`): the
training job runs the contract runner from a bundle of the user's folder, and the registry's code
version is that bundle's hash."""

from __future__ import annotations

import json
import os
import tarfile

import pytest
from infra_synthesis import Synthesized, synthesize

from tests.support.training_source import REPOSITORY_ROOT

EXAMPLE = REPOSITORY_ROOT / "examples" / "custom_training"


@pytest.fixture(scope="module")
def user_code_synthesized(tmp_path_factory) -> Synthesized:
    folder = tmp_path_factory.mktemp("project")
    document = json.loads((REPOSITORY_ROOT / "pipeline.json").read_text())
    document["training"]["source_dir"] = os.path.relpath(EXAMPLE, folder)
    document["training"]["hyperparameters"] = {"C": 0.5}
    config = folder / "pipeline.json"
    config.write_text(json.dumps(document))
    return synthesize(config, tmp_path_factory.mktemp("cdk.out"))


def _start_training(synthesized: Synthesized) -> dict:
    return synthesized.definition()["States"]["Start training"]["Parameters"]


def _code_version(synthesized: Synthesized) -> str:
    (function,) = [
        resource
        for resource in synthesized.resources("AWS::Lambda::Function").values()
        if resource["Properties"]["Handler"] == "functions.register_model.handler.lambda_handler"
    ]
    return function["Properties"]["Environment"]["Variables"]["CODE_VERSION"]


def test_the_job_runs_the_contract_runner_with_the_user_s_hyperparameters(user_code_synthesized, synthesized):
    user_job = _start_training(user_code_synthesized)["HyperParameters"]
    built_in_job = _start_training(synthesized)["HyperParameters"]

    assert user_job["sagemaker_program"] == "script_contract.py"
    assert built_in_job["sagemaker_program"] == "train.py"
    assert user_job["C"] == "0.5" and "estimator" not in user_job
    assert _start_training(user_code_synthesized)["EnableNetworkIsolation"] is True


def test_the_code_version_is_the_hash_of_the_bundle_of_the_user_s_folder(user_code_synthesized, synthesized):
    code_version = _code_version(user_code_synthesized)
    bundle_key = _start_training(user_code_synthesized)["HyperParameters"]["sagemaker_submit_directory"].rsplit("/", 1)[1]

    assert bundle_key.startswith(code_version)
    assert code_version != _code_version(synthesized)
    bundle = user_code_synthesized.outdir / f"asset.{code_version}.tar.gz"
    with tarfile.open(bundle) as archive:
        names = set(archive.getnames())
    assert {"train.py", "features.py", "inference.py", "script_contract.py", "pipeline_config.json"} == names


def test_the_user_s_folder_runs_in_the_image_of_the_chosen_framework(tmp_path_factory):
    # Given the example folder with framework xgboost
    folder = tmp_path_factory.mktemp("xgboost-project")
    document = json.loads((REPOSITORY_ROOT / "pipeline.json").read_text())
    document["training"] = {"framework": "xgboost", "source_dir": os.path.relpath(EXAMPLE, folder), "hyperparameters": {"C": 0.5}}
    config = folder / "pipeline.json"
    config.write_text(json.dumps(document))
    # When it is synthesized
    parameters = _start_training(synthesize(config, tmp_path_factory.mktemp("cdk.out")))
    # Then the XGBoost image runs the contract runner with the user's own hyperparameters
    assert parameters["AlgorithmSpecification"]["TrainingImage"] == "<FindInMap:XgboostImages:<AWS::Region>:image>"
    assert parameters["HyperParameters"]["sagemaker_program"] == "script_contract.py"
    assert parameters["HyperParameters"]["C"] == "0.5"
