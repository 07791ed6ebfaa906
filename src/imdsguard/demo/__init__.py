"""``imdsguard demo``: scan a sample estate in an embedded emulator, via the real scan path."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from imdsguard.options import AwsOptions, ScopeOptions

if TYPE_CHECKING:
    from imdsguard.aws.session import SessionFactory

ScanCommand = Callable[[argparse.Namespace, AwsOptions, ScopeOptions], int]


def run_demo(args: argparse.Namespace, scan_command: ScanCommand) -> int:
    """Seed the sample estate, or with ``--accounts N`` an organization of N accounts, and
    scan it with ``scan_command`` as ``--organization --role-name`` would."""
    from imdsguard.aws.session import SessionFactory
    from imdsguard.demo.fleet import DEMO_REGIONS, DEMO_ROLE, seed_estate
    from imdsguard.demo.server import emulator

    size: int | None = getattr(args, "org_accounts", None)
    with emulator() as url:
        aws = AwsOptions(endpoint_url=url)
        factory = SessionFactory(endpoint_url=url)
        if size is None:
            regions: tuple[str, ...] = DEMO_REGIONS
            accounts = seed_estate(factory)
            seeded = f"seeded accounts {', '.join(accounts)}"
        else:
            regions, seeded = _seed_organization(factory, size, quiet=args.quiet)
        command = "plan --container-hop-limit" if getattr(args, "plan", False) else "scan"
        print(
            f"imdsguard demo: emulator at {url}; {seeded} in {', '.join(regions)}.\n"
            f"Equivalent real command: imdsguard {command} --organization "
            f"--role-name {DEMO_ROLE} --regions {','.join(regions)}",
            file=sys.stderr,
        )
        scopes = ScopeOptions(regions=regions, organization=True, role_name=DEMO_ROLE)
        return scan_command(args, aws, scopes)


def _seed_organization(
    factory: SessionFactory, size: int, quiet: bool
) -> tuple[tuple[str, ...], str]:
    """The organization of ``size`` accounts, behind a progress bar over its accounts."""
    from imdsguard.demo.org import ORG_REGIONS, seed_organization
    from imdsguard.progress import progress_sink

    with progress_sink(enabled=not quiet, label="seeding accounts") as progress:
        accounts = seed_organization(factory, size, progress=progress)
    return ORG_REGIONS, f"seeded an organization of {len(accounts)} accounts"
