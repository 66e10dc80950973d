"""Pure parts of the drift monitor: capture records, the watermark, and typing live rows."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from functions.common.capture import (
    CaptureObject,
    CapturedPayload,
    CaptureRecordError,
    parse_capture_line,
    request_rows,
    response_predictions,
)
from functions.common.config import DatasetSchema, DriftConfig
from functions.common.drift_profile import build_profile
from functions.monitor_drift.drift_monitor import assess_drift, feature_frame
from functions.monitor_drift.watermark import Watermark

FEATURES = ["size", "colour", "indoor"]
SCHEMA = DatasetSchema.model_validate(
    {
        "target": "label",
        "problem_type": "binary",
        "columns": [
            {"name": "size", "type": "float", "nullable": True},
            {"name": "colour", "type": "category", "categories": ["1", "2", "red"]},
            {"name": "indoor", "type": "boolean"},
            {"name": "label", "type": "category", "categories": ["0", "1"]},
        ],
    }
)


def test_json_request_bodies_in_every_contract_shape_give_feature_rows():
    instances = [{"size": 1.5, "colour": "red", "indoor": True, "unrelated": 1}, {"size": 2}]
    wrapped = CapturedPayload("application/json", "JSON", json.dumps({"instances": instances}))
    bare = CapturedPayload("application/json", "JSON", json.dumps(instances))
    positional = CapturedPayload("application/json", "JSON", json.dumps({"instances": [[1.5, "red", True]]}))

    assert request_rows(wrapped, FEATURES) == [
        {"size": 1.5, "colour": "red", "indoor": True},
        {"size": 2, "colour": None, "indoor": None},
    ]
    assert request_rows(bare, FEATURES) == request_rows(wrapped, FEATURES)
    assert request_rows(positional, FEATURES) == [{"size": 1.5, "colour": "red", "indoor": True}]


def test_csv_and_base64_bodies_are_decoded_in_schema_feature_order():
    csv_body = "1.5,red,true\n2,1.0,0\n"
    csv_payload = CapturedPayload("text/csv", "CSV", csv_body)
    base64_payload = CapturedPayload("text/csv", "BASE64", base64.b64encode(("size,colour,indoor\n" + csv_body).encode()).decode())

    expected = [{"size": "1.5", "colour": "red", "indoor": "true"}, {"size": "2", "colour": "1.0", "indoor": "0"}]
    assert request_rows(csv_payload, FEATURES) == expected
    assert request_rows(base64_payload, FEATURES) == expected


@pytest.mark.parametrize(
    "payload",
    [
        CapturedPayload("text/csv", "CSV", "1,red\n"),
        CapturedPayload("application/json", "JSON", "{not json"),
        CapturedPayload("application/json", "JSON", json.dumps({"instances": [[1, "red"]]})),
        CapturedPayload("application/json", "BASE64", "***"),
    ],
)
def test_unreadable_request_bodies_are_typed_errors(payload):
    with pytest.raises(CaptureRecordError):
        request_rows(payload, FEATURES)


def test_capture_line_metadata_and_evaluation_marker():
    line = json.dumps(
        {
            "captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2,3", "encoding": "CSV"}},
            "eventMetadata": {"eventId": "e-1", "inferenceTime": "2026-11-22T15:00:00Z", "inferenceId": "evaluation-run-7"},
            "eventVersion": "0",
        }
    )
    record = parse_capture_line(line)
    assert record.is_evaluation
    assert record.event_id == "e-1"
    assert record.response is None
    with pytest.raises(CaptureRecordError):
        parse_capture_line('{"eventVersion": "0"}')


def test_response_predictions_keep_probabilities_only_when_they_line_up():
    full = CapturedPayload("application/json", "JSON", json.dumps({"predictions": [1], "probabilities": [[0.3, 0.7]], "classes": [0, 1]}))
    ragged = CapturedPayload("application/json", "JSON", json.dumps({"predictions": [1, 0], "probabilities": [[0.3, 0.7]], "classes": ["0", "1"]}))
    csv_answer = CapturedPayload("text/csv", "CSV", "1,0.3,0.7\n")

    assert response_predictions(full).classes == ("0", "1")
    assert response_predictions(full).probabilities == [[0.3, 0.7]]
    assert response_predictions(ragged).probabilities is None
    assert response_predictions(csv_answer).predictions == ["1"]


def test_watermark_admits_objects_written_in_the_same_second_that_were_not_read():
    second = datetime(2026, 11, 22, 15, 0, 5, tzinfo=UTC)
    read = [CaptureObject("capture/e/v/a.jsonl", second - timedelta(seconds=3)), CaptureObject("capture/e/v/b.jsonl", second)]
    watermark = Watermark().advanced_to(read)

    assert not watermark.admits(CaptureObject("capture/e/v/b.jsonl", second))
    assert not watermark.admits(CaptureObject("capture/e/v/z.jsonl", second - timedelta(seconds=1)))
    assert watermark.admits(CaptureObject("capture/e/v/a2.jsonl", second))
    assert watermark.admits(CaptureObject("capture/e/v/a.jsonl", second + timedelta(seconds=1)))
    restored = Watermark.from_dict(json.loads(json.dumps(watermark.to_dict(second))))
    assert restored == watermark
    assert Watermark().advanced_to([]) == Watermark()


def test_live_values_are_typed_the_way_validation_profiles_them():
    rows = [
        {"size": "2.5", "colour": 1.0, "indoor": "TRUE"},
        {"size": None, "colour": " red ", "indoor": 0},
        {"size": "n/a", "colour": "NULL", "indoor": "maybe"},
        {"size": 7, "colour": "2.0", "indoor": False},
    ]
    frame = feature_frame(rows, SCHEMA)

    assert list(frame.columns) == FEATURES
    sizes = frame["size"].to_numpy(dtype=float)
    assert sizes[0] == 2.5 and sizes[3] == 7.0 and math.isnan(sizes[1]) and math.isnan(sizes[2])
    # Nulls are None or NaN depending on the pandas version's string dtype; drift_profile.py reads both as null.
    assert [None if pd.isna(v) else v for v in frame["colour"]] == ["1", "red", None, "2"]
    assert [None if pd.isna(v) else v for v in frame["indoor"]] == ["True", "False", None, "False"]


def test_category_shift_is_drift_and_the_same_mix_is_not():
    rng = np.random.default_rng(0)
    training = pd.DataFrame(
        {
            "size": rng.normal(10, 2, 2000),
            "colour": np.array(rng.choice(["1", "2", "red"], 2000, p=[0.6, 0.3, 0.1]), dtype=object),
            "indoor": np.array(rng.choice(["True", "False"], 2000), dtype=object),
        }
    )
    baseline = build_profile(training, SCHEMA, 10, len(training))
    same = training.sample(500, random_state=1).to_dict(orient="records")
    shifted = [{**row, "colour": "red"} for row in same]

    assert assess_drift(same, baseline, SCHEMA, DriftConfig()).drifted_features == []
    drifted = assess_drift(shifted, baseline, SCHEMA, DriftConfig())
    assert drifted.drifted_features == ["colour"]
    assert drifted.drifted_feature_fraction == pytest.approx(1 / 3)
    assert drifted.alarming
