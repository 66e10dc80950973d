"""The quality monitor: ground-truth labels joined to captured predictions."""
