"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench NAME [options]``."""

from __future__ import annotations

import importlib
import sys

BENCHES = ("scan", "remediation", "parse", "memory", "org", "dask")
# Run only when named: peers installs other tools into throwaway virtualenvs.
OPT_IN = ("peers",)


def main(argv: list[str]) -> int:
    if argv and argv[0] in BENCHES + OPT_IN:
        return int(importlib.import_module(f"bench.{argv[0]}").main(argv[1:]))
    if argv:
        print(f"unknown benchmark {argv[0]!r}; choose from {', '.join(BENCHES + OPT_IN)}")
        return 2
    for name in BENCHES:
        code = int(importlib.import_module(f"bench.{name}").main([]))
        if code:
            return code
    return 0


sys.exit(main(sys.argv[1:]))
