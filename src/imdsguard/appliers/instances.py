"""The EC2 instance applier: DescribeInstances to re-read, ModifyInstanceMetadataOptions."""

from __future__ import annotations

from imdsguard.appliers import Applier, Observed, ScopeClients, register
from imdsguard.aws import ec2, ec2_modify
from imdsguard.changes import INSTANCE_KIND
from imdsguard.model import MetadataOptions

# moto (and AWS for about an hour) keep terminated instances visible, and moto accepts a
# modify on them (DOMAIN.md §6): a terminated instance is gone, never a change target.
GONE_STATES = frozenset({"terminated", "shutting-down"})


def read(clients: ScopeClients, instance_id: str) -> Observed:
    inst = ec2.get_instance(clients.ec2, instance_id)
    if inst is None:
        return Observed(None, "InvalidInstanceID.NotFound")
    if inst.instance_state in GONE_STATES:
        return Observed(None, f"instance {inst.instance_state}")
    return Observed(inst.metadata)


def write(clients: ScopeClients, instance_id: str, options: MetadataOptions) -> None:
    ec2_modify.modify_metadata_options(clients.ec2, instance_id, options)


def dry_run(clients: ScopeClients, instance_id: str, options: MetadataOptions) -> None:
    ec2_modify.check_modify_permission(clients.ec2, instance_id, options)


register(INSTANCE_KIND, Applier(read=read, write=write, dry_run=dry_run))
