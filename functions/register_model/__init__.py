"""Register version: record every candidate in the SageMaker Model Registry with its evidence."""
