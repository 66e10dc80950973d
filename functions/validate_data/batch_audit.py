"""The audit record of a batch execution, in the shape and under the keys of the alarm
responder's and the operating commands' records (mlops/audit_log.py reads them all), so `mlops
audit` lists batches and `mlops lineage` finds the batches a version scored."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from functions.common.s3_layout import AUDIT_PREFIX

BATCH_ACTION = "batch_score"
WHO = {"command": "batch", "user": "pipeline"}
# functions/alarm_responder/responder.py's key format: audit/<day>/<timestamp>-<name>.json.
AUDIT_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
AUDIT_NAME_MAX_CHARS = 64
AUDIT_NAME_DIGEST_CHARS = 12
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def batch_audit_record(report: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    model = report.get("model") or {}
    version = model.get("model_version")
    return {
        "who": WHO,
        "what": {"action": BATCH_ACTION, "outcome": report["outcome"], "status": "recorded"},
        "why": report["reason"],
        "when": {"decided_at": now.isoformat()},
        "versions": {"before": version, "after": version},
        "details": {
            "execution_arn": report.get("execution_arn"),
            "source_uri": report.get("source_uri"),
            "model_package_arn": model.get("model_package_arn"),
            "rows_scored": report.get("rows_scored"),
            "predictions_uri": report.get("predictions_uri"),
            "report_uri": f"reports/{report.get('execution_name')}/batch.json",
        },
    }


def batch_audit_key(execution_name: str, now: datetime) -> str:
    name = f"batch-{execution_name}"
    safe = UNSAFE_NAME_CHARS.sub("_", name)
    if safe != name or len(name) > AUDIT_NAME_MAX_CHARS:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:AUDIT_NAME_DIGEST_CHARS]
        safe = f"{safe[:AUDIT_NAME_MAX_CHARS]}~{digest}"
    return f"{AUDIT_PREFIX}{now:%Y/%m/%d}/{now.strftime(AUDIT_TIMESTAMP_FORMAT)}-{safe}.json"


def write_batch_audit(s3: Any, bucket: str, record: dict[str, Any], execution_name: str, now: datetime) -> str:
    key = batch_audit_key(execution_name, now)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(record, indent=2, sort_keys=True).encode("utf-8"),
        ContentType="application/json",
    )
    return key
