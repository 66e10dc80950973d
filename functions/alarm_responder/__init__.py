"""Alarm responder: turns a CloudWatch alarm state change into a recorded decision (roll back,
retrain, notify or nothing), carries it out, and writes an audit record and an SNS message."""
