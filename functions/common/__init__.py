"""Code shared by the Lambda functions: the pipeline config, payload contracts, S3 layout, errors,
and what more than one function reads or computes (data capture, drift profiles, model metrics,
the serving model, model packages, metric publishing). Function packages import only from here,
never from each other."""
