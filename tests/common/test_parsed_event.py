"""parsed_event validates an event as Powertools' event_parser did: a model or a TypeAdapter (an
event that is one of several models), from a dict or a JSON string, pydantic's ValidationError
for an invalid event."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from functions.common.handler import Deferred, parsed_event
from tests.support.lambda_handlers import lambda_context


class Upload(BaseModel):
    key: str


class Step(BaseModel):
    key: str
    mode: Literal["plan", "conclude"]


# As validate_data's: the first model in the union that accepts the event wins.
StepOrUpload = TypeAdapter(Annotated[Step | Upload, Field(union_mode="left_to_right")])


def handler_of(model: Any):
    @parsed_event(model=model)
    def handler(event: Any, context: Any) -> Any:
        return event

    return handler


@pytest.mark.parametrize("encode", [lambda event: event, json.dumps], ids=["dict", "JSON string"])
@pytest.mark.parametrize(
    ("event", "expected"),
    [({"key": "a.csv", "mode": "plan"}, Step(key="a.csv", mode="plan")), ({"key": "a.csv"}, Upload(key="a.csv"))],
)
def test_an_event_is_validated_into_the_first_model_of_a_type_adapter_that_accepts_it(encode, event, expected):
    parsed = handler_of(StepOrUpload)(encode(event), lambda_context("example", 128, 1))

    assert type(parsed) is type(expected) and parsed == expected


@pytest.mark.parametrize("model", [Upload, Deferred(__name__, "Upload")], ids=["model", "deferred model"])
@pytest.mark.parametrize("encode", [lambda event: event, json.dumps], ids=["dict", "JSON string"])
def test_an_event_is_validated_into_a_model(model, encode):
    assert handler_of(model)(encode({"key": "a.csv"}), lambda_context("example", 128, 1)) == Upload(key="a.csv")


@pytest.mark.parametrize("model", [Upload, StepOrUpload], ids=["model", "type adapter"])
def test_an_invalid_event_raises_pydantics_validation_error(model):
    with pytest.raises(ValidationError):
        handler_of(model)({"mode": "plan"}, lambda_context("example", 128, 1))
