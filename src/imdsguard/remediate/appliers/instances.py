"""The EC2 instance applier: DescribeInstances to re-read, ModifyInstanceMetadataOptions."""

from __future__ import annotations

from collections.abc import Sequence

from imdsguard.aws import instances as ec2
from imdsguard.aws import instances as ec2_modify
from imdsguard.model.kinds import INSTANCES
from imdsguard.model.scan import Instance, MetadataOptions
from imdsguard.remediate.appliers import Applier, Observed, ScopeClients, register

# moto (and AWS for about an hour) keep terminated instances visible, and moto accepts a
# modify on them (docs/aws-behaviour.md#the-emulator): a terminated instance is gone, never a
# change target.
GONE_STATES = frozenset({"terminated", "shutting-down"})


def _observed(inst: Instance | None) -> Observed:
    if inst is None:
        return Observed(None, "InvalidInstanceID.NotFound")
    if inst.instance_state in GONE_STATES:
        return Observed(None, f"instance {inst.instance_state}")
    return Observed(inst.metadata)


def read(clients: ScopeClients, instance_id: str) -> Observed:
    return _observed(ec2.get_instance(clients.ec2, instance_id))


def read_many(clients: ScopeClients, instance_ids: Sequence[str]) -> dict[str, Observed]:
    found = ec2_modify.get_instances_by_id(clients.ec2, instance_ids)
    return {iid: _observed(found.get(iid)) for iid in instance_ids}


def write(clients: ScopeClients, instance_id: str, options: MetadataOptions) -> None:
    ec2_modify.modify_metadata_options(clients.ec2, instance_id, options)


def dry_run(clients: ScopeClients, instance_id: str, options: MetadataOptions) -> None:
    ec2_modify.check_modify_permission(clients.ec2, instance_id, options)


register(INSTANCES.plan_kind, Applier(read=read, read_many=read_many, write=write, dry_run=dry_run))
