"""``imdsguard demo``: scan a sample estate in an embedded emulator, via the real scan path."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from imdsguard.options import AwsOptions, ScopeOptions

ScanCommand = Callable[[argparse.Namespace, AwsOptions, ScopeOptions], int]


def run_demo(args: argparse.Namespace, scan_command: ScanCommand) -> int:
    from imdsguard.aws.session import SessionFactory
    from imdsguard.demo.fleet import DEMO_REGIONS, DEMO_ROLE, seed_estate
    from imdsguard.demo.server import emulator

    with emulator() as url:
        aws = AwsOptions(endpoint_url=url)
        accounts = seed_estate(SessionFactory(endpoint_url=url))
        command = "plan --container-hop-limit" if getattr(args, "plan", False) else "scan"
        print(
            f"imdsguard demo: emulator at {url}; seeded accounts {', '.join(accounts)} "
            f"in {', '.join(DEMO_REGIONS)}.\n"
            f"Equivalent real command: imdsguard {command} --organization "
            f"--role-name {DEMO_ROLE} --regions {','.join(DEMO_REGIONS)}",
            file=sys.stderr,
        )
        scopes = ScopeOptions(regions=DEMO_REGIONS, organization=True, role_name=DEMO_ROLE)
        return scan_command(args, aws, scopes)
