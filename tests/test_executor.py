"""--executor and --scheduler without a cluster: the default, and the usage errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

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
        ("dask", "http://user:secret@10.0.0.5:8786", r"bad --scheduler 'http://\*\*\*@10"),
    ],
)
def test_bad_scheduler_options_are_usage_errors(
    executor: str, scheduler: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        ExecutorOptions(executor, scheduler)  # type: ignore[arg-type]


def test_a_staged_rollout_on_dask_is_refused_before_anything_is_planned(
    cli: Callable[..., CliResult],
) -> None:
    pytest.importorskip("distributed", reason="needs the dask extra (distributed)")
    result = cli("apply", "--yes", "--waves", "1%,100%", "--executor", "dask")
    assert result.code == 2
    assert result.err.splitlines() == [
        "imdsguard: error: --executor dask does not run a staged rollout (--waves, "
        "--wave-by); run it with --executor local"
    ]
