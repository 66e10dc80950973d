from infra.constructs.training_workflow.workflow import TrainingWorkflow, WorkflowFunctions

__all__ = ["TrainingWorkflow", "WorkflowFunctions"]
