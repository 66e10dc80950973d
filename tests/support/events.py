"""The sample events under tests/events, as the functions receive them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """tests/events/<name>.json, a fresh copy on every call."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())
