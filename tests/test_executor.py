"""--executor and --scheduler without a cluster: the default, and the usage errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from imdsguard.errors import UsageError
from imdsguard.options import ExecutorOptions
from tests.conftest import CliResult


def test_dask_without_the_extra_is_one_line_and_exit_2(
    moto_url: str, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name)
    )
    result = cli("scan", "--endpoint-url", moto_url, "--executor", "dask", "--no-history")
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [
        "imdsguard: error: --executor dask needs Dask distributed, which is not installed: "
        "pip install 'imdsguard[dask]'"
    ]


@pytest.mark.parametrize(
    ("executor", "scheduler", "message"),
    [
        ("local", "tcp://127.0.0.1:8786", "--scheduler needs --executor dask"),
        ("dask", "10.0.0.5:8786", "bad --scheduler '10.0.0.5:8786'"),
        # The scheme matches, but no URL parser can read the host or the port.
        ("dask", "tcp://[::1", r"bad --scheduler 'tcp://\[::1'"),
        ("dask", "tls://10.0.0.5:port", "bad --scheduler 'tls://10.0.0.5:port'"),
        ("dask", "http://user:secret@10.0.0.5:8786", r"bad --scheduler 'http://\*\*\*@10"),
    ],
)
def test_bad_scheduler_options_are_usage_errors(
    executor: str, scheduler: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        ExecutorOptions(executor, scheduler)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "flags",
    # Any rollout flag makes a rollout, not only the ones that cut waves.
    [
        ("--waves", "1%,100%"),
        ("--soak", "10m"),
        ("--halt-on-alarm", "x"),
        ("--poll-interval", "5s"),
    ],
)
def test_a_staged_rollout_on_dask_is_refused_before_anything_is_planned(
    cli: Callable[..., CliResult], flags: tuple[str, str], tmp_path: Path
) -> None:
    pytest.importorskip("distributed", reason="needs the dask extra (distributed)")
    journal = tmp_path / "j.jsonl"
    result = cli("apply", "--yes", *flags, "--executor", "dask", "--journal", str(journal))
    assert result.code == 2
    assert result.err.splitlines() == [
        "imdsguard: error: --executor dask does not run a staged rollout (--waves, "
        "--wave-by, --soak, --poll-interval, --halt-on-alarm, --on-breakage); run it with "
        "--executor local"
    ]
    assert not journal.exists()  # no rollout journal for a later --resume to misread
