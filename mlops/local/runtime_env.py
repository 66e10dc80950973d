"""The cloud's runtimes on this machine: a virtual environment made once from the runtime manifest
(infra/runtime_manifest.toml) with the interpreter and package versions the cloud runs, cached
under ~/.cache/mlops/runtimes keyed by what the manifest says about that runtime.

The local cloud runs training jobs, processing jobs and endpoint serving under the SageMaker
image's environment, so an artifact trained locally is the one the image trains and serves.
An interpreter of the runtime's Python version must be on this machine (pyenv's versions folder
or `pythonX.Y` on PATH); without one, RuntimeUnavailableError says which and how to get it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra import runtime_manifest

# Bumped when the way an environment is built changes, so old caches are not reused.
RECIPE_VERSION = 1
PIP_INSTALL_TIMEOUT_SECONDS = 30 * 60
COMPLETE_MARKER = ".complete"
INTERPRETER_PROBE_SECONDS = 30
# Interpreter-level variables of the caller that would make another interpreter import the
# caller's packages or look for its own files in the wrong place.
FOREIGN_INTERPRETER_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE")


class RuntimeUnavailableError(RuntimeError):
    """The interpreter a cloud runtime needs is not on this machine, or its environment cannot be built."""


def cache_root() -> Path:
    """Not under MLOPS_CACHE_DIR, which test sessions point at a fresh folder for the synthesis
    cache: an environment is immutable for its key and takes minutes to build."""
    override = os.environ.get("MLOPS_RUNTIME_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops" / "runtimes"


def find_interpreter(python_version: str) -> Path | None:
    """A CPython of `python_version` (major.minor): pyenv's newest patch release, else PATH."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(
        (pyenv_root / "versions").glob(f"{python_version}.*/bin/python{python_version}"),
        key=lambda path: [int(part) if part.isdigit() else -1 for part in path.parts[-3].split(".")],
    )
    found = shutil.which(f"python{python_version}")
    for candidate in [*reversed(candidates), *([Path(found)] if found else [])]:
        # A pyenv shim is on PATH whether or not it can run that version.
        if _runs_python(candidate, python_version):
            return candidate
    return None


