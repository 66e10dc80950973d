"""Training entry point and serving code for the SageMaker scikit-learn container."""
