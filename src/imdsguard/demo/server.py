"""An in-process moto server on 127.0.0.1, with credentials that cannot reach real AWS."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from imdsguard.errors import UsageError

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Keep a user's real profile, SSO cache or config file out of the demo entirely.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    # Never let the credential chain probe the instance metadata address off-box.
    "AWS_EC2_METADATA_DISABLED": "true",
    # moto loads ~1,200 sample AMIs per Region otherwise: slow, and noise in the demo.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


def isolate_environment() -> None:
    """Point this process at fake credentials only (the demo must never touch AWS)."""
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)
    os.environ.update(FAKE_ENV)


@contextmanager
def emulator() -> Iterator[str]:
    """Start moto's server on a free loopback port; yield its URL; stop it after."""
    isolate_environment()
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise UsageError("the demo needs the emulator: pip install 'imdsguard[demo]'") from exc
    from imdsguard.demo import moto_ext

    moto_ext.install()  # account IMDS defaults and AMI ImdsSupport, which moto lacks
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # The default binds 0.0.0.0; the emulator must only ever listen on loopback.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
