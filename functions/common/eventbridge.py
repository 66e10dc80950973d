"""The envelope EventBridge delivers every event in.

The fields of Powertools' EventBridgeModel, defined here so that a handler parsing an
EventBridge event does not import Powertools' parser package, which loads its event models for
every AWS service at import (see functions.common.handler.parsed_event).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventBridgeEvent(BaseModel):
    # defer_build: the validator is built at the first event, not when a handler module is imported.
    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]
    replay_name: str | None = Field(default=None, alias="replay-name")
