"""The pipeline stack: composes one construct per pipeline stage and exports what the
CLI and the local runtime read. What watches the real-time endpoint (its alarms, the alarm
responder, the drift and quality monitors, the endpoint's outputs) exists only with an endpoint:
not under deployment.mode batch_only.

Stack name: f"{config.project}-pipeline" (see `infra.outputs.stack_name`), so two projects can live in
one account and region. The stack is environment-agnostic: the region-dependent values
(the SageMaker image, the managed layers) resolve at deploy time.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnOutput, CfnRule, CfnRuleAssertion, Fn, Stack, Token, aws_iam as iam, aws_lambda as lambda_
from constructs import Construct

from functions.common.config import PipelineConfig
from infra import regions, runtime_manifest
from infra.assets import StagedAssets
from infra.outputs import (
    OUTPUT_DATA_BUCKET,
    OUTPUT_ARTIFACTS_BUCKET,
    OUTPUT_STATE_MACHINE,
    OUTPUT_TOPIC,
    OUTPUT_ENDPOINT,
    OUTPUT_MODEL_PACKAGE_GROUP,
    OUTPUT_KEY,
    OUTPUT_MODEL_ROLE,
    OUTPUT_IDEMPOTENCY_TABLE,
    OUTPUT_SOURCE_BUNDLE,
    OUTPUT_ALARM_RESPONDER,
)
from infra.constructs.alarm_response import AlarmResponse
from infra.constructs.batch_scoring import BatchScoring
from infra.constructs.dashboard import EndpointPanels, PipelineDashboard
from infra.constructs.data_store import DataStore
from infra.constructs.deployment_lock import DeploymentLock
from infra.constructs.deployment_preparation import DeploymentPreparationStage
from infra.constructs.drift_monitoring import DriftMonitoring
from infra.constructs.evaluation import EvaluationStage
from infra.constructs.lambda_factory import LambdaFactory
from infra.constructs.monitoring import Monitoring, alarm_arn, alarm_name, rollback_alarm_names, routed_alarm_names
from infra.constructs.notifications import Notifications
from infra.constructs.quality_monitoring import QualityMonitoring
from infra.constructs.registry import RegistryStage, stack_scoped_group_name
from infra.constructs.training import VALIDATION_FRAMEWORK, TrainingResources, framework_image_uris
from infra.constructs.training_workflow import TrainingWorkflow, WorkflowFunctions
from infra.constructs.validation import ValidationStage
from infra.constructs.workflow_triggers import (
    WorkflowTriggers,
    approval_event_pattern,
    batch_upload_event_pattern,
    upload_event_pattern,
)

STATE_MACHINE_INVOKER = "the training state machine"


@dataclass(frozen=True)
class EndpointWatch:
    """What watching the real-time endpoint adds to the stack's dashboard and outputs."""

    alarm_names: list[str]  # the monitors' alarms; the endpoint's own join Monitoring.alarm_names
    panels: EndpointPanels
    outputs: dict[str, str]


SUPPORTED_REGION_RULE_ID = "SupportedRegion"


class PipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, assets: StagedAssets, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        training_config = config.training
        _require_manifest_image(training_config.framework, training_config.framework_version)
        self._require_supported_region(training_config.framework, training_config.framework_version)
        project = config.project
        endpoint_name = config.deployment.endpoint_name
        group = stack_scoped_group_name(config.model_package_group)

        store = DataStore(self, "DataStore", project=project)
        notifications = Notifications(self, "Notifications", project=project, encryption_key=store.key)
        factory = LambdaFactory(
            self,
            "Functions",
            code=lambda_.Code.from_asset(str(assets.lambda_code_dir)),
            encryption_key=store.key,
            common_environment={"POWERTOOLS_METRICS_NAMESPACE": project},
        )
        training = TrainingResources(
            self,
            "Training",
            framework=training_config.framework,
            framework_version=training_config.framework_version,
            validation_framework_version=_manifest_version(VALIDATION_FRAMEWORK),
            training_bundle_file=assets.training_bundle_file,
            entry_point=assets.training_entry_point,
            project=project,
            endpoint_name=endpoint_name,
            data_bucket=store.data_bucket,
            artifacts_bucket=store.artifacts_bucket,
            encryption_key=store.key,
        )
        # Without an endpoint (deployment.mode batch_only) nothing is deployed blue/green, so no
        # update watches rollback alarms, and nothing watches live traffic.
        watches_endpoint = config.deployment.mode == "realtime"
        rollback_alarms = rollback_alarm_names(project) if watches_endpoint else []
        if watches_endpoint:
            training.allow_watching_rollback_alarms(rollback_alarms)
        validation = ValidationStage(
            self,
            "Validation",
            factory=factory,
            data_bucket=store.data_bucket,
            encryption_key=store.key,
            model_package_group=group,
            invoker=STATE_MACHINE_INVOKER,
            job_bundle_file=assets.validation_job_bundle_file,
            job_image_uri=training.validation_image_uri,
            project=project,
            endpoint_name=endpoint_name,
        )
        evaluation = EvaluationStage(
            self,
            "Evaluation",
            factory=factory,
            project=project,
            data_bucket=store.data_bucket,
            artifacts_bucket=store.artifacts_bucket,
            encryption_key=store.key,
            model_package_group=group,
            invoker=STATE_MACHINE_INVOKER,
        )
        registry = RegistryStage(
            self,
            "Registry",
            factory=factory,
            project=project,
            data_bucket=store.data_bucket,
            encryption_key=store.key,
            model_package_group=group,
            inference_image_uri=training.inference_image_uri,
            code_version=training.code_version,
            invoker=STATE_MACHINE_INVOKER,
        )
        deployment_preparation = DeploymentPreparationStage(
            self,
            "DeploymentPreparation",
            factory=factory,
            project=project,
            model_package_group=group,
            endpoint_name=endpoint_name,
            batch_only=not watches_endpoint,
            invoker=STATE_MACHINE_INVOKER,
        )
        deployment_lock = DeploymentLock(self, "DeploymentLock", encryption_key=store.key)
        workflow = TrainingWorkflow(
            self,
            "TrainingWorkflow",
            config=config,
            functions=WorkflowFunctions(
                validate=validation.function.function,
                evaluate=evaluation.function.function,
                register=registry.function.function,
                prepare_deployment=deployment_preparation.function.function,
            ),
            training=training,
            validation_job=validation.job,
            data_bucket=store.data_bucket,
            artifacts_bucket=store.artifacts_bucket,
            encryption_key=store.key,
            topic=notifications.topic,
            rollback_alarm_names=rollback_alarms,
            deployment_lock=deployment_lock.table,
        )
        triggers = WorkflowTriggers(
            self,
            "WorkflowTriggers",
            factory=factory,
            state_machine=workflow.state_machine,
            dead_letter_queue=notifications.dead_letter_queue,
            encryption_key=store.key,
            data_bucket=store.data_bucket,
            model_package_group=group,
        )
        triggers.add_rule(
            "UploadRule",
            description="Starts the training state machine when data lands under incoming/",
            event_pattern=upload_event_pattern(store.data_bucket),
        )
        triggers.add_rule(
            "BatchUploadRule",
            description="Starts the state machine's batch branch when a file to score lands under batch/",
            event_pattern=batch_upload_event_pattern(store.data_bucket),
        )
        BatchScoring(
            self,
            "BatchScoring",
            project=project,
            validate_role=validation.function.role,
            model_role=training.model_role,
            data_bucket=store.data_bucket,
        )
        triggers.add_rule(
            "ApprovalRule",
            description=f"Starts the training state machine to deploy a version approved in {group}",
            event_pattern=approval_event_pattern(group),
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            project=project,
            monitoring=config.monitoring,
            state_machine=workflow.state_machine,
            topic=notifications.topic,
        )
        watch = (
            self._watch_endpoint(
                config,
                group=group,
                factory=factory,
                store=store,
                notifications=notifications,
                workflow=workflow,
                model_role=training.model_role,
                monitoring=monitoring,
            )
            if watches_endpoint
            else None
        )
        PipelineDashboard(
            self,
            "Dashboard",
            project=project,
            model_package_group=group,
            state_machine=workflow.state_machine,
            alarm_names=[
                *monitoring.alarm_names,
                notifications.dead_letters_alarm_name,
                *(watch.alarm_names if watch else []),
            ],
            endpoint=watch.panels if watch else None,
        )

        outputs = {
            OUTPUT_DATA_BUCKET: store.data_bucket.bucket_name,
            OUTPUT_ARTIFACTS_BUCKET: store.artifacts_bucket.bucket_name,
            OUTPUT_STATE_MACHINE: workflow.state_machine.state_machine_arn,
            OUTPUT_TOPIC: notifications.topic.topic_arn,
            OUTPUT_MODEL_PACKAGE_GROUP: group,
            OUTPUT_KEY: store.key.key_arn,
            OUTPUT_MODEL_ROLE: training.model_role.role_arn,
            OUTPUT_SOURCE_BUNDLE: training.source_bundle_uri,
            **(watch.outputs if watch else {}),
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)

    def _watch_endpoint(
        self,
        config: PipelineConfig,
        *,
        group: str,
        factory: LambdaFactory,
        store: DataStore,
        notifications: Notifications,
        workflow: TrainingWorkflow,
        model_role: iam.IRole,
        monitoring: Monitoring,
    ) -> EndpointWatch:
        """The alarm responder, the endpoint's alarms and the drift and quality monitors on its
        captured traffic. Made in the stack's own scope, so their logical IDs are those they
        always had."""
        project, endpoint_name = config.project, config.deployment.endpoint_name
        responder = AlarmResponse(
            self,
            "AlarmResponse",
            factory=factory,
            project=project,
            data_bucket=store.data_bucket,
            encryption_key=store.key,
            topic=notifications.topic,
            dead_letter_queue=notifications.dead_letter_queue,
            model_package_group=group,
            endpoint_name=endpoint_name,
            state_machine_arn=workflow.state_machine.state_machine_arn,
            model_role=model_role,
            alarm_name_pattern=alarm_name(project, "*"),
            alarm_arns=[alarm_arn(self, name) for name in routed_alarm_names(project)],
        )
        monitoring.watch_endpoint(
            endpoint_name, responder=responder.function.function, dead_letter_queue=notifications.dead_letter_queue
        )
        drift = DriftMonitoring(
            self,
            "DriftMonitoring",
            factory=factory,
            config=config,
            model_package_group=group,
            data_bucket=store.data_bucket,
            encryption_key=store.key,
            topic=notifications.topic,
            failure_queue=notifications.dead_letter_queue,
        )
        quality = QualityMonitoring(
            self,
            "QualityMonitoring",
            factory=factory,
            config=config,
            data_bucket=store.data_bucket,
            encryption_key=store.key,
            topic=notifications.topic,
            failure_queue=notifications.dead_letter_queue,
        )
        return EndpointWatch(
            alarm_names=[drift.alarm_name, *([quality.alarm_name] if quality.alarm is not None else [])],
            panels=EndpointPanels(
                endpoint_name=endpoint_name,
                drift_metrics=[drift.drifted_feature_fraction, drift.max_feature_psi],
                quality_metric=quality.model_quality,
            ),
            outputs={
                OUTPUT_ENDPOINT: endpoint_name,
                OUTPUT_IDEMPOTENCY_TABLE: responder.idempotency_table.table_name,
                OUTPUT_ALARM_RESPONDER: responder.function.function.function_arn,
            },
        )

    def _require_supported_region(self, framework: str, framework_version: str) -> None:
        """A region that lacks a layer, the Model Registry or an image fails synthesis when the
        stack names its region, and fails deployment with the same message when it does not."""
        image_regions = frozenset(framework_image_uris(VALIDATION_FRAMEWORK, _manifest_version(VALIDATION_FRAMEWORK)))
        other_images = {}
        if framework != VALIDATION_FRAMEWORK:
            other_images[_IMAGE_TITLES[framework]] = frozenset(framework_image_uris(framework, framework_version))
        if not Token.is_unresolved(self.region):
            regions.require_supported(self.region, image_regions, other_images)
            return
        supported = regions.supported_regions(image_regions, other_images)
        CfnRule(
            self,
            SUPPORTED_REGION_RULE_ID,
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(supported, Aws.REGION),
                    assert_description=(
                        "The pipeline deploys only to regions that offer the AWS SDK for pandas and "
                        "Powertools layers, the SageMaker Model Registry and the framework images: "
                        + ", ".join(supported)
                    ),
                )
            ],
        )


class UnknownImageError(ValueError):
    """The config names a framework image the runtime manifest does not describe."""


_IMAGE_TITLES = {"sklearn": "scikit-learn", "xgboost": "XGBoost"}


def _manifest_version(framework: str) -> str:
    return runtime_manifest.framework_image(framework)["framework_version"]


def _require_manifest_image(framework: str, framework_version: str) -> None:
    """Only the image the runtime manifest describes is the one the local cloud runs and the tests
    cover; another version would deploy code nothing here has run under its packages."""
    described = _manifest_version(framework)
    if framework_version != described:
        raise UnknownImageError(
            f"training.framework_version {framework_version!r} is not the {_IMAGE_TITLES[framework]} image the "
            f"runtime manifest describes ({described!r}, infra/runtime_manifest.toml)"
        )
