"""The deployed pipeline, run on a laptop: the synthesized template in moto, with small stand-ins
for the AWS APIs moto cannot run (Lambda code, training jobs, endpoint serving and updates,
EventBridge targets, alarm state change events)."""
