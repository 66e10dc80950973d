"""SageMaker training jobs run as a local process under the script-mode contract.

moto records a training job as Completed at once, with no artifact. This stand-in runs the job
during CreateTrainingJob instead: it lays out SageMaker's /opt/ml tree in a temporary folder,
downloads each input channel from the (moto) bucket, unpacks the source bundle named by
`sagemaker_submit_directory`, runs `sagemaker_program` under the interpreter and packages of the
framework image the job names (mlops/local/runtime_env.py) with the hyperparameters as
`--name value` arguments and the SM_* environment (after installing the bundle's requirements.txt
as the image does, into an overlay of the job's own: mlops/local/job_requirements.py), then
uploads model.tar.gz and output.tar.gz where SageMaker would. A failed script leaves the job Failed
with the reason from /opt/ml/output/failure, as SageMaker reports it. A job of several instances
runs one process per instance at once (mlops/local/training_hosts.py), and aggregates what every
host left.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.local import job_requirements, moto_access, runtime_env
from mlops.local import training_hosts
from mlops.local.training_hosts import SINGLE_HOST, host_folders, job_hosts, run_hosts, shard_of
from mlops.local.iam import enforcement
from mlops.local.job_output import run_with_live_log

SAGEMAKER_ROOT = "/opt/ml"
MAX_FAILURE_REASON_CHARS = 1024
RESERVED_HYPERPARAMETER_PREFIX = "sagemaker_"


@dataclass
class TrainingRun:
    job_name: str
    succeeded: bool
    failure_reason: str | None
    seconds: float
    log: str


class LocalTrainingJobRunner:
    def __init__(self, work_root: Path, live_log_folder: Path | None = None) -> None:
        """`live_log_folder`: where each job's output is appended as it comes (`<job>.log`)."""
        self._work_root = work_root
        self._live_log_folder = live_log_folder
        self.runs: dict[str, TrainingRun] = {}

    def run(self, job_name: str, request: dict[str, Any]) -> TrainingRun:
        started = time.monotonic()
        job_root = Path(tempfile.mkdtemp(prefix=f"{job_name}-", dir=self._work_root))
        role = request.get("role_arn") or ""
        try:
            python = _image_python(request)
            hosts = job_hosts((request.get("resource_config") or {}).get("InstanceCount", 1))
            host_roots = host_folders(job_root, hosts)
            for index, host_root in enumerate(host_roots.values()):
                self._download_channels(host_root, request.get("input_data_config") or [], role, (index, len(hosts)))
            hyperparameters = {k: str(v) for k, v in (request.get("hyper_parameters") or {}).items()}
            first_root = host_roots[hosts[0]]
            code_dir = self._unpack_source(first_root, hyperparameters, role)
            packages = _install_requirements(code_dir, bool(request.get("enable_network_isolation")), python)
            log_file = live_log(self._live_log_folder, job_name)
            completed_by_host = run_hosts(
                hosts,
                lambda host: self._run_script(
                    host_roots[host],
                    code_dir,
                    hyperparameters,
                    request,
                    log_file,
                    packages,
                    python=python,
                    host=host,
                    hosts=hosts,
                ),
            )
            failure = next(
                (reason for host, completed in completed_by_host.items() if (reason := _failure_reason(host_roots[host], completed))),
                None,
            )
            if failure is None:
                self._upload_outputs(list(host_roots.values()), job_name, request["output_data_config"], role)
            completed = completed_by_host[hosts[0]]
            run = TrainingRun(job_name, failure is None, failure, time.monotonic() - started, completed.stdout)
        except JobSetupError as error:
            run = TrainingRun(job_name, False, str(error), time.monotonic() - started, "")
        finally:
            shutil.rmtree(job_root, ignore_errors=True)
        self.runs[job_name] = run
        return run

    def _download_channels(
        self, job_root: Path, channels: list[dict[str, Any]], role: str, host: tuple[int, int] = (0, 1)
    ) -> None:
        """`host`: this host's position and the number of hosts, for ShardedByS3Key channels."""
        for channel in channels:
            source = channel["DataSource"]["S3DataSource"]["S3Uri"]
            target = job_root / "input" / "data" / channel["ChannelName"]
            target.mkdir(parents=True, exist_ok=True)
            if channel["DataSource"]["S3DataSource"].get("S3DataType") == "ManifestFile":
                objects = manifest_objects(source, role)
            else:
                with execution_role_access(role, "Data download failed"):
                    enforcement.authorize_listing(role, *split_s3_uri(source))
                objects = prefix_objects(source)
            if not objects:
                raise JobSetupError(f"ClientError: channel {channel['ChannelName']} has no objects under {source}")
            if channel["DataSource"]["S3DataSource"].get("S3DataDistributionType") == "ShardedByS3Key":
                objects = shard_of(objects, *host)
            for bucket, key, relative in objects:
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with execution_role_access(role, "Data download failed"):
                    enforcement.authorize_object_read(role, bucket, key)
                try:
                    destination.write_bytes(moto_access.read_object(bucket, key))
                except FileNotFoundError as error:
                    raise JobSetupError(f"ClientError: s3://{bucket}/{key} does not exist") from error

    def _unpack_source(self, job_root: Path, hyperparameters: dict[str, str], role: str) -> Path:
        submit = hyperparameters.get("sagemaker_submit_directory", "")
        if submit.startswith(SAGEMAKER_ROOT + "/"):
            bundle = job_root / submit.removeprefix(SAGEMAKER_ROOT + "/")
            if not bundle.is_file():
                raise JobSetupError(f"ClientError: source bundle {submit} was not delivered by any channel")
            data = bundle.read_bytes()
        elif submit.startswith("s3://"):
            bucket, _, key = submit.removeprefix("s3://").partition("/")
            with execution_role_access(role, "Source download failed"):
                enforcement.authorize_object_read(role, bucket, key)
            data = moto_access.read_object(bucket, key)
        else:
            raise JobSetupError("ClientError: hyperparameter sagemaker_submit_directory is missing")
        code_dir = job_root / "code"
        code_dir.mkdir()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(code_dir, filter="data")
        return code_dir

    def _run_script(
        self,
        job_root: Path,
        code_dir: Path,
        hyperparameters: dict[str, str],
        request: dict[str, Any],
        live_log_file: Path | None = None,
        packages: Path | None = None,
        *,
        python: Path | None = None,
        host: str = SINGLE_HOST,
        hosts: list[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        program = hyperparameters.get("sagemaker_program")
        if not program or not (code_dir / program).is_file():
            raise JobSetupError(f"ClientError: entry point {program!r} is not in the source bundle")
        user_hyperparameters = {
            k: v for k, v in hyperparameters.items() if not k.startswith(RESERVED_HYPERPARAMETER_PREFIX)
        }
        channels = sorted(p.name for p in (job_root / "input" / "data").iterdir() if p.is_dir())
        (job_root / "model").mkdir()
        (job_root / "output" / "data").mkdir(parents=True)
        environment = {
            **{k: v for k, v in runtime_env.clean_environment().items() if not k.startswith("SM_")},
            "SM_MODEL_DIR": str(job_root / "model"),
            "SM_OUTPUT_DIR": str(job_root / "output"),
            "SM_OUTPUT_DATA_DIR": str(job_root / "output" / "data"),
            "SM_INPUT_DIR": str(job_root / "input"),
            "SM_CHANNELS": json.dumps(channels),
            "SM_HPS": json.dumps(user_hyperparameters),
            "SM_USER_ENTRY_POINT": program,
            "SM_MODULE_DIR": str(code_dir),
            **training_hosts.host_environment(hosts or [host]),
            "SM_CURRENT_HOST": host,
            "SM_HOSTS": json.dumps(hosts or [host]),
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_NUM_GPUS": "0",
            **{f"SM_CHANNEL_{name.upper()}": str(job_root / "input" / "data" / name) for name in channels},
            **{f"SM_HP_{name.upper()}": value for name, value in user_hyperparameters.items()},
            **({"PYTHONPATH": str(packages)} if packages is not None else {}),
        }
        arguments = [item for name, value in user_hyperparameters.items() for item in (f"--{name}", value)]
        max_runtime_seconds = (request.get("stopping_condition") or {}).get("MaxRuntimeInSeconds", 86400)
        try:
            return run_with_live_log(
                [str(python or runtime_env.image_python()), program, *arguments],
                cwd=code_dir,
                env=environment,
                timeout=max_runtime_seconds,
                live_log=live_log_file,
            )
        except subprocess.TimeoutExpired as error:
            raise JobSetupError(
                f"MaxRuntimeExceeded: training job exceeded MaxRuntimeInSeconds ({max_runtime_seconds} s)"
            ) from error

    def _upload_outputs(self, host_roots: list[Path], job_name: str, output_config: dict[str, Any], role: str) -> None:
        """Every host's model and output folders, each aggregated into one archive, as SageMaker
        does: "If multiple containers in a single training job write to this directory they should
        ensure no file/directory names clash. SageMaker AI aggregates the result in a TAR file"
        (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html).
        A clash fails the job here, since which host's file SageMaker would keep is not said."""
        bucket, prefix = split_s3_uri(output_config["S3OutputPath"])
        base = f"{prefix.rstrip('/')}/{job_name}/output/".lstrip("/")
        outputs = {"model.tar.gz": ("model",), "output.tar.gz": ("output", "data")}
        archives = {name: _tar_gz([root.joinpath(*folder) for root in host_roots]) for name, folder in outputs.items()}
        for name, archive in archives.items():
            with execution_role_access(role, "Uploading output failed"):
                enforcement.authorize_object_write(role, bucket, base + name, output_config.get("KmsKeyId"))
            moto_access.write_object(bucket, base + name, archive)


def _image_python(request: dict[str, Any]) -> Path:
    """The interpreter of the framework image the job names, which the job's script runs under."""
    image = ((request.get("algorithm_specification") or {}).get("TrainingImage")) or ""
    try:
        return runtime_env.image_python_for(image) if image else runtime_env.image_python()
    except runtime_env.UnknownImageError as error:
        raise JobSetupError(f"ClientError: {error}") from error


def _install_requirements(code_dir: Path, network_isolation: bool, python: Path) -> Path | None:
    try:
        return job_requirements.install_overlay(code_dir, network_isolation, python=python)
    except job_requirements.RequirementsInstallError as error:
        raise JobSetupError(f"AlgorithmError: {error}") from error


def live_log(folder: Path | None, job_name: str) -> Path | None:
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{job_name}.log"


class JobSetupError(Exception):
    """The job could not start or finish for a reason SageMaker would report as FailureReason."""


@contextmanager
def execution_role_access(role: str, failure: str) -> Iterator[None]:
    """A job reads and writes S3 as its execution role; a refusal fails the job with the
    ClientError SageMaker reports."""
    try:
        yield
    except enforcement.AccessDeniedError as error:
        raise JobSetupError(f"ClientError: {failure}. AccessDenied: {error}") from error


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def prefix_objects(uri: str) -> list[tuple[str, str, str]]:
    """(bucket, key, path relative to the prefix's folder) of every object an S3Prefix input
    delivers, as SageMaker lays them out under the input's local folder."""
    bucket, prefix = split_s3_uri(uri)
    base = prefix if prefix.endswith("/") else prefix.rpartition("/")[0] + "/"
    return [(bucket, key, key.removeprefix(base.lstrip("/"))) for key in moto_access.list_keys(bucket, prefix)]


def manifest_objects(uri: str, role: str) -> list[tuple[str, str, str]]:
    """(bucket, key, relative path) of each object a ManifestFile input names: the manifest is
    read as the job's role, each object is laid out under the input's folder by its path
    relative to the manifest's prefix
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html)."""
    bucket, key = split_s3_uri(uri)
    with execution_role_access(role, "Data download failed"):
        enforcement.authorize_object_read(role, bucket, key)
    try:
        manifest = json.loads(moto_access.read_object(bucket, key))
    except (FileNotFoundError, ValueError) as error:
        raise JobSetupError(f"ClientError: manifest {uri} cannot be read ({type(error).__name__})") from error
    if not manifest or not isinstance(manifest[0], dict) or "prefix" not in manifest[0]:
        raise JobSetupError(f"ClientError: manifest {uri} does not start with a prefix")
    prefix_bucket, prefix = split_s3_uri(manifest[0]["prefix"])
    return [(prefix_bucket, prefix + relative, relative) for relative in manifest[1:]]


def output_tail(completed: subprocess.CompletedProcess[str]) -> str:
    """The last lines the job's process wrote, for a failure reason when it left none of its own."""
    last_lines = (completed.stderr or completed.stdout or "").strip().splitlines()[-3:]
    return " | ".join(last_lines) or f"exit status {completed.returncode}"


def _tar_gz(folders: list[Path]) -> bytes:
    buffer = io.BytesIO()
    added: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                name = str(path.relative_to(folder))
                if name in added:
                    if path.is_dir():
                        continue
                    raise JobSetupError(f"ClientError: more than one instance wrote {folder.name}/{name}; their names clash")
                added.add(name)
                archive.add(path, arcname=name, recursive=False)
    return buffer.getvalue()


def _failure_reason(job_root: Path, completed: subprocess.CompletedProcess[str]) -> str | None:
    if completed.returncode == 0:
        return None
    failure_file = job_root / "output" / "failure"
    if failure_file.is_file() and failure_file.read_text().strip():
        reason = failure_file.read_text().strip()
    else:
        reason = output_tail(completed)
    return f"AlgorithmError: {reason}"[:MAX_FAILURE_REASON_CHARS]
