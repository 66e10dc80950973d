"""The training state machine: validate -> train -> evaluate -> register -> deploy, or, when
a person approves a version in the Model Registry, prepare deployment -> deploy.

workflow.py assembles the flow from one module per phase (validation, training, lock,
decision, approval, deployment, failure_path) out of the kinds of state in states.py; the
role's grants and their cdk-nag acknowledgements are in permissions.py.

State names, payloads and result paths are a contract with the Lambda handlers
(functions/common/contracts.py), the local runtime and the CLI; see the state document
below. SageMaker is called through `aws-sdk` integrations and waited on with
Describe -> Choice -> Wait loops (no `.sync`), so the same definition runs in the cloud and
in the local interpreter.

The champion/challenger decision and the deployment are one critical section per endpoint,
guarded by the deployment lock (lock.py).

State document (JSONPath): the event that started the execution (S3 "Object Created", or
"SageMaker Model Package State Change" with source aws.sagemaker), plus by result path
`$.validation_job` (Plan validation job's ValidationJobPlan), `$.processing` (the validation
job's status), `$.validation`, `$.training`, `$.deployment_lock` (the lock item as read on a
conflict and its owner's status, or why a release on the failure path did not happen),
`$.evaluation`, `$.registration` (Register version's or Prepare deployment's result, the same
shape), `$.existing_endpoints`, `$.endpoint`, `$.error` (Catch) and `$.result` ({"outcome",
"reason"}, set right before each successful end).
"""

from infra.constructs.training_workflow.workflow import TrainingWorkflow, WorkflowFunctions

__all__ = ["TrainingWorkflow", "WorkflowFunctions"]
