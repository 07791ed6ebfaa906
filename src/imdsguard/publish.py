"""Send a scan's ASFF findings to Security Hub: each account's own findings, to each Region."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from imdsguard.aws.securityhub import import_findings
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.collect.accounts import account_access
from imdsguard.errors import AwsError
from imdsguard.model.scan import ScanResult
from imdsguard.options import ScopeOptions
from imdsguard.report import asff


@dataclass(frozen=True, slots=True)
class Publication:
    """What an import achieved: findings sent, those Security Hub took, one line per failure."""

    sent: int
    imported: int
    problems: tuple[str, ...]


def publish(factory: SessionFactory, result: ScanResult, scopes: ScopeOptions) -> Publication:
    """Import every finding (scope errors included)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for doc in asff.findings(result, home_region=factory.default_region()):
        groups[(str(doc["AwsAccountId"]), str(doc["Region"]))].append(doc)
    problems: list[str] = []
    imported = 0
    entered: dict[str, AccountAccess] = {}
    for (account, region), docs in sorted(groups.items()):
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
            problems.append(f"{account} {region}: {len(docs)} finding(s) not imported: {exc}")
            continue
        imported += len(docs) - len(refused)
        problems += [f"{account} {region}: refused {line}" for line in refused]
    sent = sum(len(docs) for docs in groups.values())
    return Publication(sent, imported, tuple(problems))
