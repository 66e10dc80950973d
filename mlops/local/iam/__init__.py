"""IAM in the local cloud: every AWS call is made as the principal that makes it in AWS and is
evaluated against the synthesized stack's identity and resource policies by
@cloud-copilot/iam-simulate, as AWS would evaluate it."""
