"""What the batch report says of the execution's SageMaker model when DeleteModel refuses: SageMaker
answers a model that no longer exists and other refusals with the same ValidationException, so
ListModels decides, never the error's text."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from functions.validate_data.batch import delete_batch_model

MODEL = "credit-batch-v3-0123456789ab"


@pytest.fixture
def sagemaker(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _refuse_delete(stubber: Stubber, message: str) -> None:
    stubber.add_client_error("delete_model", "ValidationException", message, expected_params={"ModelName": MODEL})


def _list(stubber: Stubber, *names: str) -> None:
    models = [{"ModelName": name, "ModelArn": f"arn:aws:sagemaker:eu-west-1:111122223333:model/{name}",
               "CreationTime": "2026-12-03T00:00:00Z"} for name in names]
    stubber.add_response("list_models", {"Models": models}, expected_params={"NameContains": MODEL})


def test_a_refused_delete_of_a_model_that_is_no_longer_listed_was_already_deleted(sagemaker):
    client, stubber = sagemaker
    # Given a model a retried step deleted before (ListModels shows only a longer name containing it)
    _refuse_delete(stubber, "Some message SageMaker may word differently")
    _list(stubber, MODEL + "-other")
    # When the step deletes it again
    # Then the report says it was already deleted
    assert delete_batch_model(client, MODEL) == f"model {MODEL} was already deleted"


def test_a_refused_delete_of_a_model_that_is_still_listed_is_not_called_deleted(sagemaker):
    client, stubber = sagemaker
    # Given a model SageMaker refuses to delete, whatever its message says
    _refuse_delete(stubber, "Could not find model")
    _list(stubber, MODEL)
    # When the step deletes it
    # Then the report says it is not deleted and how to delete it
    assert delete_batch_model(client, MODEL) == (
        f"model {MODEL} not deleted (ValidationException); delete it with aws sagemaker delete-model"
    )


def test_when_listmodels_cannot_answer_the_model_is_not_called_deleted(sagemaker):
    client, stubber = sagemaker
    _refuse_delete(stubber, "Could not find model")
    stubber.add_client_error("list_models", "AccessDeniedException", "not authorized")
    assert "not deleted" in delete_batch_model(client, MODEL)
