"""training.framework "xgboost": the XGBoost framework image per region for training and the
model, the scikit-learn image kept for the validation job, the XGBoost trainer's bundle, and a
job of several instances reading its share of the training split's part files."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from infra_synthesis import Synthesized, synthesize

from functions.common.config import load_config
from infra import assets, regions, stack as stack_module
from infra.app import build_app
from infra.constructs.training import framework_image_uris
from infra.stack import SUPPORTED_REGION_RULE_ID

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"
XGBOOST_US_EAST_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
SKLEARN_US_EAST_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
INSTANCE_COUNT = 2


def xgboost_config_file(folder: Path, instance_count: int = INSTANCE_COUNT) -> Path:
    document = json.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    document["training"] = {"framework": "xgboost", "instance_count": instance_count}
    path = folder / "xgboost-pipeline.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def xgboost_stack(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    folder = tmp_path_factory.mktemp("xgboost")
    return synthesize(xgboost_config_file(folder), folder / "cdk.out")


def training_parameters(synthesized: Synthesized) -> dict:
    return synthesized.definition()["States"]["Start training"]["Parameters"]


def test_the_config_fills_the_xgboost_image_version_and_its_hyperparameters(tmp_path: Path) -> None:
    training = load_config(xgboost_config_file(tmp_path)).training
    assert (training.framework, training.framework_version) == ("xgboost", "3.0-5")
    assert training.hyperparameters == {"num_round": 200, "eta": 0.1, "max_depth": 6}


def test_training_and_the_model_use_the_xgboost_image_of_the_region(xgboost_stack: Synthesized) -> None:
    mappings = xgboost_stack.template_json["Mappings"]
    assert mappings["XgboostImages"]["us-east-1"] == {"image": XGBOOST_US_EAST_1}
    # The validation job keeps the scikit-learn image its bundle is built for.
    assert mappings["SklearnImages"]["us-east-1"] == {"image": SKLEARN_US_EAST_1}
    parameters = training_parameters(xgboost_stack)
    assert parameters["AlgorithmSpecification"]["TrainingImage"] == "<FindInMap:XgboostImages:<AWS::Region>:image>"
    xgboost_image = {"Fn::FindInMap": ["XgboostImages", {"Ref": "AWS::Region"}, "image"]}
    xgboost_stack.template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"INFERENCE_IMAGE_URI": xgboost_image})}},
    )
    states = xgboost_stack.definition()["States"]
    processing_images = {
        name: state["Parameters"]["AppSpecification"]["ImageUri"]
        for name, state in states.items()
        if state.get("Parameters", {}).get("AppSpecification")
    }
    # Training uploads' validation job, and a large batch's validation and join jobs.
    assert len(processing_images) == 3, processing_images
    assert set(processing_images.values()) == {"<FindInMap:SklearnImages:<AWS::Region>:image>"}


def test_the_training_split_is_sharded_across_the_instances(xgboost_stack: Synthesized) -> None:
    parameters = training_parameters(xgboost_stack)
    assert parameters["ResourceConfig"]["InstanceCount"] == INSTANCE_COUNT
    distribution = {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for channel in parameters["InputDataConfig"]
    }
    assert distribution == {
        "train": "ShardedByS3Key",
        "validation": "FullyReplicated",
        "test": "FullyReplicated",
        "code": "FullyReplicated",
    }
    assert training_parameters(xgboost_stack)["HyperParameters"]["num_round"] == "200"


def test_one_instance_replicates_every_channel(synthesized: Synthesized) -> None:
    channels = synthesized.definition()["States"]["Start training"]["Parameters"]["InputDataConfig"]
    assert {channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] for channel in channels} == {"FullyReplicated"}


def test_the_bundle_is_the_xgboost_trainer_with_the_shared_code(tmp_path: Path) -> None:
    bundle = assets.build_training_bundle(xgboost_config_file(tmp_path), tmp_path / "sourcedir.tar.gz")
    with tarfile.open(bundle, mode="r:gz") as archive:
        files = {member.name: archive.extractfile(member).read() for member in archive.getmembers()}  # type: ignore[union-attr]
    functions_dir = assets.REPOSITORY_ROOT / "functions"
    assert set(files) == {
        "__init__.py", "train.py", "inference.py", "tabular_serving.py", "tabular_training.py", "pipeline_config.json"
    }
    assert files["train.py"] == (functions_dir / "training_xgboost" / "train.py").read_bytes()
    assert files["tabular_serving.py"] == (functions_dir / "training" / "inference.py").read_bytes()
    assert json.loads(files["pipeline_config.json"])["training"]["framework"] == "xgboost"


def test_a_region_without_the_xgboost_image_fails_synthesis_naming_it(tmp_path: Path, monkeypatch) -> None:
    # Given an image table that lacks eu-south-2 for XGBoost (the SDK lists the same regions for
    # both images today), When synthesizing for it, Then the message names the missing image.
    def without_eu_south_2(framework: str, version: str) -> dict:
        images = dict(framework_image_uris(framework, version))
        if framework == "xgboost":
            images.pop("eu-south-2")
        return images

    monkeypatch.setattr(stack_module, "framework_image_uris", without_eu_south_2)
    with pytest.raises(regions.UnsupportedRegionError) as refused:
        build_app(str(xgboost_config_file(tmp_path)), outdir=tmp_path / "out", context={"region": "eu-south-2"})
    assert "region eu-south-2" in str(refused.value)
    assert "the SageMaker XGBoost framework image" in str(refused.value)


def test_the_region_agnostic_template_deploys_only_where_both_images_are(tmp_path: Path, monkeypatch) -> None:
    def without_eu_south_2(framework: str, version: str) -> dict:
        images = dict(framework_image_uris(framework, version))
        if framework == "xgboost":
            images.pop("eu-south-2")
        return images

    monkeypatch.setattr(stack_module, "framework_image_uris", without_eu_south_2)
    synthesized = synthesize(xgboost_config_file(tmp_path), tmp_path / "out")
    (assertion,) = synthesized.template_json["Rules"][SUPPORTED_REGION_RULE_ID]["Assertions"]
    supported = assertion["Assert"]["Fn::Contains"][0]
    assert "eu-south-2" not in supported and "us-east-1" in supported