def _runs_python(candidate: Path, python_version: str) -> bool:
    try:
        completed = subprocess.run(
            [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, env=clean_environment(), timeout=INTERPRETER_PROBE_SECONDS, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0 and completed.stdout.strip() == python_version


def missing_interpreter_reason(runtime_name: str, python_version: str) -> str:
    return (
        f"{runtime_name} runs Python {python_version}, and no python{python_version} is on this machine "
        f"(looked in $PYENV_ROOT/versions and on PATH); install one with `pyenv install {python_version}`"
    )


def clean_environment(environment: dict[str, str] | None = None) -> dict[str, str]:
    """`environment` (default: this process's) without what ties an interpreter to this venv."""
    source = dict(os.environ if environment is None else environment)
    return {key: value for key, value in source.items() if key not in FOREIGN_INTERPRETER_VARIABLES}


# How people call each framework image in messages.
FRAMEWORK_TITLES = {"sklearn": "scikit-learn", "xgboost": "XGBoost"}
# The ECR repository of each framework image, as the SageMaker SDK's image_uris names it
# (sagemaker-core's image_uri_config/sklearn.json and xgboost.json: "repository").
IMAGE_REPOSITORIES = {"sagemaker-scikit-learn": "sklearn", "sagemaker-xgboost": "xgboost"}


class UnknownImageError(RuntimeUnavailableError):
    """A job or a model names a container image whose environment the runtime manifest does not describe."""


def image_python(framework: str = "sklearn") -> Path:
    """The SageMaker `framework` image's interpreter, with the image's packages; built on first use."""
    image = runtime_manifest.framework_image(framework)
    requirements = [f"{name}=={version}" for name, version in image["packages"].items()]
    name = f"the SageMaker {FRAMEWORK_TITLES[framework]} {image['framework_version']} image"
    return _environment(
        f"{framework}-{image['framework_version']}",
        name,
        image["python"],
        requirements,
        image.get("source_patches", []),
    )


def framework_of_image(image_uri: str) -> str:
    """The framework of a SageMaker framework image URI (<account>.dkr.ecr.<region>.<domain>/<repository>:<tag>);
    an image the manifest does not describe cannot run here, as nothing says what it holds."""
    repository = image_uri.rpartition("/")[2].partition(":")[0].partition("@")[0]
    framework = IMAGE_REPOSITORIES.get(repository)
    if framework is None:
        raise UnknownImageError(
            f"the container image {image_uri!r} is not one of the SageMaker framework images the runtime manifest "
            f"describes ({', '.join(IMAGE_REPOSITORIES)}), so the local cloud cannot run it"
        )
    return framework


def image_python_for(image_uri: str) -> Path:
    """The interpreter of the framework image `image_uri` names."""
    return image_python(framework_of_image(image_uri))


def _environment(prefix: str, name: str, python_version: str, requirements: list[str], patches: list[dict[str, str]]) -> Path:
    recipe = {"recipe": RECIPE_VERSION, "python": python_version, "requirements": requirements, "patches": patches}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    root = cache_root()
    env_dir = root / f"{prefix}-{key}"
    python = env_dir / "bin" / "python"
    if (env_dir / COMPLETE_MARKER).is_file():
        return python
    interpreter = find_interpreter(python_version)
    if interpreter is None:
        raise RuntimeUnavailableError(missing_interpreter_reason(name, python_version))
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / f"{prefix}-{key}.lock"):
        if (env_dir / COMPLETE_MARKER).is_file():
            return python
        print(
            f"Creating the environment of {name} (Python {python_version}: {', '.join(requirements)}) "
            f"under {env_dir}; this happens once.",
            file=sys.stderr,
            flush=True,
        )
        _build(interpreter, env_dir, requirements, patches)
    return python


def _build(interpreter: Path, env_dir: Path, requirements: list[str], patches: list[dict[str, str]]) -> None:
    """Built in its final folder (a venv's scripts name it); the marker, written last, makes it usable."""
    shutil.rmtree(env_dir, ignore_errors=True)
    try:
        _run([str(interpreter), "-m", "venv", str(env_dir)], "create the virtual environment")
        _run(
            [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
            "install the runtime's packages",
        )
        site_packages = _site_packages(env_dir)
        for patch in patches:
            target = site_packages / patch["file"]
            target.write_text(target.read_text().replace(patch["replace"], patch["by"]))
        (env_dir / COMPLETE_MARKER).write_text(json.dumps({"requirements": requirements}))
    except BaseException:
        shutil.rmtree(env_dir, ignore_errors=True)
        raise


def _site_packages(env_dir: Path) -> Path:
    matches = sorted((env_dir / "lib").glob("python*/site-packages"))
    if not matches:
        raise RuntimeUnavailableError(f"{env_dir} has no site-packages")
    return matches[0]


def _run(command: list[str], purpose: str) -> None:
    completed = subprocess.run(
        command, capture_output=True, text=True, env=clean_environment(), timeout=PIP_INSTALL_TIMEOUT_SECONDS, check=False
    )
    if completed.returncode != 0:
        tail = " | ".join((completed.stderr or completed.stdout).strip().splitlines()[-5:])
        raise RuntimeUnavailableError(f"could not {purpose}: {tail}")


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One process builds an environment; the others wait for it (pytest workers, two CLIs)."""
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def describe(python: Path, framework: str = "sklearn") -> dict[str, Any]:
    """The interpreter's version and the versions of the packages it imports (for tests and CI)."""
    script = (
        "import json, sys, importlib.metadata as m\n"
        "names = json.loads(sys.argv[1])\n"
        "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], "
        "'packages': {n: m.version(n) for n in names}}))\n"
    )
    names = list(runtime_manifest.framework_image(framework)["packages"])
    completed = subprocess.run(
        [str(python), "-c", script, json.dumps(names)], capture_output=True, text=True, env=clean_environment(), check=True
    )
    return json.loads(completed.stdout)
