"""The built-in XGBoost trainer run as SageMaker script mode runs it on one or several instances:
the source bundle the CDK app builds, unpacked; one process of the XGBoost image's interpreter per
instance, each with its own SM_* folders, SM_CURRENT_HOST, the job's SM_HOSTS and its share of
the training rows as part files; the model served by the image's serving stack."""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from functions.common.config import PipelineConfig
from infra import assets
from mlops.local import runtime_env, training_hosts
from mlops.local.endpoints import ServedModel

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
TRAINING_TIMEOUT_SECONDS = 300


def xgboost_python() -> Path:
    try:
        return runtime_env.image_python("xgboost")
    except runtime_env.RuntimeUnavailableError as error:
        pytest.skip(f"needs the SageMaker XGBoost image's runtime: {error}")


def xgboost_config(config: PipelineConfig, instance_count: int = 1) -> PipelineConfig:
    data = config.model_dump(exclude_none=True)
    data["training"] = {"framework": "xgboost", "instance_count": instance_count}
    return PipelineConfig.model_validate(data)


@dataclass
class XGBoostRun:
    root: Path
    hosts: list[str]
    config: PipelineConfig
    processes: dict[str, subprocess.CompletedProcess[str]]

    def host_root(self, host: str) -> Path:
        return self.root / "hosts" / host

    @property
    def first(self) -> Path:
        return self.host_root(self.hosts[0])

    @property
    def model_dir(self) -> Path:
        return self.first / "model"

    def metadata(self) -> dict:
        return json.loads((self.model_dir / "metadata.json").read_text(encoding="utf-8"))

    def predictions(self) -> pd.DataFrame:
        return pd.read_csv(self.first / "output" / "data" / "predictions.csv", dtype={"prediction": str})

    def failure_reason(self, host: str | None = None) -> str:
        return (self.host_root(host or self.hosts[0]) / "output" / "failure").read_text(encoding="utf-8")

    def stdout(self, host: str | None = None) -> str:
        return self.processes[host or self.hosts[0]].stdout

    def succeeded(self) -> XGBoostRun:
        for host, process in self.processes.items():
            assert process.returncode == 0, f"{host}: {process.stdout}{process.stderr}"
        return self


def unpack_bundle(config: PipelineConfig, root: Path) -> Path:
    """The source bundle the CDK app stages for this config, unpacked as SageMaker unpacks it."""
    root.mkdir(parents=True, exist_ok=True)
    config_file = root / "pipeline.json"
    config_file.write_text(config.to_json(), encoding="utf-8")
    bundle = assets.build_training_bundle(config_file, root / "sourcedir.tar.gz")
    code_dir = root / "code"
    with tarfile.open(bundle, mode="r:gz") as archive:
        archive.extractall(code_dir, filter="data")
    return code_dir


def run_xgboost_training(
    root: Path,
    splits: dict[str, pd.DataFrame],
    config: PipelineConfig,
    arguments: list[str],
    instance_count: int = 1,
) -> XGBoostRun:
    """Train on `splits` with `instance_count` hosts; the train split is dealt out in turn into one
    part file per host, as validation writes it for a distributed job."""
    config = xgboost_config(config, instance_count)
    code_dir = unpack_bundle(config, root)
    hosts = training_hosts.job_hosts(instance_count)
    train = splits["train"]
    for position, host in enumerate(hosts):
        host_root = root / "hosts" / host
        # SageMaker gives every instance an empty model folder and output folder.
        (host_root / "model").mkdir(parents=True)
        (host_root / "output" / "data").mkdir(parents=True)
        for split_name, split in splits.items():
            channel_dir = host_root / "input" / "data" / split_name
            channel_dir.mkdir(parents=True)
            if split_name == "train" and instance_count > 1:
                train.iloc[position::instance_count].to_csv(channel_dir / f"part-{position:05d}.csv", index=False)
            else:
                split.to_csv(channel_dir / "data.csv", index=False)
    python = xgboost_python()

    def run(host: str) -> subprocess.CompletedProcess[str]:
        host_root = root / "hosts" / host
        environment = {name: value for name, value in runtime_env.clean_environment().items() if not name.startswith("SM_")}
        environment.update(
            {f"SM_CHANNEL_{name.upper()}": str(host_root / "input" / "data" / name) for name in splits},
            SM_MODEL_DIR=str(host_root / "model"),
            SM_OUTPUT_DIR=str(host_root / "output"),
            SM_OUTPUT_DATA_DIR=str(host_root / "output" / "data"),
            SM_HPS="{}",
            **training_hosts.host_environment(hosts),
            SM_CURRENT_HOST=host,
            SM_HOSTS=json.dumps(hosts),
        )
        return subprocess.run(
            [str(python), "train.py", *arguments],
            cwd=code_dir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=TRAINING_TIMEOUT_SECONDS,
            check=False,
        )

    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        processes = dict(zip(hosts, pool.map(run, hosts)))
    return XGBoostRun(root, hosts, config, processes)


@contextmanager
def served(run: XGBoostRun) -> Iterator[ServedModel]:
    """The first host's model folder served as the XGBoost image serves /opt/ml/model."""
    model = ServedModel({"Image": XGBOOST_IMAGE, "Environment": SERVING_ENVIRONMENT}, run.first, run.root / "container.log")
    try:
        yield model
    finally:
        model.close()
