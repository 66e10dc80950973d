"""The drift monitor's watermark: how far it has read the endpoint's data capture.

Stored as JSON in the data bucket. Each run reads the capture objects the watermark admits and
then moves it past them, so every object is read once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.common.capture import JSON_CONTENT_TYPE, CaptureObject, list_capture_objects
from functions.common.errors import PipelineError

# Capture objects are named by the hour of their first record and written minutes later; an
# object whose hour is this far before the watermark cannot be new.
CAPTURE_DELIVERY_LAG_HOURS = 24


@dataclass(frozen=True)
class Watermark:
    """The newest capture object read so far: its LastModified, and every key read at that instant.

    S3 reports LastModified to the second, so several objects can share it; keeping their keys
    lets an object written in that same second after the previous run still count as new.
    """

    last_modified: datetime | None = None
    keys_at_last_modified: frozenset[str] = frozenset()

    def admits(self, candidate: CaptureObject) -> bool:
        if self.last_modified is None or candidate.last_modified > self.last_modified:
            return True
        return candidate.last_modified == self.last_modified and candidate.key not in self.keys_at_last_modified

    def advanced_to(self, read: list[CaptureObject]) -> Watermark:
        if not read:
            return self
        newest = max(item.last_modified for item in read)
        keys = {item.key for item in read if item.last_modified == newest}
        if newest == self.last_modified:
            keys |= self.keys_at_last_modified
        return Watermark(newest, frozenset(keys))

    def to_dict(self, updated_at: datetime) -> dict[str, Any]:
        keys = sorted(self.keys_at_last_modified)
        return {
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
            "key": keys[-1] if keys else None,
            "keys_at_last_modified": keys,
            "updated_at": updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Watermark:
        text = document.get("last_modified")
        if not text:
            return cls()
        keys = set(document.get("keys_at_last_modified") or [])
        if document.get("key"):
            keys.add(document["key"])
        return cls(datetime.fromisoformat(text), frozenset(keys))


class WatermarkUnreadableError(PipelineError):
    """The stored watermark is not the JSON this module writes."""


def load_watermark(s3: Any, bucket: str, key: str) -> Watermark:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return Watermark()
        raise
    try:
        return Watermark.from_dict(json.loads(body))
    except (ValueError, TypeError, AttributeError) as error:
        raise WatermarkUnreadableError(
            f"s3://{bucket}/{key} is not a drift watermark; delete it to read all capture again"
        ) from error


def save_watermark(s3: Any, bucket: str, key: str, watermark: Watermark, updated_at: datetime) -> None:
    body = json.dumps(watermark.to_dict(updated_at), indent=2).encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=JSON_CONTENT_TYPE)


def capture_objects_since(s3: Any, bucket: str, endpoint_name: str, watermark: Watermark) -> list[CaptureObject]:
    hours_from = None
    if watermark.last_modified is not None:
        hours_from = watermark.last_modified - timedelta(hours=CAPTURE_DELIVERY_LAG_HOURS)
    return [item for item in list_capture_objects(s3, bucket, endpoint_name, hours_from) if watermark.admits(item)]
