"""Send a scan's ASFF findings to Security Hub: each account's own findings, to each Region."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from imdsguard.aws.securityhub import import_findings
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError
from imdsguard.model.scan import ScanResult, Scope
from imdsguard.options import ScopeOptions
from imdsguard.report import asff


@dataclass(frozen=True, slots=True)
class Publication:
    """What an import achieved: findings sent, those Security Hub took, one line per failure."""

    sent: int
    imported: int
    problems: tuple[str, ...]


def publish(factory: SessionFactory, result: ScanResult, scopes: ScopeOptions) -> Publication:
    """Import every finding (scope errors included), one scope's at a time from the stream."""
    home = factory.default_region()
    errors: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for outcome in result.scope_errors:
        doc = asff.scope_error_asff(result, outcome, home)
        errors[(str(doc["AwsAccountId"]), str(doc["Region"]))].append(doc)
    sizes = {key: sum(counts.values()) for key, counts in result.findings.per_scope().items()}
    problems: list[str] = []
    imported = sent = 0
    entered: dict[str, AccountAccess] = {}
    for account, region in sorted({*sizes, *errors}):
        count = sizes.get((account, region), 0) + len(errors[(account, region)])
        sent += count
        found = result.findings.only(scope=Scope(account, region))
        docs = itertools.chain(
            (asff.finding_asff(result, f) for f in found), errors[(account, region)]
        )
        try:
            if account not in entered:
                # A custom integration may only import findings for the calling account, so
                # each account's findings go in with that account's credentials, as the scan
                # entered it.
                entered[account] = account_access(
                    factory, account, scopes.role_name, scopes.external_id
                )
            client = factory.securityhub(entered[account], region)
            refused = import_findings(client, docs)
        except AwsError as exc:
            problems.append(f"{account} {region}: {count} finding(s) not imported: {exc}")
            continue
        imported += count - len(refused)
        problems += [f"{account} {region}: refused {line}" for line in refused]
    return Publication(sent, imported, tuple(problems))
