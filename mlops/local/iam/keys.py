"""Which KMS key encrypts a topic or a queue of the local cloud, as an ARN."""

from __future__ import annotations

from mlops.local import moto_access


def topic_key(topic_arn: str) -> str | None:
    from moto.sns.models import sns_backends

    topic = sns_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION].topics.get(topic_arn)
    return key_arn(getattr(topic, "kms_master_key_id", None))


def queue_key(queue_arn: str) -> str | None:
    from moto.sqs.models import sqs_backends

    name = queue_arn.rsplit(":", 1)[-1]
    queue = sqs_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION].get_queue(name)
    return key_arn(getattr(queue, "kms_master_key_id", None))


def key_arn(key_id: str | None) -> str | None:
    if not key_id:
        return None
    from moto.kms.models import kms_backends

    return kms_backends[moto_access.LOCAL_ACCOUNT_ID][moto_access.LOCAL_REGION].describe_key(key_id).arn
