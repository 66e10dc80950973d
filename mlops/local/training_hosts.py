"""The instances of a local training job: one process per instance, each with its own /opt/ml
tree, its SM_CURRENT_HOST and the job's SM_HOSTS, and its share of a ShardedByS3Key channel.

SageMaker names the instances algo-1 ... algo-N and they resolve to each other inside the job's
network. Here the instances are processes of one machine: a job of several instances names its
hosts by loopback addresses of their own (127.<a>.<b>.<n>, a random <a>.<b> per job), which
resolve as any host name does and on which a trainer's tracker can bind its fixed port (XGBoost's
9099) without colliding with another job's. A one-instance job keeps the name algo-1.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SINGLE_HOST = "algo-1"
HOSTS_FOLDER = "hosts"
# 127.0.0.0/8 is loopback on Linux; the first octet after 127 starts at 1 so that no host is
# 127.0.0.1, where other local services listen.
LOOPBACK_OCTET_RANGE = (1, 254)
_random = random.SystemRandom()
# The instances of a job share this machine's cores. OpenMP's threads spin while they wait at a
# barrier (its default active wait policy), which on a shared machine takes the cores another
# instance needs to answer an allreduce: two instances took 34 s instead of 0.5 s for 50 rounds
# on 2 cores. A passive wait changes no result; an instance in SageMaker has its cores to itself.
CO_LOCATED_HOST_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def job_hosts(instance_count: int) -> list[str]:
    if instance_count <= 1:
        return [SINGLE_HOST]
    first, second = (_random.randint(*LOOPBACK_OCTET_RANGE) for _ in range(2))
    return [f"127.{first}.{second}.{position}" for position in range(1, instance_count + 1)]


def host_environment(hosts: list[str]) -> dict[str, str]:
    """What each process of a job of several instances runs with besides the SM_* variables."""
    return dict(CO_LOCATED_HOST_ENVIRONMENT) if len(hosts) > 1 else {}


def host_folders(job_root: Path, hosts: list[str]) -> dict[str, Path]:
    """Each host's stand-in for /opt/ml; a one-instance job's is the job's folder itself."""
    if len(hosts) == 1:
        return {hosts[0]: job_root}
    folders = {host: job_root / HOSTS_FOLDER / f"host-{position}" for position, host in enumerate(hosts, start=1)}
    for folder in folders.values():
        folder.mkdir(parents=True)
    return folders


def shard_of(objects: list[tuple[str, str, str]], position: int, host_count: int) -> list[tuple[str, str, str]]:
    """The objects of a ShardedByS3Key channel one host receives: SageMaker gives each of n
    instances "approximately 1/n of the number of S3 objects"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html); here the
    objects sorted by key, dealt out in turn. A host may receive none when there are fewer
    objects than hosts, as in SageMaker."""
    ordered = sorted(objects, key=lambda item: (item[0], item[1]))
    return ordered[position::host_count]


def run_hosts(
    hosts: list[str], run: Callable[[str], subprocess.CompletedProcess[str]]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """`run` for every host at once (a distributed trainer's hosts wait for each other)."""
    if len(hosts) == 1:
        return {hosts[0]: run(hosts[0])}
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        futures = {host: pool.submit(run, host) for host in hosts}
        return {host: future.result() for host, future in futures.items()}
