"""Synth-time staging of the code the stack ships, without Docker.

Two artifacts are built from the repository:

* the Lambda code asset: a folder holding a copy of the `functions/` package (without
  `functions/training`, which only runs in the SageMaker container, and without byte-code
  caches), the pipeline config as `pipeline_config.json` at its root, where
  `functions.common.config.load_packaged_config()` finds it (`$LAMBDA_TASK_ROOT`), and the AWS
  SDK the runtime manifest says the functions carry (boto3, botocore, s3transfer, jmespath, copied
  from this environment's installed distributions, which must be the manifest's versions): the
  runtime's own SDK differs by region and runtime version, and the layers strip theirs;
* the training source bundle: a `.tar.gz` of the built-in trainer of the config's
  `training.framework` (`functions/training/*.py` for scikit-learn, `functions/training_xgboost/*.py`
  with `functions/training/inference.py` and `train.py` as `tabular_serving.py` and
  `tabular_training.py`, the code both trainers share, for XGBoost) and `pipeline_config.json` at
  the archive root. SageMaker receives it as the `code` input channel and the framework container
  runs `train.py` from it; with `training.source_dir`, the user's folder instead
  (infra/training_source.py), run by `script_contract.py`;
* the validation job bundle: a `.zip` that Python runs as a program (`python3 bundle.zip`):
  `functions/validate_data/job_bootstrap.py` as `__main__.py`, the `functions/common` and
  `functions/validate_data` packages (validation imports shared modules such as
  `functions/common/drift_profile.py`; it imports no other function's package),
  `pipeline_config.json`, and under `wheels/` the wheels of `infra/validation_job_wheels/`
  (what the framework image lacks). SageMaker Processing receives it as the `code` input of
  the validation job.

All three are byte-for-byte deterministic for the same inputs (sorted entries, fixed
timestamps and owners), so the asset hashes - and with them `CODE_VERSION` - change only
when the code or the config changes.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.metadata
import io
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from functions.common.config import CONFIG_FILE_NAME
from infra import runtime_manifest
from infra.training_source import CONTRACT_RUNNER_FILE_NAME, TrainingSource, bundle_entries, image_wheel_target

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_PACKAGE_NAME = "functions"
TRAINING_PACKAGE_NAME = "training"
# The built-in trainer of each training.framework: a folder of functions/ that is the whole
# training source bundle (train.py, inference.py), so a user's own folder can take its place.
BUILT_IN_TRAINERS = {"sklearn": TRAINING_PACKAGE_NAME, "xgboost": "training_xgboost"}
# Files of other folders a built-in trainer's bundle carries, under the names its code imports:
# the XGBoost trainer reads channels, scores, compares with the champion, decodes requests and
# prepares features with the scikit-learn trainer's code, so both keep one contract.
SHARED_TRAINER_FILES = {
    "xgboost": {
        "tabular_serving.py": Path(TRAINING_PACKAGE_NAME) / "inference.py",
        "tabular_training.py": Path(TRAINING_PACKAGE_NAME) / "train.py",
    }
}
SOURCE_BUNDLE_FILE_NAME = "sourcedir.tar.gz"
BUILT_IN_ENTRY_POINT = "train.py"
VALIDATION_JOB_BUNDLE_FILE_NAME = "validation-job.zip"
VALIDATION_JOB_PACKAGES = ("common", "validate_data")
VALIDATION_JOB_MAIN = Path("validate_data") / "job_bootstrap.py"
VALIDATION_JOB_WHEELS_DIR = Path("infra") / "validation_job_wheels"
# Zip stores no time before 1980.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# Names that never belong in a deployed artifact.
EXCLUDED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})
ARCHIVE_FILE_MODE = 0o644
GZIP_COMPRESS_LEVEL = 9


@dataclass(frozen=True)
class StagedAssets:
    """Paths of the staged artifacts; valid while the staging context is open."""

    lambda_code_dir: Path
    training_bundle_file: Path
    validation_job_bundle_file: Path
    # The bundle's program (SageMaker's sagemaker_program).
    training_entry_point: str = BUILT_IN_ENTRY_POINT


def _is_excluded(path: Path) -> bool:
    return path.name in EXCLUDED_NAMES or path.suffix in EXCLUDED_SUFFIXES


def stage_lambda_code(config_path: Path, destination: Path, repository_root: Path = REPOSITORY_ROOT) -> Path:
    """Copy the `functions/` package (minus the built-in trainers) and the config into `destination`."""
    source_package = repository_root / FUNCTIONS_PACKAGE_NAME
    target_package = destination / FUNCTIONS_PACKAGE_NAME

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = {name for name in names if _is_excluded(Path(directory) / name)}
        if Path(directory).resolve() == source_package.resolve():
            ignored.update(BUILT_IN_TRAINERS.values())
        return ignored

    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source_package, target_package, ignore=ignore)
    shutil.copyfile(config_path, destination / CONFIG_FILE_NAME)
    _stage_bundled_sdk(destination)
    return destination


class BundledSdkVersionError(RuntimeError):
    """The SDK installed here is not the version the runtime manifest says the functions carry."""


def _stage_bundled_sdk(destination: Path) -> None:
    sdk = runtime_manifest.lambda_sdk()
    if not sdk.get("bundled_with_functions"):
        return
    for name, version in sdk["packages"].items():
        distribution = importlib.metadata.distribution(name)
        if distribution.version != version:
            raise BundledSdkVersionError(
                f"{name} {distribution.version} is installed, and the runtime manifest bundles {name} {version} "
                "with the functions (infra/runtime_manifest.toml, pyproject.toml)"
            )
        made: set[Path] = set()
        for file in distribution.files or []:
            relative = Path(str(file))
            # Console scripts live outside site-packages; byte-code is the runtime's to write.
            if relative.parts[0] == ".." or any(_is_excluded(Path(part)) for part in relative.parts):
                continue
            target = destination / relative
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            _link_or_copy(Path(distribution.locate_file(file)), target)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one: the SDK is a few thousand files that only
    have to be read while CDK copies the asset into the cloud assembly."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _training_sources(repository_root: Path, framework: str = "sklearn") -> dict[str, Path]:
    functions_dir = repository_root / FUNCTIONS_PACKAGE_NAME
    training_dir = functions_dir / BUILT_IN_TRAINERS[framework]
    if not training_dir.is_dir():
        return {}
    sources = {path.name: path for path in sorted(training_dir.glob("*.py")) if path.is_file()}
    sources.update({name: functions_dir / path for name, path in SHARED_TRAINER_FILES.get(framework, {}).items()})
    return sources


def _configured_framework(config_path: Path) -> str:
    """training.framework of the config file (its default when unset), read without validating it
    again: the CDK app validated the config before staging."""
    training = json.loads(Path(config_path).read_text(encoding="utf-8")).get("training") or {}
    return training.get("framework", "sklearn")


def _add_file(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name=name)
    info.size = len(content)
    info.mtime = 0
    info.mode = ARCHIVE_FILE_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(content))


def build_training_bundle(
    config_path: Path, destination: Path, repository_root: Path = REPOSITORY_ROOT, source: TrainingSource | None = None
) -> Path:
    """Write the deterministic training source bundle (of the user's folder, when `source`
    names one) and return its path."""
    framework = _configured_framework(config_path)
    if source is None:
        sources = _training_sources(repository_root, framework)
        entries = {name: path.read_bytes() for name, path in sources.items()}
        entries[CONFIG_FILE_NAME] = Path(config_path).read_bytes()
    else:
        built_in = repository_root / FUNCTIONS_PACKAGE_NAME / TRAINING_PACKAGE_NAME
        entries = bundle_entries(source, Path(config_path), built_in, image_wheel_target(framework))
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as raw:
        # gzip stores a timestamp and a file name in its header; both are fixed here.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_COMPRESS_LEVEL) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for name in sorted(entries):
                    _add_file(archive, name, entries[name])
    return destination


def _validation_job_entries(config_path: Path, repository_root: Path) -> dict[str, bytes]:
    functions_dir = repository_root / FUNCTIONS_PACKAGE_NAME
    entries = {"__main__.py": (functions_dir / VALIDATION_JOB_MAIN).read_bytes()}
    entries[f"{FUNCTIONS_PACKAGE_NAME}/__init__.py"] = (functions_dir / "__init__.py").read_bytes()
    for package in VALIDATION_JOB_PACKAGES:
        for path in sorted((functions_dir / package).rglob("*.py")):
            if not any(_is_excluded(Path(part)) for part in path.relative_to(functions_dir).parts):
                entries[f"{FUNCTIONS_PACKAGE_NAME}/{path.relative_to(functions_dir).as_posix()}"] = path.read_bytes()
    entries[CONFIG_FILE_NAME] = Path(config_path).read_bytes()
    for wheel in sorted((repository_root / VALIDATION_JOB_WHEELS_DIR).glob("*.whl")):
        entries[f"wheels/{wheel.name}"] = wheel.read_bytes()
    return entries


def build_validation_job_bundle(
    config_path: Path, destination: Path, repository_root: Path = REPOSITORY_ROOT
) -> Path:
    """Write the deterministic validation job bundle and return its path."""
    entries = _validation_job_entries(config_path, repository_root)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.external_attr = ARCHIVE_FILE_MODE << 16
            # Wheels are zip archives already.
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".whl") else zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compresslevel=GZIP_COMPRESS_LEVEL)
    return destination


@contextlib.contextmanager
def staged_assets(
    config_path: str | Path, repository_root: Path = REPOSITORY_ROOT, training_source: TrainingSource | None = None
) -> Iterator[StagedAssets]:
    """Stage both artifacts in a temporary directory.

    CDK copies asset sources into the cloud assembly when the asset construct is created,
    so the temporary directory only has to outlive the construction of the stack.
    """
    config_file = Path(config_path)
    with tempfile.TemporaryDirectory(prefix="mlops-assets-") as work_dir:
        root = Path(work_dir)
        lambda_code_dir = stage_lambda_code(config_file, root / "lambda", repository_root)
        bundle = build_training_bundle(
            config_file, root / "training" / SOURCE_BUNDLE_FILE_NAME, repository_root, training_source
        )
        validation_job_bundle = build_validation_job_bundle(
            config_file, root / "validation-job" / VALIDATION_JOB_BUNDLE_FILE_NAME, repository_root
        )
        yield StagedAssets(
            lambda_code_dir=lambda_code_dir,
            training_bundle_file=bundle,
            validation_job_bundle_file=validation_job_bundle,
            training_entry_point=BUILT_IN_ENTRY_POINT if training_source is None else CONTRACT_RUNNER_FILE_NAME,
        )
