"""Credentials never appear in any output: every format, the plan, the journal, the history
database and stderr, with and without --debug.

The keys are recognisable fakes (the shared moto server does not check them), so any copy
of them, whole or in part, is found.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from imdsguard.aws.session import SessionFactory
from imdsguard.demo.fleet import Group
from imdsguard.report import FORMATS
from tests.conftest import CliResult, seed

KEY_ID = "AKIAIMDSGUARDLEAKKEY"
SECRET = "imdsguardFakeSecretKeyThatMustNeverBePrinted0"
TOKEN = "IMDSGUARD/FAKE+SESSION/TOKEN=MustNeverAppearInAnyOutput"
# The distinctive parts too, in case something truncates or encodes a value.
NEEDLES = (KEY_ID, SECRET, TOKEN, SECRET[:16], TOKEN[:20], "MustNever")


def _clean(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    for needle in NEEDLES:
        assert needle.encode() not in data, f"{needle!r} in {where}"


@pytest.mark.parametrize("debug", [(), ("--debug",)], ids=["plain", "debug"])
def test_no_output_carries_a_credential(
    debug: tuple[str, ...],
    *,
    factory: SessionFactory,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliResult],
    tmp_path: Path,
    history_db: Path,
) -> None:
    seed(factory, "us-east-1", Group("app", 1, imdsv1_calls=0))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    common = ("--endpoint-url", moto_url, "--regions", "us-east-1")
    reports = tmp_path / "reports"
    results = [
        cli(*debug, "scan", *common, "--output-dir", str(reports)),
        cli(*debug, "plan", *common, "--output", str(tmp_path / "plan.json")),
        cli(
            *debug,
            "apply",
            str(tmp_path / "plan.json"),
            "--endpoint-url",
            moto_url,
            "--journal",
            str(tmp_path / "run.jsonl"),
        ),
        cli(*debug, "rollback", str(tmp_path / "run.jsonl"), "--endpoint-url", moto_url),
        cli(*debug, "history"),
        # Failures: an unknown account to enter, and a usage error with its traceback.
        cli(*debug, "scan", *common, "--accounts", "111111111111", "--role-name", "Missing"),
        cli(*debug, "scan", "--endpoint-url", moto_url, "--regions", "nowhere-1"),
    ]
    assert results[0].code == 1
    assert results[2].code == 0, results[2].err
    for number, result in enumerate(results):
        _clean(result.out + result.err, f"run {number}")
    written = sorted(reports.iterdir())
    assert len(written) == len(FORMATS)
    for path in [*written, tmp_path / "plan.json", tmp_path / "run.jsonl", history_db]:
        _clean(path.read_bytes(), path.name)
