"""The batches a model version scored, read back from their audit records (written by the
validate function's batch steps, functions/validate_data/batch_audit.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from functions.validate_data.batch_audit import BATCH_ACTION
from mlops.audit_log import read_audit_log


def batches_scored_by(s3: Any, bucket: str, version: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Newest first: when, the outcome, the file, its predictions and the execution."""
    batches = []
    for entry in read_audit_log(s3, bucket, None, now or datetime.now(UTC)):
        record = entry.record or {}
        what = record.get("what") or {}
        if what.get("action") != BATCH_ACTION or (record.get("versions") or {}).get("after") != version:
            continue
        details = record.get("details") or {}
        batches.append(
            {
                "decided_at": entry.decided_at.isoformat(),
                "outcome": what.get("outcome"),
                "source_uri": details.get("source_uri"),
                "rows_scored": details.get("rows_scored"),
                "predictions_uri": details.get("predictions_uri"),
                "execution_arn": details.get("execution_arn"),
            }
        )
    return batches
