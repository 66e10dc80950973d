"""`mlops audit`: the audit log under s3://<data bucket>/audit/, newest first.

The alarm responder writes one record per alarm decision; the operating commands (rollback,
approve, reject) write records of the same shape with the person and command as "who".
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.alarm_responder import actions, responder
from functions.common.s3_layout import AUDIT_PREFIX
from mlops.aws_target import resolve_target
from mlops.cli import EXIT_FAILED, EXIT_OK, UsageError

WHEN_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
UNKNOWN = "-"


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


@dataclass(frozen=True)
class AuditEntry:
    key: str
    decided_at: datetime
    record: dict[str, Any] | None  # None: the object is not a readable audit record


def audit(config_path: Path | None, local: bool, since_hours: float | None, as_json: bool) -> int:
    command = "mlops audit"
    if since_hours is not None and since_hours <= 0:
        raise UsageError(f"{command}: --since takes a positive number of hours")
    target = resolve_target(command, config_path, local)
    if not target.data_bucket:
        raise UsageError(f"{command}: the outputs of {target.description} name no data bucket")
    try:
        entries = read_audit_log(target.client("s3"), target.data_bucket, since_hours, datetime.now(UTC))
    except (ClientError, BotoCoreError) as error:
        print(f"{command}: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        for entry in entries:
            print(json.dumps({"key": entry.key, "record": entry.record}, sort_keys=True))
        return EXIT_OK
    if not entries:
        window = f" in the last {since_hours:g} hours" if since_hours is not None else ""
        print(f"No audit records in s3://{target.data_bucket}/{AUDIT_PREFIX}{window}.")
        return EXIT_OK
    for line in audit_lines(entries):
        print(line)
    return EXIT_OK


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


def audit_lines(entries: list[AuditEntry]) -> list[str]:
    """One aligned line per entry: when, who, action, outcome, versions before -> after, why."""
    rows = [audit_columns(entry) for entry in entries]
    widths = [max((len(row[column]) for row in rows if len(row) > 2), default=0) for column in range(5)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:5], widths)), row[5]])
        if len(row) > 2 else "  ".join(row)
        for row in rows
    ]


def audit_columns(entry: AuditEntry) -> list[str]:
    when = entry.decided_at.strftime(WHEN_FORMAT)
    record = entry.record
    if record is None:
        return [when, f"unreadable audit record {entry.key}"]
    what = _section(record, "what")
    versions = _section(record, "versions")
    return [
        when,
        who_of(record),
        str(what.get("action") or UNKNOWN),
        str(what.get("outcome") or UNKNOWN),
        versions_text(versions.get("before"), versions.get("after")),
        str(record.get("why") or UNKNOWN),
    ]


def versions_text(before: Any, after: Any) -> str:
    def shown(version: Any) -> str:
        return UNKNOWN if version is None else f"v{version}"

    if before == after:
        return f"{shown(before)} unchanged" if before is not None else UNKNOWN
    return f"{shown(before)} -> {shown(after)}"


def who_of(record: dict[str, Any]) -> str:
    who = _section(record, "who")
    if who.get("alarm"):
        return str(who["alarm"])
    if who.get("command"):
        return f"{who['command']} ({who.get('user') or UNKNOWN})"
    return UNKNOWN


def _section(record: dict[str, Any], name: str) -> dict[str, Any]:
    section = record.get(name)
    return section if isinstance(section, dict) else {}
