"""The user's own training code, `training.source_dir`, checked and bundled at synthesis.

The folder resolves relative to the config file. It holds `train.py` (the entry point), and
optionally `inference.py` (else the built-in serving code is bundled in its place) and
`requirements.txt`. The source bundle holds the folder's files, the pipeline config as
`pipeline_config.json`, the built-in `inference.py` when the user has none, and the contract
runner `script_contract.py` (functions/training/), which is the job's program: it runs the user's
`train.py` and checks what the pipeline reads after the job.

Dependencies: the image's training toolkit runs `python -m pip install -r requirements.txt` in the
source directory at job start (aws/sagemaker-training-toolkit v4.8.0,
src/sagemaker_training/modules.py `install_requirements`, called by entry_point.py `install` for
a program without setup.py). With network isolation that finds no package index, so the user's
requirements are resolved here into wheels for the image's Python and platform
(`pip download --only-binary=:all: --platform ... --python-version ... --implementation cp`),
placed under `wheels/` in the bundle, and the bundled requirements.txt installs from them alone
(`--no-index --find-links wheels`; pip reads a relative `--find-links` of a requirements file
relative to that file). Downloads are cached by the requirements' hash, so a second synthesis
downloads nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from functions.common.config import CONFIG_FILE_NAME, ConfigError, PipelineConfig
from infra import runtime_manifest

ENTRY_POINT_FILE_NAME = "train.py"
INFERENCE_FILE_NAME = "inference.py"
REQUIREMENTS_FILE_NAME = "requirements.txt"
# The job's program (sagemaker_program) for the user's code: functions/training/script_contract.py.
CONTRACT_RUNNER_FILE_NAME = "script_contract.py"
WHEELS_DIR_NAME = "wheels"
# Names the bundle gives files of its own; a user file of the same name would be shadowed.
RESERVED_NAMES = frozenset({CONFIG_FILE_NAME, CONTRACT_RUNNER_FILE_NAME})
# With a setup.py the toolkit runs `pip install .`, which builds the folder as a package with build
# dependencies fetched from an index (sagemaker_training/_entry_point_type.py, modules.py `install`).
PACKAGE_MARKER_FILE_NAME = "setup.py"
EXCLUDED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})

# The glibc of each framework image, the newest manylinux_2_N its wheels may need. The
# scikit-learn image 1.4-2 is built FROM ubuntu:24.04 (aws/sagemaker-scikit-learn-container
# ce928c2, docker/1.4-2/base/Dockerfile.cpu): glibc 2.39. The XGBoost image 3.0-5 is built FROM
# nvidia/cuda:12.6.3-base-ubuntu20.04 (aws/sagemaker-xgboost-container, docker/3.0-5/base/
# Dockerfile.cpu, UBUNTU_VERSION=20.04): glibc 2.31. pip does not widen a manylinux_2_N --platform
# to older tags by itself (pip/_internal/utils/compatibility_tags.py widens only manylinux2014 and
# manylinux2010), so every tag down to manylinux_2_17 is named.
IMAGE_GLIBC_MINOR = {"sklearn": 39, "xgboost": 31}
OLDEST_PEP600_GLIBC_MINOR = 17
IMAGE_ARCHITECTURE = "x86_64"
PIP_DOWNLOAD_TIMEOUT_SECONDS = 15 * 60
# Bumped when the way wheels are resolved changes, so old cache entries are not reused.
WHEEL_CACHE_RECIPE = 1
COMPLETE_MARKER = ".complete"
PIP_ERROR_TAIL_LINES = 4

# Options of a requirements file that steer where pip downloads from; used at synthesis, dropped
# from the bundled file, which names its own (pip's "Requirements File Format": global options).
DOWNLOAD_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index", "--trusted-host", "--prefer-binary"}
)
OPTIONS_WITH_VALUE = frozenset({"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host"})
# A distribution name (PEP 508), then extras, version specifiers and markers.
REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class WheelTarget:
    """The interpreter and platform the job installs wheels into."""

    python_version: str
    platforms: tuple[str, ...]
    implementation: str = "cp"

    def describe(self) -> str:
        return f"Python {self.python_version} ({self.implementation}) on manylinux {IMAGE_ARCHITECTURE}"


def image_wheel_target(framework: str = "sklearn") -> WheelTarget:
    """The wheel target of a framework image of the runtime manifest."""
    image = runtime_manifest.framework_image(framework)
    platforms = tuple(
        f"manylinux_2_{minor}_{IMAGE_ARCHITECTURE}"
        for minor in range(IMAGE_GLIBC_MINOR[framework], OLDEST_PEP600_GLIBC_MINOR - 1, -1)
    ) + (f"manylinux2014_{IMAGE_ARCHITECTURE}",)
    return WheelTarget(python_version=str(image["python"]), platforms=platforms)


@dataclass(frozen=True)
class TrainingSource:
    """A checked user folder and the requirement lines the bundle installs."""

    folder: Path
    requirement_lines: tuple[str, ...]

    @property
    def has_requirements(self) -> bool:
        return (self.folder / REQUIREMENTS_FILE_NAME).is_file()


def resolve_source_dir(config: PipelineConfig, config_path: str | os.PathLike[str]) -> TrainingSource | None:
    """The user's folder, checked; None when the built-in trainer runs. Raises ConfigError."""
    if config.training.source_dir is None:
        return None
    declared = config.training.source_dir
    folder = (Path(config_path).resolve().parent / declared).resolve()
    where = f"training.source_dir {declared!r} (relative to the config file: {folder})"
    if not folder.exists():
        raise ConfigError(f"{where} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"{where} is not a folder")
    if not (folder / ENTRY_POINT_FILE_NAME).is_file():
        raise ConfigError(f"{where} holds no {ENTRY_POINT_FILE_NAME}, the entry point of the training job")
    if (folder / PACKAGE_MARKER_FILE_NAME).exists():
        raise ConfigError(
            f"{where} holds a {PACKAGE_MARKER_FILE_NAME}: SageMaker would then build the folder as a package, "
            "with build tools from a package index; keep the code as plain modules beside train.py"
        )
    reserved = sorted(name for name in RESERVED_NAMES if (folder / name).exists())
    if reserved:
        raise ConfigError(f"{where} holds {', '.join(reserved)}, a name the source bundle gives a file of its own")
    lines: tuple[str, ...] = ()
    requirements = folder / REQUIREMENTS_FILE_NAME
    if requirements.is_file():
        if (folder / WHEELS_DIR_NAME).exists():
            raise ConfigError(
                f"{where} holds a {WHEELS_DIR_NAME}/ folder beside {REQUIREMENTS_FILE_NAME}; the bundle puts the "
                "resolved wheels there"
            )
        lines = tuple(requirement_lines(requirements.read_text(encoding="utf-8"), f"training.source_dir {declared!r}: {requirements}"))
    return TrainingSource(folder=folder, requirement_lines=lines)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) with comments removed and backslash continuations joined, as pip reads them."""
    joined: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            joined.append((start, line))
    if pending.strip():
        joined.append((start, pending.strip()))
    return joined


def requirement_lines(text: str, where: str) -> list[str]:
    """The requirement specifiers of a requirements file (`where` names it), without the download options.

    Refused, each with the line: what the job could only fetch over the network (a URL, a VCS
    link, an editable install), nested files, and per-requirement options."""
    kept: list[str] = []
    for number, line in _logical_lines(text):
        location = f"{where} line {number} ({line!r})"
        if line.startswith("-"):
            option = re.split(r"[\s=]", line, maxsplit=1)[0]
            if option in DOWNLOAD_OPTIONS:
                continue
            raise ConfigError(
                f"{location}: the option {option} is not supported; name each package with a version "
                "specifier (index options are used when the wheels are downloaded at synthesis)"
            )
        if "://" in line or line.split(";", 1)[0].count("@") or " --" in line:
            raise ConfigError(
                f"{location}: a URL, a direct reference or a per-requirement option cannot be installed from "
                "the wheels bundled for a job with network isolation; name the package with a version specifier"
            )
        if not REQUIREMENT_NAME.match(line):
            raise ConfigError(f"{location} is not a requirement specifier such as 'name>=1.0'")
        kept.append(line)
    return kept


def bundled_requirements(lines: tuple[str, ...]) -> bytes:
    header = [
        "# Written at synthesis from training.source_dir/requirements.txt: the training job installs only",
        "# the wheels bundled under wheels/, resolved for the image; no package index is reachable from a",
        "# job with network isolation.",
        "--no-index",
        f"--find-links {WHEELS_DIR_NAME}",
    ]
    return ("\n".join([*header, *lines]) + "\n").encode("utf-8")


class WheelResolutionError(ConfigError):
    """pip could not resolve the user's requirements into wheels for the image."""


