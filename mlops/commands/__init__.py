"""One module per `mlops` command."""
