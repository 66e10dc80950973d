"""Serving code for the SageMaker scikit-learn container (SAGEMAKER_PROGRAM=inference.py).

The training entry point copies this file into ``<model dir>/code/`` next to the pipeline
config, so a model artifact serves itself with SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code.
The container calls ``model_fn`` once per worker, then ``input_fn`` -> ``predict_fn`` ->
``output_fn`` per request.

Requests: ``application/json`` with ``{"instances": [{feature: value, ...}, ...]}``, a bare
list of such objects, or rows of values in feature order (``{"instances": [[...], ...]}``);
``text/csv`` with one row per instance, feature columns in schema order, no header (a header
row equal to the feature names is tolerated).
Responses: ``application/json`` ``{"predictions": [...], "probabilities": [[...]], "classes":
[...]}`` (probabilities and classes only for classification), or ``text/csv`` with one line per
instance: the prediction followed by one probability per class in ``classes`` order, no header.

The training entry point imports the feature preparation below, so training and serving turn
raw values into model inputs with the same code. Runs on Python 3.10+ with numpy, pandas,
scikit-learn and joblib only.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

MODEL_FILE_NAME = "model.joblib"
METADATA_FILE_NAME = "metadata.json"
CONFIG_FILE_NAME = "pipeline_config.json"

JSON_CONTENT_TYPE = "application/json"
CSV_CONTENT_TYPE = "text/csv"
SUPPORTED_CONTENT_TYPES = (JSON_CONTENT_TYPE, CSV_CONTENT_TYPE)

NUMERIC_COLUMN_TYPES = frozenset({"integer", "float"})
CATEGORICAL_COLUMN_TYPES = frozenset({"category", "boolean"})
# Columns of the config that are kept in the data but are not model features.
NON_FEATURE_TYPES = frozenset({"date", "ignore"})
PROBABILITY_COLUMN_PREFIX = "proba__"
# read_csv's parser that gives the nearest double for every decimal (pandas' default did not before 3.1).
CSV_FLOAT_PRECISION = "round_trip"

TRUE_SPELLINGS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_SPELLINGS = frozenset({"false", "f", "no", "n", "0", "0.0"})
MAX_EXAMPLE_VALUES_IN_MESSAGE = 3


class InvalidRequestError(ValueError):
    """A request or a data file does not hold what the model needs; the message says what."""


class MissingFeaturesError(InvalidRequestError):
    def __init__(self, missing: list[str], source: str) -> None:
        names = ", ".join(repr(name) for name in missing)
        super().__init__(f"feature column(s) {names} missing from {source}")
        self.missing = missing


class InvalidFeatureValueError(InvalidRequestError):
    def __init__(self, column: str, column_type: str, examples: list[str], source: str) -> None:
        shown = ", ".join(repr(value) for value in examples)
        super().__init__(f"column {column!r} in {source} must be {column_type}; got {shown}")
        self.column = column


class UnsupportedContentTypeError(InvalidRequestError):
    def __init__(self, content_type: str | None, role: str) -> None:
        supported = " or ".join(SUPPORTED_CONTENT_TYPES)
        super().__init__(f"unsupported {role} {content_type!r}; use {supported}")
        self.content_type = content_type


# --- feature preparation, shared with training -------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _category_text(value: Any) -> Any:
    if _is_missing(value):
        return np.nan
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    # A JSON client sends the category "3" as 3 or 3.0; both mean the text "3" seen in training.
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _boolean_text(value: Any) -> Any:
    text = _category_text(value)
    if not isinstance(text, str):
        return text
    lowered = text.strip().lower()
    if lowered in TRUE_SPELLINGS:
        return "true"
    if lowered in FALSE_SPELLINGS:
        return "false"
    return None


def _object_series(values: list[Any], index: pd.Index) -> pd.Series:
    # Explicit object dtype: pandas 3 would infer its string dtype, which scikit-learn 1.4 predates.
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return pd.Series(array, index=index, dtype=object)


def _correctly_rounded_float(value: Any) -> float:
    """The nearest double, as Python's float() and json give it; pd.to_numeric before pandas 3.1
    lands some decimals one ulp off. NaN for what is not a number (the caller names it)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    text = str(value).strip()
    # float() also takes digit separators ("1_000"), which no CSV writer means as a number.
    if "_" in text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _numeric_column(values: pd.Series, name: str, column_type: str, source: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    blanks_as_missing = values.map(lambda value: np.nan if _is_missing(value) else value)
    numbers = blanks_as_missing.map(_correctly_rounded_float).astype(float)
    unparsable = numbers.isna() & blanks_as_missing.notna()
    if unparsable.any():
        examples = [str(value) for value in blanks_as_missing[unparsable].unique()[:MAX_EXAMPLE_VALUES_IN_MESSAGE]]
        raise InvalidFeatureValueError(name, f"a number ({column_type})", examples, source)
    return numbers


def _categorical_column(values: pd.Series, name: str, column_type: str, source: str) -> pd.Series:
    if column_type == "boolean":
        texts = [_boolean_text(value) for value in values]
        invalid = [value for value, text in zip(values, texts) if text is None]
        if invalid:
            examples = [str(value) for value in invalid[:MAX_EXAMPLE_VALUES_IN_MESSAGE]]
            raise InvalidFeatureValueError(name, "a boolean (true/false)", examples, source)
    else:
        texts = [_category_text(value) for value in values]
    return _object_series(texts, values.index)


def prepare_features(frame: pd.DataFrame, features: list[dict[str, str]], source: str) -> pd.DataFrame:
    """The model's input frame: feature columns in schema order, numbers as float, categories
    and booleans as text (NaN where missing). Extra columns are dropped."""
    missing = [feature["name"] for feature in features if feature["name"] not in frame.columns]
    if missing:
        raise MissingFeaturesError(missing, source)
    columns: dict[str, pd.Series] = {}
    for feature in features:
        name, column_type = feature["name"], feature["type"]
        if column_type in NUMERIC_COLUMN_TYPES:
            columns[name] = _numeric_column(frame[name], name, column_type, source)
        elif column_type in CATEGORICAL_COLUMN_TYPES:
            columns[name] = _categorical_column(frame[name], name, column_type, source)
        else:
            raise InvalidRequestError(f"feature {name!r} has unknown column type {column_type!r}")
    return pd.DataFrame(columns, index=frame.index)


def numeric_feature_names(features: list[dict[str, str]]) -> list[str]:
    return [feature["name"] for feature in features if feature["type"] in NUMERIC_COLUMN_TYPES]


def categorical_feature_names(features: list[dict[str, str]]) -> list[str]:
    return [feature["name"] for feature in features if feature["type"] in CATEGORICAL_COLUMN_TYPES]


def score(pipeline: Any, features_frame: pd.DataFrame, problem_type: str) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Predictions, and for classification the class probabilities with their class labels."""
    predictions = pipeline.predict(features_frame)
    if problem_type == "regression":
        return np.asarray(predictions, dtype=float), None, None
    probabilities = np.asarray(pipeline.predict_proba(features_frame), dtype=float)
    classes = [str(label) for label in pipeline.classes_]
    return np.asarray([str(label) for label in predictions], dtype=object), probabilities, classes


def predictions_frame(predictions: np.ndarray, probabilities: np.ndarray | None, classes: list[str] | None) -> pd.DataFrame:
    """The predictions.csv layout: `prediction`, then one `proba__<class>` column per class."""
    columns: dict[str, Any] = {"prediction": predictions}
    if probabilities is not None and classes is not None:
        for position, label in enumerate(classes):
            columns[f"{PROBABILITY_COLUMN_PREFIX}{label}"] = probabilities[:, position]
    return pd.DataFrame(columns)


# --- request decoding -------------------------------------------------------------------


def _base_media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _as_text(body: str | bytes | bytearray) -> str:
    if isinstance(body, (bytes, bytearray)):
        try:
            return bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InvalidRequestError("request body is not UTF-8 text") from error
    return body


def _instances_frame(instances: list[Any], features: list[dict[str, str]]) -> pd.DataFrame:
    names = [feature["name"] for feature in features]
    if all(isinstance(instance, dict) for instance in instances):
        # A key absent from some objects is a missing value; absent from all, a missing feature.
        return pd.DataFrame.from_records(instances)
    if all(isinstance(instance, list) for instance in instances):
        widths = sorted({len(instance) for instance in instances})
        if widths != [len(names)]:
            raise InvalidRequestError(
                f"JSON request rows have {', '.join(map(str, widths))} values; expected {len(names)} "
                f"in feature order: {', '.join(names)}"
            )
        return pd.DataFrame(instances, columns=names, dtype=object)
    raise InvalidRequestError("JSON request instances must all be objects or all be lists of values")


def _json_frame(text: str, features: list[dict[str, str]]) -> pd.DataFrame:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRequestError(f"request body is not valid JSON: {error.msg} at line {error.lineno}") from error
    if isinstance(payload, dict) and "instances" in payload:
        instances = payload["instances"]
    elif isinstance(payload, dict):
        instances = [payload]
    else:
        instances = payload
    if not isinstance(instances, list):
        raise InvalidRequestError('JSON request must be {"instances": [...]} or a list of objects')
    if not instances:
        raise InvalidRequestError("JSON request holds no instances")
    return _instances_frame(instances, features)


def _csv_frame(text: str, features: list[dict[str, str]]) -> pd.DataFrame:
    names = [feature["name"] for feature in features]
    # Leading blank lines would shift skiprows off the header row below.
    text = text.lstrip("\r\n")
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    has_header = bool(rows) and [value.strip() for value in rows[0]] == names
    if has_header:
        rows = rows[1:]
    if not rows:
        raise InvalidRequestError("CSV request holds no rows")
    widths = sorted({len(row) for row in rows})
    if widths != [len(names)]:
        raise InvalidRequestError(
            f"CSV request rows have {', '.join(map(str, widths))} fields; expected {len(names)} "
            f"in feature order: {', '.join(names)}"
        )
    # pandas parses the values so that missing-value spellings ("", "NA", "null") match training's;
    # as text, so that numbers are parsed by _correctly_rounded_float.
    return pd.read_csv(
        io.StringIO(text), header=None, names=names, dtype=str, skiprows=1 if has_header else 0, skip_blank_lines=True
    )


def decode_request(body: str | bytes | bytearray, content_type: str | None, features: list[dict[str, str]]) -> pd.DataFrame:
    """The request's instances as a model input frame, validated against the features."""
    media_type = _base_media_type(content_type)
    text = _as_text(body)
    if media_type == JSON_CONTENT_TYPE:
        raw = _json_frame(text, features)
        source = "JSON request"
    elif media_type == CSV_CONTENT_TYPE:
        raw = _csv_frame(text, features)
        source = "CSV request"
    else:
        raise UnsupportedContentTypeError(content_type, "content type")
    return prepare_features(raw, features, source)


# --- response encoding ------------------------------------------------------------------


def _response_media_type(accept: str | None) -> str:
    if not accept:
        return JSON_CONTENT_TYPE
    for candidate in accept.split(","):
        media_type = _base_media_type(candidate)
        if media_type in SUPPORTED_CONTENT_TYPES:
            return media_type
        if media_type in {"*/*", "application/*"}:
            return JSON_CONTENT_TYPE
        if media_type == "text/*":
            return CSV_CONTENT_TYPE
    raise UnsupportedContentTypeError(accept, "accept type")


def encode_response(prediction: dict[str, Any], accept: str | None) -> str:
    media_type = _response_media_type(accept)
    if media_type == JSON_CONTENT_TYPE:
        return json.dumps(prediction)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    probabilities = prediction.get("probabilities")
    for position, value in enumerate(prediction["predictions"]):
        row = [value]
        if probabilities is not None:
            row.extend(repr(float(probability)) for probability in probabilities[position])
        writer.writerow(row)
    return buffer.getvalue()


# --- the container's entry points --------------------------------------------------------


class ServingModel:
    """The fitted pipeline with the metadata training wrote beside it."""

    def __init__(self, pipeline: Any, metadata: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.metadata = metadata

    @property
    def features(self) -> list[dict[str, str]]:
        return self.metadata["features"]

    @property
    def problem_type(self) -> str:
        return self.metadata["problem_type"]


# model_fn runs before any request; input_fn has no model argument, so it reads the features here.
_loaded_features: list[dict[str, str]] | None = None


def _features_from_packaged_config() -> list[dict[str, str]] | None:
    config_path = Path(__file__).resolve().parent / CONFIG_FILE_NAME
    if not config_path.is_file():
        return None
    dataset = json.loads(config_path.read_text(encoding="utf-8"))["dataset"]
    return [
        {"name": column["name"], "type": column["type"]}
        for column in dataset["columns"]
        if column["name"] != dataset["target"] and column["type"] not in NON_FEATURE_TYPES
    ]


def _serving_features() -> list[dict[str, str]]:
    features = _loaded_features or _features_from_packaged_config()
    if features is None:
        raise InvalidRequestError(
            f"no model loaded and no {CONFIG_FILE_NAME} beside {Path(__file__).name}; feature schema unknown"
        )
    return features


# HTTP statuses the serving container answers a request it refuses with (RFC 9110).
HTTP_BAD_REQUEST = 400
HTTP_NOT_ACCEPTABLE = 406
HTTP_UNSUPPORTED_MEDIA_TYPE = 415


class RejectedRequest:
    """A request refused before the model sees it, carried to output_fn: sagemaker-containers'
    Transformer wraps every exception of input_fn, predict_fn and output_fn in ClientError, which
    its worker answers with 500 (counted as Invocation5XXErrors, the errors alarm's metric), so a
    refusal must leave as a response with its own 4xx status instead of an exception."""

    def __init__(self, status: int, error: InvalidRequestError) -> None:
        self.status = status
        self.error = error

    @classmethod
    def of(cls, error: InvalidRequestError, unsupported_status: int) -> "RejectedRequest":
        if isinstance(error, UnsupportedContentTypeError):
            return cls(unsupported_status, error)
        return cls(HTTP_BAD_REQUEST, error)

    def body(self) -> str:
        return json.dumps({"error": type(self.error).__name__, "message": str(self.error)})


def model_fn(model_dir: str) -> ServingModel:
    global _loaded_features
    directory = Path(model_dir)
    pipeline = joblib.load(directory / MODEL_FILE_NAME)
    metadata = json.loads((directory / METADATA_FILE_NAME).read_text(encoding="utf-8"))
    _loaded_features = metadata["features"]
    return ServingModel(pipeline, metadata)


def input_fn(request_body: str | bytes, request_content_type: str | None) -> pd.DataFrame | RejectedRequest:
    try:
        return decode_request(request_body, request_content_type, _serving_features())
    except InvalidRequestError as error:
        return RejectedRequest.of(error, HTTP_UNSUPPORTED_MEDIA_TYPE)


def predict_fn(input_data: pd.DataFrame | RejectedRequest, model: ServingModel) -> dict[str, Any] | RejectedRequest:
    if isinstance(input_data, RejectedRequest):
        return input_data
    try:
        frame = prepare_features(input_data, model.features, "request")
    except InvalidRequestError as error:
        return RejectedRequest.of(error, HTTP_UNSUPPORTED_MEDIA_TYPE)
    predictions, probabilities, classes = score(model.pipeline, frame, model.problem_type)
    if probabilities is None:
        return {"predictions": [float(value) for value in predictions]}
    return {
        "predictions": [str(value) for value in predictions],
        "probabilities": probabilities.tolist(),
        "classes": classes,
    }


def output_fn(prediction: dict[str, Any] | RejectedRequest, accept: str | None) -> Any:
    """(body, media type): the Transformer answers it with that Content-Type; a refused request is
    answered with its 4xx status through the image's own response class."""
    if not isinstance(prediction, RejectedRequest):
        try:
            media_type = _response_media_type(accept)
        except UnsupportedContentTypeError as error:
            prediction = RejectedRequest.of(error, HTTP_NOT_ACCEPTABLE)
        else:
            return encode_response(prediction, media_type), media_type
    # Only the serving container calls output_fn with a refusal; its image has sagemaker-containers.
    from sagemaker_containers.beta.framework import worker

    return worker.Response(response=prediction.body(), status=prediction.status, mimetype=JSON_CONTENT_TYPE)
