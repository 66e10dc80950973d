"""Start pipeline: start the training state machine once per EventBridge event."""
