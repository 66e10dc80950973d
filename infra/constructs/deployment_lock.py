"""The deployment lock: a DynamoDB table with at most one item per endpoint, naming the
execution that holds the endpoint. Holding it makes the champion/challenger decision and the
endpoint update one critical section, so two executions never both evaluate against the same
champion and then both update the endpoint (SageMaker rejects an update while another is in
progress, and the last one to finish would win whether or not it is the better model).

Item: ``endpoint_name`` (partition key), ``owner`` (the holding execution's ARN) and
``acquired_at`` (when it took the lock). The training state machine acquires, releases and
takes over the item; see infra/constructs/training_workflow/lock.py.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, aws_dynamodb as dynamodb, aws_kms as kms
from constructs import Construct

LOCK_PARTITION_KEY = "endpoint_name"
LOCK_OWNER_ATTRIBUTE = "owner"
LOCK_ACQUIRED_AT_ATTRIBUTE = "acquired_at"


class DeploymentLock(Construct):
    """The lock table, encrypted with the pipeline's key."""

    def __init__(self, scope: Construct, construct_id: str, *, encryption_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=LOCK_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            # An item lives only while a deployment is in progress; the deployments themselves
            # are recorded in the Model Registry and the execution history.
            removal_policy=RemovalPolicy.DESTROY,
        )
