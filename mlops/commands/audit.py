"""`mlops audit`: the audit log under s3://<data bucket>/audit/, newest first."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.cli_support import EXIT_FAILED, EXIT_OK, UsageError, add_target_arguments

if TYPE_CHECKING:
    from mlops.audit_log import AuditEntry

WHEN_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
UNKNOWN = "-"


def register(commands: argparse._SubParsersAction) -> None:
    audit_command = commands.add_parser("audit", help="the audit log of alarm decisions and operator actions, newest first")
    audit_command.add_argument("--since", type=float, metavar="HOURS", help="only records of the last HOURS hours")
    audit_command.add_argument("--json", action="store_true", help="one JSON object per record, one per line")
    add_target_arguments(audit_command)
    audit_command.set_defaults(handler=lambda arguments: audit(
        arguments.config, arguments.local, arguments.since, arguments.json,
        profile=arguments.profile, region=arguments.region))


def audit(
    config_path: Path | None, local: bool, since_hours: float | None, as_json: bool,
    *, profile: str | None = None, region: str | None = None,
) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from functions.common.s3_layout import AUDIT_PREFIX
    from mlops.audit_log import read_audit_log
    from mlops.aws_target import resolve_target

    command = "mlops audit"
    if since_hours is not None and since_hours <= 0:
        raise UsageError(f"{command}: --since takes a positive number of hours")
    target = resolve_target(command, config_path, local, profile=profile, region=region)
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
