"""Read what planning needs beyond the scan: IMDSv1 usage per candidate, and AMI names."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from imdsguard.aws import cloudwatch, images
from imdsguard.aws.session import SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError
from imdsguard.model.remediation import Usage
from imdsguard.model.scan import Instance, ScanResult, Scope
from imdsguard.options import PlanOptions, ScopeOptions
from imdsguard.plan.build import Evidence, is_candidate


def _scope_evidence(
    factory: SessionFactory,
    scope: Scope,
    instances: list[Instance],
    scope_options: ScopeOptions,
    options: PlanOptions,
) -> tuple[dict[str, Usage], dict[str, str], str | None]:
    ids = [i.instance_id for i in instances]
    try:
        access = account_access(
            factory, scope.account_id, scope_options.role_name, scope_options.external_id
        )
        usage = cloudwatch.get_usage(
            factory.cloudwatch(access, scope.region), ids, options.lookback_days
        )
    except AwsError as exc:
        # Unreadable evidence is never "clean": every candidate is held as usage-unknown.
        unknown = Usage("unknown", error=f"metric unreadable: {exc}")
        return dict.fromkeys(ids, unknown), {}, f"evidence: {exc}"
    names: dict[str, str] = {}
    if options.container_hop_limit and options.hop_limit is None:
        image_ids = [i.image_id for i in instances if i.image_id]
        try:
            names = images.get_image_names(factory.ec2(access, scope.region), image_ids)
        except AwsError as exc:
            # Tags still identify container hosts; a missing AMI name only loses one signal.
            return usage, {}, f"AMI names: {exc}"
    return usage, names, None


def gather(
    factory: SessionFactory, scan: ScanResult, scope_options: ScopeOptions, options: PlanOptions
) -> Evidence:
    """Usage for every candidate of ``scan``, scopes in parallel; failures become errors."""
    by_scope: dict[Scope, list[Instance]] = defaultdict(list)
    for finding in scan.findings:
        if is_candidate(finding) and isinstance(finding.resource, Instance):
            by_scope[finding.scope].append(finding.resource)
    usage: dict[tuple[Scope, str], Usage] = {}
    names: dict[str, str] = {}
    errors: list[tuple[Scope, str]] = []
    with ThreadPoolExecutor(max_workers=scope_options.max_workers) as pool:
        futures = {
            scope: pool.submit(_scope_evidence, factory, scope, items, scope_options, options)
            for scope, items in sorted(by_scope.items())
        }
        for scope, future in futures.items():
            scope_usage, scope_names, error = future.result()
            usage.update({(scope, iid): u for iid, u in scope_usage.items()})
            names.update(scope_names)
            if error is not None:
                errors.append((scope, error))
    return Evidence(usage=usage, image_names=names, errors=tuple(errors))
