"""Lambda handlers and SageMaker entry points of the MLOps pipeline."""
