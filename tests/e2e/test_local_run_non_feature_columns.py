"""A table with an identifier and a date column, marked `ignore` and `date` by `mlops init`: the
columns stay in the data and are checked, the model is trained and served without them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from functions.common.outcome import Outcome
from mlops.cli import main
from mlops.local.cloud import LocalCloud
from mlops.local.runner import run_upload
from tests.support.local_pipeline_runs import write_csv

pytestmark = pytest.mark.e2e


@pytest.fixture
def penguins_with_id_and_date(penguins_frame) -> pd.DataFrame:
    frame = penguins_frame.copy()
    frame.insert(0, "penguin_id", [f"PAL-{number:05d}" for number in range(len(frame))])
    frame["observed_on"] = pd.date_range("2007-11-01", periods=len(frame), freq="D").strftime("%Y-%m-%d")
    return frame


def test_ignored_and_date_columns_are_kept_checked_and_not_given_to_the_model(tmp_path, capsys, penguins_with_id_and_date):
    # Given a config written by `mlops init` with the identifier ignored and the date column a date
    data = write_csv(penguins_with_id_and_date, tmp_path / "penguins.csv")
    config = tmp_path / "pipeline.json"
    assert main(["init", "--data", str(data), "--target", "species", "--config", str(config), "--ignore", "penguin_id"]) == 0
    columns = {column["name"]: column["type"] for column in json.loads(config.read_text())["dataset"]["columns"]}
    assert columns["penguin_id"] == "ignore" and columns["observed_on"] == "date"

    with LocalCloud(config) as cloud:
        # When the sample is uploaded
        result = run_upload(cloud, data)

        # Then a model is trained and deployed, and the endpoint answers rows of features only
        assert result.outcome == Outcome.DEPLOYED, result.reason
        features = penguins_with_id_and_date.drop(columns=["species", "penguin_id", "observed_on"]).head(3)
        response = cloud.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=cloud.outputs.endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps({"instances": json.loads(features.to_json(orient="records"))}),
        )
        predictions = json.loads(response["Body"].read())
        assert len(predictions["predictions"]) == 3

        # And the curated training split still holds both columns
        s3 = cloud.client("s3")
        (train_key,) = [
            item["Key"]
            for item in s3.list_objects_v2(Bucket=cloud.outputs.data_bucket, Prefix="curated/")["Contents"]
            if item["Key"].endswith("/train/data.csv")
        ]
        header = s3.get_object(Bucket=cloud.outputs.data_bucket, Key=train_key)["Body"].read().split(b"\n", 1)[0]
        assert b"penguin_id" in header and b"observed_on" in header