def wheel_cache_root() -> Path:
    base = os.environ.get("MLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops"
    )
    return Path(base) / "wheels"


def wheel_cache_key(requirements: bytes, target: WheelTarget) -> str:
    recipe = {
        "recipe": WHEEL_CACHE_RECIPE,
        "requirements": hashlib.sha256(requirements).hexdigest(),
        "python": target.python_version,
        "platforms": list(target.platforms),
        "implementation": target.implementation,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:24]


def pip_download_command(requirements_file: Path, destination: Path, target: WheelTarget) -> list[str]:
    platforms = [argument for platform in target.platforms for argument in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "download",
        "--only-binary=:all:",
        *platforms,
        "--python-version", target.python_version,
        "--implementation", target.implementation,
        "--disable-pip-version-check", "--no-input", "--quiet",
        "--dest", str(destination),
        "-r", str(requirements_file),
    ]


def resolved_wheels(source: TrainingSource, target: WheelTarget, cache_root: Path | None = None) -> list[Path]:
    """The wheels that install the user's requirements on the target, downloaded once per
    requirements file and target."""
    requirements_file = source.folder / REQUIREMENTS_FILE_NAME
    cache_root = cache_root or wheel_cache_root()
    entry = cache_root / wheel_cache_key(requirements_file.read_bytes(), target)
    if not (entry / COMPLETE_MARKER).is_file():
        cache_root.mkdir(parents=True, exist_ok=True)
        with (cache_root / f"{entry.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (entry / COMPLETE_MARKER).is_file():
                _download_into(entry, requirements_file, source, target)
    return sorted(entry.glob("*.whl"))


def _download_into(entry: Path, requirements_file: Path, source: TrainingSource, target: WheelTarget) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f"{entry.name}-", dir=entry.parent))
    try:
        print(
            f"Downloading the wheels of {requirements_file} for {target.describe()} (cached under {entry})",
            file=sys.stderr, flush=True,
        )
        completed = subprocess.run(
            pip_download_command(requirements_file, staging, target),
            cwd=source.folder, capture_output=True, text=True, timeout=PIP_DOWNLOAD_TIMEOUT_SECONDS, check=False,
        )
        if completed.returncode != 0:
            errors = [line for line in completed.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
            raise WheelResolutionError(
                f"training.source_dir {REQUIREMENTS_FILE_NAME} ({requirements_file}) cannot be resolved into wheels for "
                f"{target.describe()}: {' | '.join(errors[-PIP_ERROR_TAIL_LINES:]) or completed.returncode}"
            )
        (staging / COMPLETE_MARKER).write_text("")
        shutil.rmtree(entry, ignore_errors=True)
        staging.rename(entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _is_excluded(relative: Path) -> bool:
    return any(part in EXCLUDED_NAMES or part.startswith(".") for part in relative.parts) or relative.suffix in EXCLUDED_SUFFIXES


def bundle_entries(
    source: TrainingSource,
    config_path: Path,
    built_in_training_dir: Path,
    target: WheelTarget,
    cache_root: Path | None = None,
) -> dict[str, bytes]:
    """Archive name -> content of the source bundle for the user's folder."""
    entries: dict[str, bytes] = {}
    for path in sorted(source.folder.rglob("*")):
        relative = path.relative_to(source.folder)
        if path.is_file() and not _is_excluded(relative):
            entries[relative.as_posix()] = path.read_bytes()
    if INFERENCE_FILE_NAME not in entries:
        entries[INFERENCE_FILE_NAME] = (built_in_training_dir / INFERENCE_FILE_NAME).read_bytes()
    entries[CONTRACT_RUNNER_FILE_NAME] = (built_in_training_dir / CONTRACT_RUNNER_FILE_NAME).read_bytes()
    entries[CONFIG_FILE_NAME] = Path(config_path).read_bytes()
    if source.has_requirements:
        entries[REQUIREMENTS_FILE_NAME] = bundled_requirements(source.requirement_lines)
        for wheel in resolved_wheels(source, target, cache_root):
            entries[f"{WHEELS_DIR_NAME}/{wheel.name}"] = wheel.read_bytes()
    return entries


def folder_digest(config_path: str | os.PathLike[str]) -> str:
    """A digest of the user's folder named by the config (empty without one), for caches of the
    synthesis: the bundle, and with it the template, changes when the folder does."""
    try:
        declared = json.loads(Path(config_path).read_text(encoding="utf-8"))["training"]["source_dir"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if not isinstance(declared, str):
        return ""
    folder = (Path(config_path).resolve().parent / declared).resolve()
    digest = hashlib.sha256(str(folder).encode())
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and not _is_excluded(relative):
                digest.update(relative.as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
