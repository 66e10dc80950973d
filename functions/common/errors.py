"""Typed domain errors. Handlers map them to outcomes in one place; nothing matches on text."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class MissingEnvironmentError(PipelineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


class DataUnreadableError(PipelineError):
    """The uploaded file cannot be read as a table; `check` names why (encoding, empty_file...)."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


class ValidationJobOutputError(PipelineError):
    """The validation job completed but its outcome.json is missing or cannot be read."""


class TrainingOutputMissingError(PipelineError):
    """The training job finished but its model artifact or predictions are not where expected."""


class TrainingContractError(PipelineError):
    """The training job completed, but what it wrote breaks the script-mode contract evaluation
    reads it under (one prediction per test row, in order, in predictions.csv's layout)."""


class ChampionUnavailableError(PipelineError):
    """A production endpoint exists but could not score the evaluation rows."""


class RegistryError(PipelineError):
    """The model registry refused or lost a version."""
