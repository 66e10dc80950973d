"""What the "Validate data" tests share: names, requests, CSV bytes, and the moto account the handler runs in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from functions.common.config import CONFIG_FILE_NAME, PipelineConfig
from tests.support.events import load_event

DATA_BUCKET = "mlops-data-test"
MODEL_PACKAGE_GROUP = "mlops-models"


def request_for(key: str, execution_name: str = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9") -> dict[str, Any]:
    event = load_event("validate_data_request")
    event.update(
        key=key,
        execution_name=execution_name,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:mlops-training:{execution_name}",
    )
    return event


def to_csv_bytes(frame: pd.DataFrame, **options: Any) -> bytes:
    return frame.to_csv(index=False, **options).encode("utf-8")


@dataclass
class Aws:
    s3: Any
    sagemaker: Any
    task_root: Path
    monkeypatch: pytest.MonkeyPatch

    def use_config(self, config: PipelineConfig) -> None:
        (self.task_root / CONFIG_FILE_NAME).write_text(config.to_json())

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read()

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=DATA_BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))
