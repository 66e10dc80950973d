"""The `mlops` command: the pipeline's operator CLI and its local cloud."""
