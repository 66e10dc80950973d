"""What each region offers the pipeline: the managed Lambda layers (per partition and region, from
their publishers' own tables) and the SageMaker Model Registry's CloudFormation resource.

AWS SDK for pandas 3.17.0, Python 3.12 arm64, from
https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html (docs/source/layers.rst of
aws/aws-sdk-pandas): the opt-in regions and the aws-cn partition are published from accounts of
their own, and version numbers differ between regions.

Powertools for AWS Lambda (Python) v3, layer version 27, Python 3.12 arm64, from
https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/ (its commercial
region table, docs/includes/_layer_homepage_arm64.md, and the "AWS China regions" section):
one account and one version in every commercial region it lists, and cn-north-1 only in aws-cn.

AWS::SageMaker::ModelPackageGroup is missing from the CloudFormation resource specification of
ap-east-2, ap-south-2, ap-southeast-4, ap-southeast-6, cn-north-1, cn-northwest-1 and
us-gov-east-1 (the per-region specifications cfn-lint ships; tests/infra/test_infra_regions.py
checks this table against them).
"""

from __future__ import annotations

from dataclasses import dataclass

PANDAS_LAYER_NAME = "AWSSDKPandas-Python312-Arm64"
# (partition, region) -> (publishing account, layer version)
PANDAS_LAYERS: dict[tuple[str, str], tuple[str, int]] = {
    ("aws", "af-south-1"): ("336392948345", 28),
    ("aws", "ap-northeast-1"): ("336392948345", 29),
    ("aws", "ap-northeast-2"): ("336392948345", 29),
    ("aws", "ap-northeast-3"): ("336392948345", 29),
    ("aws", "ap-south-1"): ("336392948345", 29),
    ("aws", "ap-southeast-1"): ("336392948345", 29),
    ("aws", "ap-southeast-2"): ("336392948345", 29),
    ("aws", "ca-central-1"): ("336392948345", 29),
    ("aws", "eu-central-1"): ("336392948345", 29),
    ("aws", "eu-north-1"): ("336392948345", 29),
    ("aws", "eu-west-1"): ("336392948345", 29),
    ("aws", "eu-west-2"): ("336392948345", 29),
    ("aws", "eu-west-3"): ("336392948345", 29),
    ("aws", "sa-east-1"): ("336392948345", 29),
    ("aws", "us-east-1"): ("336392948345", 29),
    ("aws", "us-east-2"): ("336392948345", 29),
    ("aws", "us-west-1"): ("336392948345", 29),
    ("aws", "us-west-2"): ("336392948345", 29),
    ("aws", "ap-east-1"): ("839552336658", 26),
    ("aws", "ap-south-2"): ("246107603503", 26),
    ("aws", "ap-southeast-3"): ("258944054355", 26),
    ("aws", "ap-southeast-4"): ("945386623051", 26),
    ("aws", "ca-west-1"): ("941713567376", 3),
    ("aws", "eu-central-2"): ("956415814219", 26),
    ("aws", "eu-south-1"): ("774444163449", 26),
    ("aws", "eu-south-2"): ("982086096842", 26),
    ("aws", "il-central-1"): ("263840725265", 26),
    ("aws", "me-central-1"): ("593833071574", 26),
    ("aws-cn", "cn-north-1"): ("406640652441", 10),
    ("aws-cn", "cn-northwest-1"): ("406640652441", 10),
}

POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python312-arm64"
POWERTOOLS_LAYER_VERSION = 27
POWERTOOLS_ACCOUNTS = {"aws": "017000801446", "aws-cn": "498634801083"}
POWERTOOLS_REGIONS: dict[str, frozenset[str]] = {
    "aws": frozenset(
        {
            "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
            "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
            "ca-central-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
            "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
            "me-south-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        }
    ),
    "aws-cn": frozenset({"cn-north-1"}),
}

REGIONS_WITHOUT_MODEL_REGISTRY = frozenset(
    {"ap-east-2", "ap-south-2", "ap-southeast-4", "ap-southeast-6", "cn-north-1", "cn-northwest-1", "us-gov-east-1"}
)


class UnsupportedRegionError(Exception):
    """The pipeline cannot be deployed to this region: something it needs is not offered there."""


@dataclass(frozen=True)
class RegionLayers:
    pandas: str
    powertools: str


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def missing_layers(region: str) -> list[str]:
    partition = partition_of(region)
    missing = []
    if (partition, region) not in PANDAS_LAYERS:
        missing.append(f"the AWS SDK for pandas layer ({PANDAS_LAYER_NAME})")
    if region not in POWERTOOLS_REGIONS.get(partition, frozenset()):
        missing.append(f"the Powertools for AWS Lambda layer ({POWERTOOLS_LAYER_NAME})")
    return missing


def missing_in(region: str, image_regions: frozenset[str] | None = None) -> list[str]:
    """What the pipeline needs and the region does not offer; empty when it can deploy there."""
    missing = missing_layers(region)
    if region in REGIONS_WITHOUT_MODEL_REGISTRY:
        missing.append("the SageMaker Model Registry (AWS::SageMaker::ModelPackageGroup)")
    if image_regions is not None and region not in image_regions:
        missing.append("the SageMaker scikit-learn framework image")
    return missing


def require_supported(region: str, image_regions: frozenset[str]) -> None:
    missing = missing_in(region, image_regions)
    if missing:
        raise UnsupportedRegionError(f"The pipeline cannot deploy to region {region}: it does not offer {'; '.join(missing)}.")


def layers_for(region: str) -> RegionLayers:
    missing = missing_layers(region)
    if missing:
        raise UnsupportedRegionError(f"region {region} does not offer {', '.join(missing)}")
    partition = partition_of(region)
    pandas_account, pandas_version = PANDAS_LAYERS[(partition, region)]
    return RegionLayers(
        pandas=f"arn:{partition}:lambda:{region}:{pandas_account}:layer:{PANDAS_LAYER_NAME}:{pandas_version}",
        powertools=(
            f"arn:{partition}:lambda:{region}:{POWERTOOLS_ACCOUNTS[partition]}:layer:"
            f"{POWERTOOLS_LAYER_NAME}:{POWERTOOLS_LAYER_VERSION}"
        ),
    )


def supported_regions(image_regions: frozenset[str]) -> list[str]:
    return sorted(region for region in image_regions if not missing_in(region, image_regions))
