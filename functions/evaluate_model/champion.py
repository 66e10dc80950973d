"""The production model ("champion"): find what serves on the endpoint and score test rows on it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.capture import EVALUATION_INFERENCE_ID_PREFIX
from functions.common.errors import ChampionUnavailableError
from functions.common.model_metrics import ModelPredictions, canonical_label
from functions.common.serving_model import SERVING_STATUSES, endpoint_exists

# SageMaker real-time invocations accept 6 MB; stay under it with room for the envelope.
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS_PER_REQUEST = 1000
MAX_INFERENCE_ID_CHARS = 64


@dataclass(frozen=True)
class Champion:
    endpoint_name: str
    endpoint_config_name: str
    variant_name: str
    model_name: str
    model_version: int | None
    model_package_arn: str | None

    @property
    def label(self) -> str:
        return f"the champion (version {self.model_version})" if self.model_version is not None else f"the champion ({self.model_name})"


def inference_id_for(execution_name: str) -> str:
    """Marks evaluation traffic in data capture so the drift monitor can leave it out."""
    return (EVALUATION_INFERENCE_ID_PREFIX + execution_name)[:MAX_INFERENCE_ID_CHARS]


def _parse_version(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def find_champion(sagemaker: Any, endpoint_name: str) -> Champion | None:
    """What serves on the endpoint; None when there is no endpoint (the first model)."""
    try:
        if not endpoint_exists(sagemaker, endpoint_name):
            return None
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        status = endpoint["EndpointStatus"]
        if status not in SERVING_STATUSES:
            raise ChampionUnavailableError(
                f"endpoint {endpoint_name} exists but is {status}, so the production model cannot be scored; "
                "wait for it to be InService or delete it"
            )
        config_name = endpoint["EndpointConfigName"]
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        variants = config.get("ProductionVariants", [])
        if not variants:
            raise ChampionUnavailableError(f"endpoint config {config_name} has no production variant")
        # The heaviest variant carries most production traffic; it is the one to beat.
        variant = max(variants, key=lambda v: v.get("InitialVariantWeight", 1.0))
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
    except (ClientError, BotoCoreError) as error:
        raise ChampionUnavailableError(f"cannot describe what serves on endpoint {endpoint_name}: {error}") from error
    environment = (model.get("PrimaryContainer") or {}).get("Environment", {})
    return Champion(
        endpoint_name=endpoint_name,
        endpoint_config_name=config_name,
        variant_name=variant["VariantName"],
        model_name=variant["ModelName"],
        model_version=_parse_version(environment.get("MODEL_VERSION")),
        model_package_arn=environment.get("MODEL_PACKAGE_ARN"),
    )


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _serialized_rows(features: pd.DataFrame) -> list[str]:
    columns = list(features.columns)
    return [
        json.dumps({column: _json_value(value) for column, value in zip(columns, row, strict=True)}, allow_nan=False)
        for row in features.itertuples(index=False, name=None)
    ]


def request_batches(features: pd.DataFrame) -> Iterator[tuple[int, bytes]]:
    """JSON bodies {"instances": [...]} within the row and byte limits; yields (row count, body)."""
    envelope_bytes = len(b'{"instances": []}')
    batch: list[str] = []
    batch_bytes = envelope_bytes
    for row in _serialized_rows(features):
        row_bytes = len(row.encode("utf-8")) + 2  # ", " separator
        if row_bytes + envelope_bytes > MAX_PAYLOAD_BYTES:
            raise ChampionUnavailableError(f"one test row serializes to {row_bytes} bytes, more than an invocation accepts")
        if batch and (len(batch) >= MAX_ROWS_PER_REQUEST or batch_bytes + row_bytes > MAX_PAYLOAD_BYTES):
            yield len(batch), ('{"instances": [' + ", ".join(batch) + "]}").encode("utf-8")
            batch, batch_bytes = [], envelope_bytes
        batch.append(row)
        batch_bytes += row_bytes
    if batch:
        yield len(batch), ('{"instances": [' + ", ".join(batch) + "]}").encode("utf-8")


@dataclass(frozen=True)
class _Batch:
    predictions: list[Any]
    probabilities: list[list[float]] | None
    classes: tuple[str, ...]


def _parse_response(body: bytes, expected_rows: int, classification: bool, endpoint_name: str) -> _Batch:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ChampionUnavailableError(f"endpoint {endpoint_name} answered with something that is not JSON") from error
    if not isinstance(document, dict) or not isinstance(document.get("predictions"), list):
        raise ChampionUnavailableError(f"endpoint {endpoint_name} answered without a list of predictions")
    predictions = document["predictions"]
    if len(predictions) != expected_rows:
        raise ChampionUnavailableError(
            f"endpoint {endpoint_name} returned {len(predictions)} predictions for {expected_rows} rows"
        )
    probabilities = document.get("probabilities") if classification else None
    classes: tuple[str, ...] = ()
    if probabilities is not None:
        classes = tuple(canonical_label(c) for c in document.get("classes") or [])
        if (
            not isinstance(probabilities, list)
            or len(probabilities) != expected_rows
            or not classes
            or any(not isinstance(row, list) or len(row) != len(classes) for row in probabilities)
        ):
            raise ChampionUnavailableError(f"endpoint {endpoint_name} returned probabilities that do not match its classes")
    return _Batch(predictions, probabilities, classes)


def score_rows(
    runtime: Any, champion: Champion, features: pd.DataFrame, classification: bool, inference_id: str
) -> ModelPredictions:
    """The champion's predictions on the feature rows, in row order."""
    labels: list[Any] = []
    probabilities: list[list[float]] = []
    classes: tuple[str, ...] | None = None
    for row_count, body in request_batches(features):
        try:
            response = runtime.invoke_endpoint(
                EndpointName=champion.endpoint_name,
                TargetVariant=champion.variant_name,
                ContentType="application/json",
                Accept="application/json",
                InferenceId=inference_id,
                Body=body,
            )
            payload = response["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise ChampionUnavailableError(f"endpoint {champion.endpoint_name} could not score the test rows: {error}") from error
        batch = _parse_response(payload, row_count, classification, champion.endpoint_name)
        labels.extend(batch.predictions)
        if batch.probabilities is None:
            classes = ()
            continue
        if classes is not None and classes != batch.classes:
            raise ChampionUnavailableError(f"endpoint {champion.endpoint_name} changed its class order between requests")
        classes = batch.classes
        probabilities.extend(batch.probabilities)
    has_probabilities = bool(classes) and len(probabilities) == len(labels)
    try:
        predicted = np.asarray(labels, dtype=object if classification else float)
    except (TypeError, ValueError) as error:
        raise ChampionUnavailableError(f"endpoint {champion.endpoint_name} returned non-numeric predictions") from error
    return ModelPredictions(
        labels=predicted,
        classes=tuple(classes or ()) if has_probabilities else (),
        probabilities=np.asarray(probabilities, dtype=float) if has_probabilities else None,
    )
