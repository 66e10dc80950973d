"""Training entry point and serving code for the SageMaker XGBoost container."""
