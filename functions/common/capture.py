"""Endpoint data capture: listing the capture objects and reading what their records hold.

SageMaker writes capture objects to
``capture/<EndpointName>/<VariantName>/<yyyy>/<mm>/<dd>/<hh>/<name>.jsonl``, one JSON record per
line holding the request (``endpointInput``) and the response (``endpointOutput``), each with its
content type, its encoding (JSON, CSV or BASE64) and the body.

Requests follow the inference contract: ``{"instances": [{feature: value}, ...]}``, a bare list of
objects, rows of values in feature order, or CSV rows (no header) in schema feature order.
Responses are ``{"predictions": [...], "probabilities": [[...]], "classes": [...]}`` or CSV lines
(the prediction, then one probability per class).

The pipeline's own champion scoring is captured too; its inference ids start with
EVALUATION_INFERENCE_ID_PREFIX and it is not live traffic.

The drift monitor reads the requests and the quality monitor the responses; both read capture
through this module, so they agree on what a record holds and on which records are live.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.common import s3_layout
from functions.common.errors import PipelineError

JSON_CONTENT_TYPE = "application/json"
CSV_CONTENT_TYPE = "text/csv"
# Evaluation sets inference ids with this prefix when it scores the champion, so that capture
# readers can leave that traffic out.
EVALUATION_INFERENCE_ID_PREFIX = "evaluation-"
HOUR_PATH_FORMAT = "%Y/%m/%d/%H"


class CaptureRecordError(PipelineError):
    """One captured record cannot be read; the monitors count these and go on."""


@dataclass(frozen=True)
class CaptureObject:
    key: str
    last_modified: datetime

    @property
    def position(self) -> tuple[datetime, str]:
        return (self.last_modified, self.key)


@dataclass(frozen=True)
class CapturedPayload:
    content_type: str
    encoding: str
    data: Any

    def text(self) -> str:
        if not isinstance(self.data, str):
            # Some writers embed a JSON body as a value rather than as text.
            return json.dumps(self.data)
        if self.encoding.upper() == "BASE64":
            try:
                return base64.b64decode(self.data, validate=True).decode("utf-8-sig")
            except (binascii.Error, UnicodeDecodeError) as error:
                raise CaptureRecordError("captured body is not base64 of UTF-8 text") from error
        return self.data

    @property
    def media_type(self) -> str:
        media_type = self.content_type.split(";", 1)[0].strip().lower()
        if media_type in (JSON_CONTENT_TYPE, CSV_CONTENT_TYPE):
            return media_type
        # The observed content type may be absent; the capture encoding still tells JSON from CSV.
        return CSV_CONTENT_TYPE if self.encoding.upper() == "CSV" else JSON_CONTENT_TYPE


@dataclass(frozen=True)
class CaptureRecord:
    inference_id: str | None
    event_id: str | None
    inference_time: str | None
    request: CapturedPayload | None
    response: CapturedPayload | None

    @property
    def is_evaluation(self) -> bool:
        return bool(self.inference_id) and self.inference_id.startswith(EVALUATION_INFERENCE_ID_PREFIX)


@dataclass(frozen=True)
class CapturedPredictions:
    predictions: list[Any]
    probabilities: list[list[float]] | None = None
    classes: tuple[str, ...] = ()


@dataclass
class CaptureReadTally:
    objects: int = 0
    records: int = 0
    evaluation_records: int = 0
    unreadable_records: int = 0
    unreadable_examples: list[str] = field(default_factory=list)

    def unreadable(self, where: str, reason: str, max_examples: int) -> None:
        self.unreadable_records += 1
        if len(self.unreadable_examples) < max_examples:
            self.unreadable_examples.append(f"{where}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "records": self.records,
            "evaluation_records": self.evaluation_records,
            "unreadable_records": self.unreadable_records,
            "unreadable_examples": list(self.unreadable_examples),
        }


# --- listing and reading capture objects ------------------------------------------------------


def endpoint_capture_prefix(endpoint_name: str) -> str:
    return f"{s3_layout.CAPTURE_PREFIX}{endpoint_name}/"


def _variant_prefixes(s3: Any, bucket: str, endpoint_prefix: str) -> list[str]:
    paginator = s3.get_paginator("list_objects_v2")
    prefixes: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=endpoint_prefix, Delimiter="/"):
        prefixes.extend(entry["Prefix"] for entry in page.get("CommonPrefixes", []))
    return prefixes


def list_capture_objects(s3: Any, bucket: str, endpoint_name: str, hours_from: datetime | None) -> list[CaptureObject]:
    """Capture objects of the endpoint whose hour folder is `hours_from`'s hour or later, oldest first.

    None lists everything. Each variant's listing starts after the hour folder name, so the cost
    follows the window, not the capture history.
    """
    found: list[CaptureObject] = []
    paginator = s3.get_paginator("list_objects_v2")
    for variant_prefix in _variant_prefixes(s3, bucket, endpoint_capture_prefix(endpoint_name)):
        arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": variant_prefix}
        if hours_from is not None:
            # Keys of that hour ("<prefix>yyyy/mm/dd/hh/...") sort after the bare folder name.
            arguments["StartAfter"] = variant_prefix + hours_from.strftime(HOUR_PATH_FORMAT)
        for page in paginator.paginate(**arguments):
            for entry in page.get("Contents", []):
                if entry["Key"].endswith(".jsonl"):
                    found.append(CaptureObject(entry["Key"], entry["LastModified"]))
    return sorted(found, key=lambda item: item.position)


def _payload(captured: Any) -> CapturedPayload | None:
    if not isinstance(captured, Mapping) or "data" not in captured:
        return None
    return CapturedPayload(
        content_type=str(captured.get("observedContentType") or ""),
        encoding=str(captured.get("encoding") or "JSON"),
        data=captured["data"],
    )


def parse_capture_line(line: str) -> CaptureRecord:
    try:
        document = json.loads(line)
    except json.JSONDecodeError as error:
        raise CaptureRecordError(f"not JSON ({error.msg})") from error
    if not isinstance(document, Mapping) or not isinstance(document.get("captureData"), Mapping):
        raise CaptureRecordError("no captureData object")
    capture_data = document["captureData"]
    metadata = document.get("eventMetadata") if isinstance(document.get("eventMetadata"), Mapping) else {}
    return CaptureRecord(
        inference_id=metadata.get("inferenceId"),
        event_id=metadata.get("eventId"),
        inference_time=metadata.get("inferenceTime"),
        request=_payload(capture_data.get("endpointInput")),
        response=_payload(capture_data.get("endpointOutput")),
    )


def read_capture_records(
    s3: Any, bucket: str, objects: list[CaptureObject], tally: CaptureReadTally, max_examples: int
) -> Iterator[CaptureRecord]:
    """Live-traffic records of `objects`; evaluation and unreadable records are only counted."""
    for item in objects:
        body = s3.get_object(Bucket=bucket, Key=item.key)["Body"].read()
        tally.objects += 1
        text = body.decode("utf-8", errors="replace")
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            tally.records += 1
            try:
                record = parse_capture_line(line)
            except CaptureRecordError as error:
                tally.unreadable(f"{item.key} line {line_number}", str(error), max_examples)
                continue
            if record.is_evaluation:
                tally.evaluation_records += 1
                continue
            yield record


# --- request and response bodies --------------------------------------------------------------


def _instance_rows(instances: list[Any], feature_names: list[str]) -> list[dict[str, Any]]:
    if all(isinstance(instance, Mapping) for instance in instances):
        return [{name: instance.get(name) for name in feature_names} for instance in instances]
    if all(isinstance(instance, list) for instance in instances):
        if any(len(instance) != len(feature_names) for instance in instances):
            raise CaptureRecordError(f"request rows do not have the {len(feature_names)} feature values")
        return [dict(zip(feature_names, instance, strict=True)) for instance in instances]
    raise CaptureRecordError("request instances are neither all objects nor all lists of values")


def _json_request_rows(text: str, feature_names: list[str]) -> list[dict[str, Any]]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise CaptureRecordError(f"request is not JSON ({error.msg})") from error
    if isinstance(payload, Mapping) and "instances" in payload:
        instances = payload["instances"]
    elif isinstance(payload, Mapping):
        instances = [payload]
    else:
        instances = payload
    if not isinstance(instances, list):
        raise CaptureRecordError('request is neither {"instances": [...]} nor a list of objects')
    return _instance_rows(instances, feature_names)


def _csv_request_rows(text: str, feature_names: list[str]) -> list[dict[str, Any]]:
    rows = [row for row in csv.reader(io.StringIO(text.lstrip("\r\n"))) if row]
    if rows and [value.strip() for value in rows[0]] == feature_names:
        rows = rows[1:]
    if any(len(row) != len(feature_names) for row in rows):
        raise CaptureRecordError(f"CSV request rows do not have the {len(feature_names)} feature values")
    return [dict(zip(feature_names, row, strict=True)) for row in rows]


def request_rows(payload: CapturedPayload, feature_names: list[str]) -> list[dict[str, Any]]:
    """The request's instances as {feature: raw value}; absent features are None."""
    text = payload.text()
    if payload.media_type == CSV_CONTENT_TYPE:
        return _csv_request_rows(text, feature_names)
    return _json_request_rows(text, feature_names)


def _csv_predictions(text: str) -> CapturedPredictions:
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    # CSV responses carry no class names, so their probabilities cannot be attributed.
    return CapturedPredictions(predictions=[row[0] for row in rows])


def response_predictions(payload: CapturedPayload) -> CapturedPredictions:
    text = payload.text()
    if payload.media_type == CSV_CONTENT_TYPE:
        return _csv_predictions(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CaptureRecordError(f"response is not JSON ({error.msg})") from error
    if not isinstance(document, Mapping) or not isinstance(document.get("predictions"), list):
        raise CaptureRecordError("response holds no list of predictions")
    predictions = document["predictions"]
    probabilities = document.get("probabilities")
    classes = document.get("classes")
    usable = (
        isinstance(probabilities, list)
        and isinstance(classes, list)
        and len(probabilities) == len(predictions)
        and all(isinstance(row, list) and len(row) == len(classes) for row in probabilities)
    )
    if not usable:
        return CapturedPredictions(predictions=predictions)
    try:
        numbers = [[float(value) for value in row] for row in probabilities]
    except (TypeError, ValueError):
        return CapturedPredictions(predictions=predictions)
    return CapturedPredictions(predictions, numbers, tuple(str(label) for label in classes))
