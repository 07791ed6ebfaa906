"""Security Hub adapter: BatchImportFindings in batches of at most 100 (the API's limit)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from imdsguard.aws.errors import aws_errors
from imdsguard.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_securityhub import SecurityHubClient

# BatchImportFindings accepts 1 to 100 findings per call (botocore model: min 1, max 100).
BATCH_SIZE = 100


def batches(items: Iterable[Any], size: int = BATCH_SIZE) -> Iterator[list[Any]]:
    """Consecutive lists of at most ``size`` items; ``items`` may be a stream."""
    source = iter(items)
    while batch := list(itertools.islice(source, size)):
        yield batch


def import_findings(client: SecurityHubClient, findings: Iterable[dict[str, Any]]) -> list[str]:
    """Import every finding; return one line per finding Security Hub refused.

    A refused finding does not fail the call (FailedCount), so it is reported, not raised.
    A failed call raises AwsError and stops: later batches would fail the same way.
    """
    refused: list[str] = []
    for batch in batches(findings):
        with aws_errors("BatchImportFindings"):
            reply = client.batch_import_findings(Findings=batch)
        failed = reply.get("FailedFindings", [])
        refused += [
            f"{f.get('Id', '?')}: {f.get('ErrorCode', '?')} {f.get('ErrorMessage', '')}".strip()
            for f in failed
        ]
        # Only the reply's own counts say what was imported (the reply rule makes sure
        # they are there); findings they do not account for were not imported.
        success, failed_count = reply["SuccessCount"], reply["FailedCount"]
        if success + failed_count != len(batch) or failed_count != len(failed):
            raise AwsError(
                "IncompleteImport",
                f"BatchImportFindings accounted for {success} imported and {failed_count} "
                f"failed of {len(batch)} findings sent",
                "BatchImportFindings",
            )
    return refused
