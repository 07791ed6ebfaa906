"""AMI ImdsSupport=v2.0 is irreversible: only with --amis, and only once confirmed as such."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from imdsguard.aws.session import SessionFactory
from tests.conftest import CliResult, own
from tests.faultproxy import FaultProxy, ProxyRequest, answer_dry_runs
from tests.test_remediation_launch_e2e import images

REGION = "eu-west-1"


class _Terminal(io.StringIO):
    """Stands in for a terminal on stdin, with the operator's answer already typed."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flags", "typed", "expected"),
    [
        ((), None, None),  # --amis but not confirmed: not even --yes does it
        (("--yes-irreversible",), None, "v2.0"),
        ((), "y\n", None),  # only a typed "yes" confirms the irreversible change
        ((), "yes\n", "v2.0"),
    ],
)
def test_amis_change_only_when_the_irreversibility_is_confirmed(
    *,
    factory: SessionFactory,
    moto_url: str,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    flags: tuple[str, ...],
    typed: str | None,
    expected: str | None,
) -> None:
    factory.ec2(own(factory), REGION).register_image(Name="golden-2019")
    if typed is not None:
        monkeypatch.setattr("sys.stdin", _Terminal(typed))
    result = cli(
        "apply",
        "--yes",
        "--amis",
        *flags,
        "--endpoint-url",
        moto_url,
        "--regions",
        REGION,
        "--resources",
        "amis",
        "--journal",
        str(tmp_path / "j.jsonl"),
    )
    assert images(factory.ec2(own(factory), REGION)) == {"golden-2019": expected}
    if typed is not None:
        assert "This is IRREVERSIBLE" in result.out
    if expected is None:
        assert result.code == 1
        assert "needs --yes-irreversible" in result.err
        assert "irreversible" in result.out  # listed as held
    else:
        assert result.code == 0, result.out + result.err


def test_amis_are_not_planned_without_the_flag_and_rollback_leaves_them(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    factory.ec2(own(factory), REGION).register_image(Name="golden-2019")
    common = ("--endpoint-url", moto_url, "--regions", REGION, "--resources", "amis")
    lenient = cli("plan", *common, "--output", "-")
    assert lenient.code == 0  # informational by default: nothing to change or hold
    assert lenient.json()["changes"] == lenient.json()["held"] == []
    strict = cli("plan", *common, "--strict-amis", "--output", "-")
    assert [(h["reason"], h["detail"]["override"]) for h in strict.json()["held"]] == [
        ("irreversible", "--amis")
    ]
    journal = tmp_path / "j.jsonl"
    applied = cli(
        "apply", "--yes", "--amis", "--yes-irreversible", *common, "--journal", str(journal)
    )
    assert applied.code == 0
    rolled = cli("rollback", str(journal), "--endpoint-url", moto_url)
    assert rolled.code == 0
    assert "AMIs: 1 had ImdsSupport set to v2.0; AWS cannot undo that" in rolled.out
    assert images(factory.ec2(own(factory), REGION)) == {"golden-2019": "v2.0"}


def test_permission_probe_never_sends_imds_support(
    factory: SessionFactory, proxy: FaultProxy, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    factory.ec2(own(factory), REGION).register_image(Name="golden-2019", Description="gold")
    probes: list[ProxyRequest] = []

    def record(req: ProxyRequest) -> None:
        if req.param("DryRun") == "true":
            probes.append(req)

    proxy.rules += [record, answer_dry_runs()]
    result = cli(
        "apply",
        "--yes",
        "--amis",
        "--yes-irreversible",
        "--check-permissions",
        "--endpoint-url",
        proxy.url,
        "--regions",
        REGION,
        "--resources",
        "amis",
        "--journal",
        str(tmp_path / "j.jsonl"),
    )
    assert result.code == 0, result.out + result.err
    [probe] = probes  # answered by the proxy; an emulator would have executed it
    assert (probe.action, probe.param("ImdsSupport.Value")) == ("ModifyImageAttribute", None)
    assert probe.param("Description.Value") == "gold"  # re-sets what is there
    writes = [r for r in proxy.forwarded if r.action == "ModifyImageAttribute"]
    assert [w.param("ImdsSupport.Value") for w in writes] == ["v2.0"]  # the one real write
    assert images(factory.ec2(own(factory), REGION)) == {"golden-2019": "v2.0"}


def test_resume_reports_applied_amis_and_asks_only_for_unfinished_ones(
    factory: SessionFactory, moto_url: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    ec2 = factory.ec2(own(factory), REGION)
    ec2.register_image(Name="golden-2019")
    journal = tmp_path / "j.jsonl"
    common = ("--endpoint-url", moto_url, "--regions", REGION, "--resources", "amis")
    first = cli(
        "apply", "--yes", "--amis", "--yes-irreversible", *common, "--journal", str(journal)
    )
    assert first.code == 0, first.out + first.err
    # Resumed without --yes-irreversible: the AMI already has its final outcome.
    resumed = cli("apply", "--resume", str(journal), "--endpoint-url", moto_url)
    assert resumed.code == 0, resumed.out + resumed.err
    assert "needs --yes-irreversible" not in resumed.err
    assert "Applied: 1 applied" in resumed.out
