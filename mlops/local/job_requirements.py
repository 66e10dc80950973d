"""A training job's requirements.txt, installed as the image installs it, into an overlay of the
job's own instead of the shared environment of the image.

At job start the image's training toolkit runs `python -m pip install -r requirements.txt` in the
unpacked source bundle (aws/sagemaker-training-toolkit v4.8.0, src/sagemaker_training/modules.py
`install_requirements`); a failure fails the job with InstallRequirementsError and pip's output
(src/sagemaker_training/errors.py). Here the image's own pip decides what it would install into the
image's environment (`pip install --dry-run --report`: what the image already has stays), and only
those distributions are installed, without their dependencies again, into a folder that the job
finds first on PYTHONPATH. The folder is cached by the requirements file, the bundled wheels and the
image's interpreter (under ~/.cache/mlops/job-packages, or $MLOPS_CACHE_DIR/job-packages), so the
next job with the same bundle installs nothing.

A job with network isolation reaches no package index
(https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html): its pip runs
with every proxy pointing at a closed local port, so a requirement that is not satisfied by the
bundle fails as pip fails without a network, instead of being fetched.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlops.local import runtime_env

REQUIREMENTS_FILE_NAME = "requirements.txt"
OVERLAY_CACHE_FOLDER = "job-packages"
COMPLETE_MARKER = ".complete"
PIP_TIMEOUT_SECONDS = 15 * 60
# Port 9 (discard) on the loopback interface: nothing listens, so every connection is refused at once.
UNREACHABLE_PROXY = "http://127.0.0.1:9"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
# Bumped when the way overlays are built changes, so old ones are not reused.
OVERLAY_RECIPE = 1


class RequirementsInstallError(Exception):
    """pip refused the job's requirements; the message is the one the toolkit reports."""


def overlay_cache_root() -> Path:
    """Beside the synthesis cache, which test sessions point at a fresh folder: an overlay is made
    in seconds, unlike the image's environment (runtime_env.cache_root)."""
    base = os.environ.get("MLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops"
    )
    return Path(base) / OVERLAY_CACHE_FOLDER


def pip_environment(network_isolation: bool) -> dict[str, str]:
    environment = runtime_env.clean_environment()
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if network_isolation:
        for name in NO_PROXY_VARIABLES:
            environment.pop(name, None)
        environment.update({name: UNREACHABLE_PROXY for name in PROXY_VARIABLES})
        environment.update({"PIP_RETRIES": "0", "PIP_TIMEOUT": "5"})
    return environment


def overlay_key(code_dir: Path, python: Path, network_isolation: bool) -> str:
    digest = hashlib.sha256(json.dumps({"recipe": OVERLAY_RECIPE, "python": str(python), "isolated": network_isolation}).encode())
    digest.update((code_dir / REQUIREMENTS_FILE_NAME).read_bytes())
    for wheel in sorted(code_dir.rglob("*.whl")):
        digest.update(wheel.relative_to(code_dir).as_posix().encode())
        digest.update(hashlib.sha256(wheel.read_bytes()).digest())
    return digest.hexdigest()[:24]


def install_overlay(
    code_dir: Path, network_isolation: bool, cache_root: Path | None = None, python: Path | None = None
) -> Path | None:
    """The folder to put first on the job's PYTHONPATH, or None when the bundle has no
    requirements.txt or the image already satisfies it. `python`: the interpreter of the image
    the job names (default: the scikit-learn image's)."""
    if not (code_dir / REQUIREMENTS_FILE_NAME).is_file():
        return None
    python = python or runtime_env.image_python()
    root = cache_root or overlay_cache_root()
    entry = root / overlay_key(code_dir, python, network_isolation)
    if not (entry / COMPLETE_MARKER).is_file():
        root.mkdir(parents=True, exist_ok=True)
        with (root / f"{entry.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (entry / COMPLETE_MARKER).is_file():
                _build(entry, code_dir, python, pip_environment(network_isolation))
    return entry if any(path.name != COMPLETE_MARKER for path in entry.iterdir()) else None


def _build(entry: Path, code_dir: Path, python: Path, environment: dict[str, str]) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f"{entry.name}-", dir=entry.parent))
    try:
        report = staging / "report.json"
        command = [str(python), "-m", "pip", "install", "-r", REQUIREMENTS_FILE_NAME]
        # What `pip install -r requirements.txt` would install into the image's environment.
        _pip([*command, "--dry-run", "--quiet", "--report", str(report)], code_dir, environment, command)
        distributions = [
            _local_file(item["download_info"]["url"]) for item in json.loads(report.read_text()).get("install", [])
        ]
        report.unlink()
        if distributions:
            _pip(
                [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(staging), *distributions],
                code_dir, environment, command,
            )
        (staging / COMPLETE_MARKER).write_text("")
        shutil.rmtree(entry, ignore_errors=True)
        staging.rename(entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _local_file(url: str) -> str:
    parsed = urlparse(url)
    return unquote(parsed.path) if parsed.scheme == "file" else url


def _pip(arguments: list[str], code_dir: Path, environment: dict[str, str], reported_command: list[str]) -> None:
    completed = subprocess.run(
        arguments, cwd=code_dir, env=environment, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
    )
    if completed.returncode != 0:
        errors = [line for line in completed.stderr.splitlines() if line.startswith("ERROR")] or completed.stderr.splitlines()[-3:]
        raise RequirementsInstallError(
            f'InstallRequirementsError: ExitCode {completed.returncode} ErrorMessage "{" ".join(errors)}" '
            f'Command "{" ".join(reported_command)}"'
        )
