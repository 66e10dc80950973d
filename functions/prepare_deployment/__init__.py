"""Prepare deployment: turn a person's approval in the Model Registry into a deployment plan."""
