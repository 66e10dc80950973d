"""Layer ARNs per partition and region come from the publishers' tables; a region that lacks a
layer, the Model Registry or the image cannot be synthesized for, and the region-agnostic
template deploys only where everything is offered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import regions
from infra.app import build_app
from infra.constructs.lambda_factory import LambdaFactory
from infra.constructs.training import sklearn_image_uris
from infra.stack import SUPPORTED_REGION_RULE_ID

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "pipeline.json"


@pytest.mark.parametrize(
    ("region", "pandas", "powertools"),
    [
        (
            "us-east-1",
            "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:29",
            "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27",
        ),
        (
            "af-south-1",
            "arn:aws:lambda:af-south-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:28",
            "arn:aws:lambda:af-south-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27",
        ),
        (
            "ap-east-1",
            "arn:aws:lambda:ap-east-1:839552336658:layer:AWSSDKPandas-Python312-Arm64:26",
            "arn:aws:lambda:ap-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27",
        ),
        (
            "il-central-1",
            "arn:aws:lambda:il-central-1:263840725265:layer:AWSSDKPandas-Python312-Arm64:26",
            "arn:aws:lambda:il-central-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27",
        ),
        (
            "cn-north-1",
            "arn:aws-cn:lambda:cn-north-1:406640652441:layer:AWSSDKPandas-Python312-Arm64:10",
            "arn:aws-cn:lambda:cn-north-1:498634801083:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27",
        ),
    ],
)
def test_layer_arns_are_the_publishers_rows(region, pandas, powertools):
    assert regions.layers_for(region) == regions.RegionLayers(pandas=pandas, powertools=powertools)


def test_a_region_without_a_layer_has_none():
    # ca-west-1 has the pandas layer (its own account, version 3) but no Powertools layer.
    assert regions.missing_layers("ca-west-1") == [f"the Powertools for AWS Lambda layer ({regions.POWERTOOLS_LAYER_NAME})"]
    with pytest.raises(regions.UnsupportedRegionError, match="region cn-northwest-1 does not offer the Powertools"):
        regions.layers_for("cn-northwest-1")


def test_the_model_registry_table_matches_cloudformations_per_region_specifications():
    import cfnlint

    folder = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    without = set()
    for region in sklearn_image_uris(_framework_version()):
        schema = folder / f"{region}.json"
        if schema.exists() and "AWS::SageMaker::ModelPackageGroup" not in json.loads(schema.read_text()):
            without.add(region)
    covered = set(sklearn_image_uris(_framework_version()))
    assert without == regions.REGIONS_WITHOUT_MODEL_REGISTRY & covered


@pytest.mark.parametrize(
    ("region", "missing"),
    [
        ("ap-east-2", "the AWS SDK for pandas layer"),
        ("ap-southeast-4", "the SageMaker Model Registry (AWS::SageMaker::ModelPackageGroup)"),
        ("cn-north-1", "the SageMaker Model Registry (AWS::SageMaker::ModelPackageGroup)"),
    ],
)
def test_synthesizing_for_a_region_that_lacks_something_fails_naming_the_region_and_what(tmp_path, region, missing):
    with pytest.raises(regions.UnsupportedRegionError) as refused:
        build_app(str(EXAMPLE_CONFIG), outdir=tmp_path, context={"region": region})

    assert f"region {region}" in str(refused.value)
    assert missing in str(refused.value)


def test_the_region_agnostic_template_maps_layers_and_deploys_only_where_everything_is(synthesized):
    template = synthesized.template_json
    supported = regions.supported_regions(frozenset(sklearn_image_uris(synthesized.config.training.framework_version)))

    layers = template["Mappings"][LambdaFactory.LAYER_MAPPING_ID]
    assert layers["eu-central-1"] == {
        "pandas": "arn:aws:lambda:eu-central-1:336392948345:layer:AWSSDKPandas-Python312-Arm64:29",
        "powertools": "arn:aws:lambda:eu-central-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27",
    }
    assert set(supported) <= set(layers)
    assert "ap-south-2" in layers and "ap-south-2" not in supported
    (assertion,) = template["Rules"][SUPPORTED_REGION_RULE_ID]["Assertions"]
    assert assertion["Assert"] == {"Fn::Contains": [supported, {"Ref": "AWS::Region"}]}
    assert "us-east-1" in supported and "ap-east-2" not in supported


def _framework_version() -> str:
    from functions.common.config import load_config

    return load_config(EXAMPLE_CONFIG).training.framework_version
