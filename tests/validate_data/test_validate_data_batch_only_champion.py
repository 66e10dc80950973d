"""deployment.mode batch_only: there is no endpoint, so the version in service, which a training
upload is checked for drift against and judged against, is the newest approved version (the one
batch uploads are scored by), whatever an endpoint of the same name serves."""

from __future__ import annotations

import pytest

from validate_data_support import accept_upload


@pytest.fixture
def batch_only(aws, breast_cancer_config):
    aws.use_config(
        breast_cancer_config.model_copy(
            update={"deployment": breast_cancer_config.deployment.model_copy(update={"mode": "batch_only"})}
        )
    )


def test_the_champion_is_the_newest_approved_version_not_what_an_endpoint_serves(
    aws, lambda_context, breast_cancer, batch_only
):
    # Given version 1 on an endpoint of the configured name, and version 2 approved after it
    thirds = [breast_cancer.iloc[i::3] for i in range(3)]
    aws.serve_version(accept_upload(aws, lambda_context, thirds[0], "first.csv", "aaaa0001"))
    second = accept_upload(aws, lambda_context, thirds[1], "second.csv", "bbbb0002")
    newest = aws.register_version(second, primary_metric_value="0.95")

    # When a third upload is validated
    third = accept_upload(aws, lambda_context, thirds[2], "third.csv", "cccc0003")

    # Then its champion and drift baseline are version 2, said to score batch uploads
    champion = third["champion"]
    assert (champion["model_package_arn"], champion["model_version"]) == (newest, 2)
    assert champion["registered_score"] == 0.95
    assert "scoring batch uploads" in champion["serves"]
    drift = aws.get_json("reports/cccc0003/validation.json")["drift"]
    assert drift["baseline_model_package_arn"] == newest
    assert drift["note"] == f"compared with the training data of {newest}"


def test_a_version_waiting_for_approval_is_no_champion(aws, lambda_context, breast_cancer, batch_only):
    # Given only a version that waits for a person's approval
    halves = [breast_cancer.iloc[i::2] for i in range(2)]
    first = accept_upload(aws, lambda_context, halves[0], "first.csv", "aaaa0001")
    aws.register_version(first, status="PendingManualApproval")

    # When the next upload is validated
    second = accept_upload(aws, lambda_context, halves[1], "second.csv", "bbbb0002")

    # Then nothing is in service: no champion, no drift check
    assert second["champion"] is None
    note = aws.get_json("reports/bbbb0002/validation.json")["drift"]["note"]
    assert note == "no version is approved yet: this is a first dataset, drift not checked"
