"""Serve the demo's emulator (moto + imdsguard's extensions) until killed; prints its URL."""

from __future__ import annotations

import threading

from imdsguard.demo.server import emulator


def main() -> None:
    with emulator() as url:
        print(url, flush=True)
        threading.Event().wait()  # until the benchmark terminates this process


if __name__ == "__main__":
    main()
