"""Shared constants and small functions for the "Validate data" tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

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
