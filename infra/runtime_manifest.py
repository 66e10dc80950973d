"""The runtime manifest (runtime_manifest.toml beside this file), read once: what the Lambda
runtime, its layers and the SageMaker image are, for the CDK, the local cloud and the tests."""

from __future__ import annotations

import functools
import hashlib
import sys
import tomllib
from pathlib import Path
from typing import Any

MANIFEST_PATH = Path(__file__).resolve().parent / "runtime_manifest.toml"


@functools.lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    with MANIFEST_PATH.open("rb") as handle:
        return tomllib.load(handle)


def manifest_digest() -> str:
    return hashlib.sha256(MANIFEST_PATH.read_bytes()).hexdigest()


def lambda_runtime() -> dict[str, Any]:
    return manifest()["lambda"]


def layer(name: str) -> dict[str, Any]:
    return manifest()["lambda"]["layers"][name]


def lambda_arrow_codecs() -> frozenset[str]:
    """The compression codecs pyarrow can use in a function: those of the pandas layer's build."""
    return frozenset(layer("pandas")["arrow_codecs"])


def lambda_sdk() -> dict[str, Any]:
    return manifest()["lambda"]["sdk"]


def lambda_lane_packages() -> dict[str, str]:
    """What a function imports in Lambda: the layers' packages and the bundled SDK."""
    packages: dict[str, str] = {}
    for layer_facts in manifest()["lambda"]["layers"].values():
        packages.update(layer_facts["packages"])
    packages.update(lambda_sdk()["packages"])
    return packages


# The SageMaker framework images the manifest describes, by training.framework.
FRAMEWORKS = ("sklearn", "xgboost")


def framework_image(framework: str) -> dict[str, Any]:
    return manifest()["sagemaker"][framework]


def sklearn_image() -> dict[str, Any]:
    return framework_image("sklearn")


def _main(argv: list[str]) -> int:
    """For CI and shell scripts: `python -m infra.runtime_manifest lambda-python|lambda-requirements|image-python|frameworks`."""
    commands = {
        "lambda-python": lambda: print(lambda_runtime()["python"]),
        "lambda-requirements": lambda: print("\n".join(f"{name}=={version}" for name, version in lambda_lane_packages().items())),
        "image-python": lambda: print(sklearn_image()["python"]),
        "frameworks": lambda: print(" ".join(FRAMEWORKS)),
    }
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m infra.runtime_manifest {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
