"""What each region offers the pipeline: the managed Lambda layers (per partition and region,
from the runtime manifest, infra/runtime_manifest.toml, which names the publishers' tables they
come from) and the SageMaker Model Registry's CloudFormation resource.

AWS::SageMaker::ModelPackageGroup is missing from the CloudFormation resource specification of
ap-east-2, ap-south-2, ap-southeast-4, ap-southeast-6, cn-north-1, cn-northwest-1 and
us-gov-east-1 (the per-region specifications cfn-lint ships; tests/infra/test_infra_regions.py
checks this table against them).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra import runtime_manifest

_PANDAS = runtime_manifest.layer("pandas")
_POWERTOOLS = runtime_manifest.layer("powertools")

PANDAS_LAYER_NAME: str = _PANDAS["name"]
# (partition, region) -> (publishing account, layer version)
PANDAS_LAYERS: dict[tuple[str, str], tuple[str, int]] = {
    tuple(key.split(":", 1)): (entry["account"], entry["version"])  # type: ignore[misc]
    for key, entry in _PANDAS["regions"].items()
}

POWERTOOLS_LAYER_NAME: str = _POWERTOOLS["name"]
POWERTOOLS_LAYER_VERSION: int = _POWERTOOLS["version"]
POWERTOOLS_ACCOUNTS: dict[str, str] = dict(_POWERTOOLS["accounts"])
POWERTOOLS_REGIONS: dict[str, frozenset[str]] = {
    partition: frozenset(names) for partition, names in _POWERTOOLS["regions"].items()
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


def missing_in(
    region: str, image_regions: frozenset[str] | None = None, other_images: dict[str, frozenset[str]] | None = None
) -> list[str]:
    """What the pipeline needs and the region does not offer; empty when it can deploy there.
    `image_regions`: where the scikit-learn image is; `other_images`: image title -> its regions."""
    missing = missing_layers(region)
    if region in REGIONS_WITHOUT_MODEL_REGISTRY:
        missing.append("the SageMaker Model Registry (AWS::SageMaker::ModelPackageGroup)")
    if image_regions is not None and region not in image_regions:
        missing.append("the SageMaker scikit-learn framework image")
    for title, regions_with_image in (other_images or {}).items():
        if region not in regions_with_image:
            missing.append(f"the SageMaker {title} framework image")
    return missing


def require_supported(
    region: str, image_regions: frozenset[str], other_images: dict[str, frozenset[str]] | None = None
) -> None:
    missing = missing_in(region, image_regions, other_images)
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


def supported_regions(image_regions: frozenset[str], other_images: dict[str, frozenset[str]] | None = None) -> list[str]:
    return sorted(region for region in image_regions if not missing_in(region, image_regions, other_images))
