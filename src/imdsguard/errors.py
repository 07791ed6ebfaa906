"""The package's exception tree: one root, caught only by the CLI."""

import re

# user:password@ in a URL (an --endpoint-url through an authenticating proxy, say).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def redact(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced: never print or store a password."""
    return _USERINFO.sub(r"\1***@", text)


class ImdsGuardError(Exception):
    """Root of every error imdsguard raises on purpose; its text never carries a URL password."""

    exit_code = 2

    def __str__(self) -> str:
        return redact(super().__str__())


class UsageError(ImdsGuardError):
    """Bad input or configuration: the user can fix it and run again (exit code 2)."""


class AwsError(ImdsGuardError):
    """An AWS call failed; ``code`` is the AWS error code or a short class of failure.

    Escaping to the CLI it means nothing could be read, so it exits 3 (incomplete).
    """

    exit_code = 3

    def __init__(self, code: str, message: str, operation: str = "") -> None:
        self.code = code
        self.operation = operation
        where = f" on {operation}" if operation else ""
        super().__init__(f"{code}{where}: {message}")
        self.message = redact(message)


class HistoryError(ImdsGuardError):
    """The scan history database could not be opened, read or written (exit code 2)."""
