"""The runtime manifest is the one source of what each cloud runtime is: the template's functions,
layers and image come from it, and the SDK it says the functions carry is in their code asset."""

from __future__ import annotations

import gzip
import json
import tomllib
from pathlib import Path

import pytest

from functions.common.config import FRAMEWORK_VERSIONS
from infra import runtime_manifest
from infra.assets import stage_lambda_code
from infra.constructs.lambda_factory import LambdaFactory
from infra.constructs.training import IMAGE_MAPPING_ID, sklearn_image_uris
from infra.stack import UnknownImageError, _require_manifest_image

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPOSITORY_ROOT / "pipeline.json"
# S3's conditional write (PutObject IfNoneMatch) is in botocore from 1.35.2 on; storage.py uses it.
S3_MODEL = Path("botocore") / "data" / "s3" / "2006-03-01" / "service-2.json.gz"


def _requirement_pins() -> dict[str, str]:
    project = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text())["project"]
    return dict(pin.split("==", 1) for pin in project["dependencies"] if "==" in pin)


def test_functions_run_on_the_manifests_runtime_and_architecture(synthesized):
    facts = runtime_manifest.lambda_runtime()
    functions = synthesized.resources("AWS::Lambda::Function").values()
    assert functions
    for function in functions:
        assert function["Properties"]["Runtime"] == facts["runtime"]
        assert function["Properties"]["Architectures"] == [facts["architecture"]]


def test_layer_arns_are_built_from_the_manifest_for_every_region(synthesized):
    mapping = synthesized.template_json["Mappings"][LambdaFactory.LAYER_MAPPING_ID]
    pandas, powertools = runtime_manifest.layer("pandas"), runtime_manifest.layer("powertools")
    assert mapping
    for region, arns in mapping.items():
        partition = "aws-cn" if region.startswith("cn-") else "aws"
        entry = pandas["regions"][f"{partition}:{region}"]
        assert arns["pandas"] == f"arn:{partition}:lambda:{region}:{entry['account']}:layer:{pandas['name']}:{entry['version']}"
        assert arns["powertools"] == (
            f"arn:{partition}:lambda:{region}:{powertools['accounts'][partition]}:layer:"
            f"{powertools['name']}:{powertools['version']}"
        )


def test_the_image_is_the_manifests_framework_version(synthesized):
    framework_version = runtime_manifest.sklearn_image()["framework_version"]
    images = synthesized.template_json["Mappings"][IMAGE_MAPPING_ID]
    assert images == sklearn_image_uris(framework_version)
    assert all(f":{framework_version}-" in entry["image"] for entry in images.values())


def test_a_framework_version_the_manifest_does_not_describe_is_refused():
    with pytest.raises(UnknownImageError, match="'1.2-1' is not the scikit-learn image the runtime manifest describes"):
        _require_manifest_image("sklearn", "1.2-1")
    with pytest.raises(UnknownImageError, match="'1.7-1' is not the XGBoost image the runtime manifest describes"):
        _require_manifest_image("xgboost", "1.7-1")


@pytest.mark.parametrize("framework", runtime_manifest.FRAMEWORKS)
def test_the_configs_default_image_versions_are_the_manifests(framework):
    # functions/common/config.py cannot read the manifest in Lambda; it keeps a copy that must agree.
    assert FRAMEWORK_VERSIONS[framework] == runtime_manifest.framework_image(framework)["framework_version"]


def test_each_image_names_the_publishers_commit_and_files():
    for framework in runtime_manifest.FRAMEWORKS:
        image = runtime_manifest.framework_image(framework)
        assert image["python"] == "3.10"
        assert "/tree/" in image["source"] and "Dockerfile.cpu" in image["source"]
    assert runtime_manifest.framework_image("xgboost")["packages"]["xgboost"] == "3.0.5"


def test_the_bundled_sdk_is_pinned_as_the_manifest_says():
    sdk = runtime_manifest.lambda_sdk()
    assert sdk["bundled_with_functions"] is True
    pins = _requirement_pins()
    assert {name: pins.get(name) for name in sdk["packages"]} == sdk["packages"]


def test_the_function_code_carries_the_manifests_sdk_with_s3_conditional_writes(tmp_path):
    staged = stage_lambda_code(EXAMPLE_CONFIG, tmp_path / "lambda")
    for name, version in runtime_manifest.lambda_sdk()["packages"].items():
        assert (staged / f"{name}-{version}.dist-info").is_dir(), name
        assert (staged / name / "__init__.py").is_file(), name
    s3_model = json.loads(gzip.decompress((staged / S3_MODEL).read_bytes()))
    assert "IfNoneMatch" in s3_model["shapes"]["PutObjectRequest"]["members"]
