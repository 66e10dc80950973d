"""The outcome every execution ends in."""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    """How an execution ends: the state machine records one in `$.result.outcome` before each
    successful end, and a failed execution is `failed`. The local results, the console, the
    demo and the tests read these values. (str, Enum) rather than StrEnum: this module also
    runs in the validation job's Python 3.10."""

    DEPLOYED = "deployed"
    PENDING_APPROVAL = "pending_approval"
    DATA_REJECTED = "data_rejected"
    MODEL_REJECTED = "model_rejected"
    DUPLICATE = "duplicate"
    # A file uploaded under batch/ was scored; its predictions are under predictions/.
    SCORED = "scored"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value
