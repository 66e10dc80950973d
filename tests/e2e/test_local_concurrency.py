"""Five uploads within a second on one local cloud, on disjoint samples of the Wisconsin breast
cancer data: every one reaches an outcome, at most one endpoint update is in flight at a time,
and the endpoint ends serving the best approved version.

"Best" is what the promotion gate can promise. The deployment lock orders the executions from
their start, so each candidate is trained and scored against the version serving at that
moment, on the candidate's own test rows, and is approved when it beats that version there by
more than `gates.min_improvement` (and holds on the reference holdout); the candidates' own
metrics come from different test rows and are not comparable with each other. So the best
approved version is the end of an unbroken champion chain: with versions numbered in the order
they were decided, every version was compared with the latest approved version before it (none
for the first), every approved version scored better than the version it replaced, and the
last approved version is the one serving. Two executions that decide against the same
champion (a fork in the chain), or an approved version that never serves, break it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from mlops.local.cloud import LocalCloud
from mlops.local.runner import endpoint_status, execution_result
from tests.support.local_pipeline_runs import init_config, write_csv

pytestmark = pytest.mark.e2e

# Disjoint, differently sized slices of the (shuffled) 569 rows: five different datasets.
SAMPLE_SIZES = (70, 95, 115, 135, 154)
OUTCOMES_WITHOUT_FAILURE = {"deployed", "model_rejected", "pending_approval"}
# A deployment stays Creating/Updating at least this long and the state machine polls the
# endpoint (and a held deployment lock) this often, so every deployment spans a poll and
# deployments that were not serialized would overlap.
DEPLOYMENT_BAKE_SECONDS = 1.0
POLL_INTERVAL_SECONDS = 1
# Five training jobs share the machine; fewer boosting rounds keep them short.
BOOSTING_ROUNDS = 50


@dataclass(frozen=True)
class RegisteredVersion:
    version: int
    approval_status: str
    champion_version: int | None
    primary_metric: str
    metric: float
    champion_metric: float | None


def _registered_versions(cloud: LocalCloud) -> list[RegisteredVersion]:
    sagemaker, s3 = cloud.client("sagemaker"), cloud.client("s3")
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=cloud.outputs.model_package_group)
    versions = []
    for summary in summaries["ModelPackageSummaryList"]:
        package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        metadata = package["CustomerMetadataProperties"]
        bucket, _, key = metadata["evaluation_report"].removeprefix("s3://").partition("/")
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        primary = report["primary_metric"]
        champion = report["champion"]
        versions.append(
            RegisteredVersion(
                version=int(package["ModelPackageVersion"]),
                approval_status=package["ModelApprovalStatus"],
                champion_version=None if metadata["champion_version"] == "none" else int(metadata["champion_version"]),
                primary_metric=primary,
                metric=float(metadata["primary_metric_value"]),
                champion_metric=champion["metrics"][primary] if champion else None,
            )
        )
    return sorted(versions, key=lambda v: v.version)


def _lock_items(cloud: LocalCloud) -> list[dict]:
    dynamodb = cloud.client("dynamodb")
    [table] = [
        name
        for name in dynamodb.list_tables()["TableNames"]
        if dynamodb.describe_table(TableName=name)["Table"]["KeySchema"][0]["AttributeName"] == "endpoint_name"
    ]
    return dynamodb.scan(TableName=table)["Items"]


def test_five_uploads_within_a_second_deploy_one_at_a_time_and_end_on_the_best(tmp_path, breast_cancer_frame):
    # Given five different samples, and a config inferred from all the rows
    config = init_config(
        write_csv(breast_cancer_frame, tmp_path / "cancer_all.csv"),
        "target",
        tmp_path / "pipeline.json",
        deployment__poll_interval_seconds=POLL_INTERVAL_SECONDS,
        training__hyperparameters__max_iter=BOOSTING_ROUNDS,
    )
    starts = [sum(SAMPLE_SIZES[:i]) for i in range(len(SAMPLE_SIZES))]
    samples = [
        write_csv(breast_cancer_frame.iloc[start : start + size], tmp_path / f"cancer_site_{index}.csv")
        for index, (start, size) in enumerate(zip(starts, SAMPLE_SIZES), start=1)
    ]
    assert starts[-1] + SAMPLE_SIZES[-1] == len(breast_cancer_frame)
    gates = json.loads(config.read_text())["gates"]
    assert gates["primary_metric"] == "roc_auc"  # higher is better

    with LocalCloud(config) as cloud:
        cloud.standins.endpoints.deployment_bake_seconds = DEPLOYMENT_BAKE_SECONDS

        # When they are uploaded one after another without waiting
        executions = [arn for sample in samples for arn in cloud.upload(sample)]
        assert len(executions) == len(samples)
        results = [execution_result(cloud, arn, sample.name) for arn, sample in zip(executions, samples)]

        # Then every upload reached an outcome, none failed
        summary = [(r.file, r.outcome, r.model_version, r.reason) for r in results]
        print(json.dumps(summary, indent=1))
        assert {r.outcome for r in results} <= OUTCOMES_WITHOUT_FAILURE, summary

        # And no endpoint update was requested while another was in progress
        assert cloud.standins.endpoints.max_updates_in_flight == 1

        # And the registry records one unbroken champion chain that ends at the serving version
        versions = _registered_versions(cloud)
        assert [v.version for v in versions] == list(range(1, len(samples) + 1))
        approved = [v for v in versions if v.approval_status == "Approved"]
        assert approved, versions
        for candidate in versions:
            approved_before = [v.version for v in approved if v.version < candidate.version]
            assert candidate.champion_version == (approved_before[-1] if approved_before else None), versions
        for version in approved:
            if version.champion_metric is not None:
                assert version.metric > version.champion_metric + gates.get("min_improvement", 0.0), version
        serving = endpoint_status(cloud)
        assert (serving["status"], serving["model_version"]) == ("InService", approved[-1].version), versions

        # And every execution released the deployment lock
        assert _lock_items(cloud) == []
