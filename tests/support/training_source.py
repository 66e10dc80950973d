"""The training source bundle the CDK app uploads for SageMaker script mode."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from functions.common.config import PipelineConfig

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
TRAINING_SOURCE = REPOSITORY_ROOT / "functions" / "training"


def source_bundle(config: PipelineConfig) -> bytes:
    """The training source bundle as the CDK app builds it: train.py, inference.py, the config."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in ("train.py", "inference.py"):
            archive.add(TRAINING_SOURCE / name, arcname=name)
        data = config.to_json().encode()
        info = tarfile.TarInfo("pipeline_config.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
