"""The training source bundle the CDK app uploads for SageMaker script mode."""

from __future__ import annotations

import io
import json
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


def user_source_bundle(folder: Path, config: PipelineConfig) -> bytes:
    """The source bundle the CDK app builds for `training.source_dir` = `folder`."""
    from infra.assets import REPOSITORY_ROOT as ROOT, build_training_bundle
    from infra.training_source import resolve_source_dir

    config_path = folder.parent / f"{folder.name}-pipeline.json"
    document = config.model_dump(mode="json", exclude_none=True)
    document["training"]["source_dir"] = folder.name
    config_path.write_text(json.dumps(document))
    source = resolve_source_dir(PipelineConfig.model_validate(document), config_path)
    bundle = build_training_bundle(config_path, folder.parent / f"{folder.name}-bundle.tar.gz", ROOT, source)
    return bundle.read_bytes()
