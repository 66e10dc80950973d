"""Code shared by every Lambda function: the pipeline config, payload contracts, S3 layout, errors."""
