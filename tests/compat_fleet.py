"""The fleet behind tests/data/*-0.1.0.*: recreated on a fresh moto server for each test.

Moto's ids are random, so the checked-in files are rewritten to the new ids at test time
(``rewrite``); everything else in them is as the 0.1.0 release wrote it.
"""

from __future__ import annotations

from pathlib import Path

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.demo.launch_fleet import create_template
from tests.conftest import own, seed

REGION = "eu-west-1"
DATA = Path(__file__).parent / "data"
GROUPS = (
    Group("alpha", 1, imdsv1_calls=0),
    Group("bravo", 1, imdsv1_calls=0, hop_limit=3),
    Group("charlie", 1, imdsv1_calls=0),
)


def seed_compat_fleet(factory: SessionFactory) -> dict[str, str]:
    """Name -> id: three instances, one launch template; the Region's defaults stay unset."""
    ids = {g.name: seed(factory, REGION, g)[0] for g in GROUPS}
    ids["app-lt"] = create_template(factory.ec2(own(factory), REGION), "app-lt", "optional")
    return ids


def rewrite(text: str, old: dict[str, str], new: dict[str, str]) -> str:
    """``text`` with every id of ``old`` replaced by the id ``new`` has under the same name."""
    for name, old_id in old.items():
        text = text.replace(old_id, new[name])
    return text
