"""The audit log under s3://<data bucket>/audit/: reading it back, and the records of what a
person did.

The alarm responder writes one record per alarm decision; the operating commands (rollback,
approve, reject) write records of the same shape with the person and command as "who".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.alarm_responder import actions, responder
from functions.common.s3_layout import AUDIT_PREFIX


@dataclass(frozen=True)
class AuditEntry:
    key: str
    decided_at: datetime
    record: dict[str, Any] | None  # None: the object is not a readable audit record


def operator_audit_record(
    *,
    command: str,
    user: str,
    action: str,
    outcome: str,
    status: str,
    reason: str,
    now: datetime,
    version_before: int | None,
    version_after: int | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    """An audit record of something a person did, in the alarm responder's record shape."""
    return {
        "who": {"command": command, "user": user},
        "what": {"action": action, "outcome": outcome, "status": status},
        "why": reason,
        "when": {"decided_at": now.isoformat()},
        "versions": {"before": version_before, "after": version_after},
        "details": details,
    }


def write_operator_record(s3: Any, bucket: str, record: dict[str, Any], now: datetime) -> str:
    key = responder.audit_key(record["who"]["command"].replace(" ", "-"), now)
    actions.write_audit_record(s3, bucket, key, record)
    return key


def read_audit_log(s3: Any, bucket: str, since_hours: float | None, now: datetime) -> list[AuditEntry]:
    """Records decided within `since_hours` of `now` (all when None), newest first."""
    since = now - timedelta(hours=since_hours) if since_hours is not None else None
    entries = []
    for prefix in _prefixes(since, now):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                decided_at = responder.audit_key_time(item["Key"])
                if decided_at is None or (since is not None and decided_at < since):
                    continue
                entries.append(AuditEntry(item["Key"], decided_at, _read(s3, bucket, item["Key"])))
    return sorted(entries, key=lambda entry: (entry.decided_at, entry.key), reverse=True)


def _prefixes(since: datetime | None, now: datetime) -> list[str]:
    if since is None:
        return [AUDIT_PREFIX]
    days = (now.date() - since.date()).days
    return [f"{AUDIT_PREFIX}{since + timedelta(days=offset):%Y/%m/%d}/" for offset in range(days + 1)]


def _read(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None
